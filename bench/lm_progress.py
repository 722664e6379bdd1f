"""lm.train throughput with its progress bar drawn against the same run with --quiet.

Both sides are `framework run lm.train` in this process on the same corpus, model and
seed; one draws the progress bar on a terminal console (written to /dev/null, so the
cost is rendering, not a slow terminal), the other runs with --quiet. Throughput is the
trainer's own tokens/s over its flush windows (the first, warm-up, window left out), the
time of every step in between, progress bar updates and renders included. Repetitions
alternate which side goes first; the figure is the median over repetitions of the pair
ratio bar / quiet.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
from pathlib import Path

from common import REPO, command_line, median, parser, report

SHAKESPEARE = REPO.parent / "shared" / "data" / "tinyshakespeare.txt"
MODEL = [
    "--n-layer", "2", "--n-head", "4", "--n-embd", "128", "--block-size", "64",
    "--batch-size", "16", "--dropout", "0", "--warmup-steps", "10", "--eval-batches", "1",
    "--eval-cadence", "1000000", "--sampling-cadence", "0", "--checkpoint-cadence", "1000000",
    "--log-cadence", "10",
]  # fmt: skip


def corpus(folder: Path) -> Path:
    if SHAKESPEARE.is_file():
        return SHAKESPEARE
    from framework_lm.corpus import kjv_text

    path = folder / "corpus.txt"
    path.write_text(kjv_text()[:1_000_000], encoding="utf-8")
    return path


def tokens_per_s(run_dir: Path) -> float:
    """The run's throughput: tokens over time of the flush windows after the first."""
    rates = []
    for line in (run_dir / "events.jsonl").read_text().splitlines():
        event = json.loads(line)
        fields = event["fields"]
        ours = event["event"] == "metrics" and event["step"] == "lm.train"
        rate = fields.get("tokens_per_s") if ours else None
        if rate is not None and (not rates or rates[-1] != rate):  # one figure per window
            rates.append(rate)
    windows = rates[1:] or rates
    return len(windows) / sum(1 / r for r in windows)  # equal tokens per window


def train(root: Path, data: Path, run_id: str, steps: int, *, bar: bool) -> float:
    from framework.builtin import console
    from framework.cli import main
    from rich.console import Console

    with open(os.devnull, "w") as devnull:
        console._console = Console(file=devnull, force_terminal=True, width=160)
        args = ["run", "lm.train", "--artifact-root", str(root), "--run-id", run_id, "--force",
                "--data", str(data), "--max-steps", str(steps), *MODEL]  # fmt: skip
        if not bar:
            args.append("--quiet")
        with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
            main(args)
        console._console = None
    if json.loads((root / run_id / "manifest.json").read_text())["status"] != "completed":
        sys.exit(f"lm.train did not complete; see {root / run_id / 'events.jsonl'}")
    return tokens_per_s(root / run_id)


def main(argv: list[str] | None = None) -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300, help="training steps per run")
    p.add_argument("--repeat", type=int, default=5, help="runs of each side")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--quick", action="store_true", help="a few steps: checks the bench runs")
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.repeat = 20, 1

    import torch

    torch.set_num_threads(args.threads)
    bar_tps, quiet_tps = [], []
    with tempfile.TemporaryDirectory() as tmp:
        root, data = Path(tmp), corpus(Path(tmp))
        train(root, data, "warm-up", min(args.steps, 50), bar=False)
        for i in range(args.repeat):
            order = (True, False) if i % 2 else (False, True)  # alternate who goes first
            for bar in order:
                rate = train(root, data, f"rep{i}-{'bar' if bar else 'quiet'}", args.steps, bar=bar)
                (bar_tps if bar else quiet_tps).append(rate)
            print(f"rep {i + 1}: bar {bar_tps[-1]:,.0f} tokens/s, quiet {quiet_tps[-1]:,.0f}")
    ratio = median([b / q for b, q in zip(bar_tps, quiet_tps, strict=True)])
    cli = ["--steps", str(args.steps), "--repeat", str(args.repeat), "--threads", str(args.threads)]
    return report(
        args,
        name="lm.train throughput with the progress bar drawn vs --quiet (CPU)",
        figure=f"{ratio:.3f}x ({median(bar_tps):,.0f} vs {median(quiet_tps):,.0f} tokens/s)",
        target=">= 0.99x",
        met=ratio >= 0.99 if not args.quick else None,
        command=command_line("lm_progress.py", ["--quick"] if args.quick else cli),
        details={
            "ratio": ratio,
            "bar_tokens_per_s": bar_tps,
            "quiet_tokens_per_s": quiet_tps,
            "steps": args.steps,
        },
    )


if __name__ == "__main__":
    main(sys.argv[1:])
