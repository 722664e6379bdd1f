"""lm.train with its progress bar drawn against the same run with --quiet: what the bar costs.

Two measurements in one process. End to end: `framework run lm.train` on the same corpus,
model and seed, one side drawing the progress bar on a terminal console (written to
/dev/null, so the cost is rendering, not a slow terminal), the other with --quiet;
throughput is the trainer's own tokens/s over its flush windows (the first, warm-up,
window left out); repetitions alternate which side goes first and the ratio is the
median of the pair ratios. On a shared machine that ratio carries the machine's noise,
so the headline is the bar's own cost, timed in isolation in the same process: the CPU
seconds one ``advance()`` takes with the bar live, plus the CPU seconds one render takes
at the bar's renders a second, as a fraction of a second of lm.train at the step rate
measured without the bar.
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


TOKENS_PER_STEP = 16 * 64  # --batch-size x --block-size


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


def bar_cost(steps: int = 20_000, renders: int = 200) -> tuple[float, float]:
    """CPU seconds per ``advance()`` with a live bar (metrics changing), and per render.

    CPU time of this thread, not wall time: on a loaded machine wall time counts the
    waits for a core too, which the bar does not cause."""
    import time

    from framework.builtin.console.progress import StepTerminal
    from framework.progress import ProgressBar
    from rich.console import Console

    metrics = {"loss": 2.0, "lr": 1e-3, "tokens_per_s": 12_345.0}
    with open(os.devnull, "w") as devnull:
        console = Console(file=devnull, force_terminal=True, width=160)
        terminal = StepTerminal(console, interval_s=10.0)  # a terminal: a live bar
        with ProgressBar(None, total=steps, description="lm.train", unit="step",
                         metrics=metrics, terminal=terminal) as bar:  # fmt: skip
            start = time.thread_time()
            for i in range(steps):
                bar.advance()
                metrics["loss"] = 2.0 - i / steps
            per_advance = (time.thread_time() - start) / steps
            live = bar._view.live  # type: ignore[union-attr]
            start = time.thread_time()
            for _ in range(renders):
                live.refresh()
            per_render = (time.thread_time() - start) / renders
    return per_advance, per_render


def main(argv: list[str] | None = None) -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300, help="training steps per run")
    p.add_argument("--repeat", type=int, default=5, help="runs of each side")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--quick", action="store_true", help="a few steps: checks the bench runs")
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.repeat = 10, 1

    import torch

    torch.set_num_threads(args.threads)
    bar_tps, quiet_tps = [], []
    with tempfile.TemporaryDirectory() as tmp:
        root, data = Path(tmp), corpus(Path(tmp))
        if not args.quick:  # a quick run only checks that the script works
            train(root, data, "warm-up", min(args.steps, 50), bar=False)
        for i in range(args.repeat):
            order = (True, False) if i % 2 else (False, True)  # alternate who goes first
            for bar in order:
                rate = train(root, data, f"rep{i}-{'bar' if bar else 'quiet'}", args.steps, bar=bar)
                (bar_tps if bar else quiet_tps).append(rate)
            print(f"rep {i + 1}: bar {bar_tps[-1]:,.0f} tokens/s, quiet {quiet_tps[-1]:,.0f}")
    ratio = median([b / q for b, q in zip(bar_tps, quiet_tps, strict=True)])
    from framework.builtin.console.progress import RENDERS_PER_S

    per_advance, per_render = bar_cost(*((2_000, 20) if args.quick else ()))
    steps_per_s = median(quiet_tps) / TOKENS_PER_STEP
    cost = steps_per_s * per_advance + RENDERS_PER_S * per_render  # seconds per second
    print(f"advance {per_advance * 1e6:.1f} us, render {per_render * 1e3:.2f} ms")
    cli = ["--steps", str(args.steps), "--repeat", str(args.repeat), "--threads", str(args.threads)]
    return report(
        args,
        name="lm.train with the progress bar drawn vs --quiet (CPU)",
        figure=f"the bar costs {100 * cost:.2f} % of training time "
        f"({per_advance * 1e6:.1f} us a step at {steps_per_s:.1f} steps/s, "
        f"{per_render * 1e3:.2f} ms a render x {RENDERS_PER_S}/s); "
        f"end to end {ratio:.3f}x ({median(bar_tps):,.0f} vs {median(quiet_tps):,.0f} tokens/s)",
        target="cost <= 1 %",
        met=cost <= 0.01 if not args.quick else None,
        command=command_line("lm_progress.py", ["--quick"] if args.quick else cli),
        details={
            "cost_fraction": cost,
            "advance_s": per_advance,
            "render_s": per_render,
            "steps_per_s": steps_per_s,
            "end_to_end_ratio": ratio,
            "bar_tokens_per_s": bar_tps,
            "quiet_tokens_per_s": quiet_tps,
            "steps": args.steps,
        },
    )


if __name__ == "__main__":
    main(sys.argv[1:])
