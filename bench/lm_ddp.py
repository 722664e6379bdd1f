"""lm.train in N processes (DDP, gloo on CPU or NCCL on GPUs) against one process doing
the same work: the same global batch (N x --batch-size windows per step), the same steps.

Both are whole `framework run lm.train --from lm.train` commands on data a warm-up run
prepared, alternating; the figure is the median of one-process time / N-process
time, and the largest difference between the two loss curves (they should agree to
rounding: DDP averages exactly the gradients the one process computes). On a CPU both
sides share the same cores (the launcher gives each rank cores / N threads), so the
ratio measures what DDP costs there; on a GPU machine give it --accelerator cuda and one
GPU per rank.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from common import command_line, median, parser, report, timed

MODEL = ["--n-layer", "4", "--n-head", "4", "--n-embd", "128", "--block-size", "64",
         "--dropout", "0", "--eval-cadence", "1000000", "--sampling-cadence", "0",
         "--checkpoint-cadence", "1000000", "--quiet"]  # fmt: skip


def train(root: Path, run_id: str, args: list[str]) -> None:
    cmd = [sys.executable, "-m", "framework", "run", "lm.train", "--artifact-root", str(root),
           "--run-id", run_id, "--from", "lm.train", *args]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"error: {' '.join(cmd)} failed: {proc.stderr.strip()[-2000:]}")


def losses(run_dir: Path) -> dict[int, float]:
    rows = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    return {
        r["fields"]["step"]: r["fields"]["loss"]
        for r in rows
        if r["event"] == "metrics" and "loss" in r["fields"]
    }


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--nproc", type=int, default=2, help="processes of the DDP side")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=16, help="windows per rank and step")
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--accelerator", default="cpu")
    p.add_argument("--quick", action="store_true", help="tiny sizes: checks that it runs")
    args = p.parse_args()
    model = list(MODEL)
    if args.quick:
        args.steps, args.repeat, args.batch_size = 5, 1, 4
        model[1], model[3], model[5], model[7] = "1", "2", "32", "16"
    common = [*model, "--max-steps", str(args.steps), "--accelerator", args.accelerator]
    one_args = [*common, "--batch-size", str(args.batch_size * args.nproc)]
    ddp_args = [*common, "--batch-size", str(args.batch_size), "--nproc-per-node", str(args.nproc)]
    one_t, ddp_t = [], []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, extra in (("one", one_args), ("ddp", ddp_args)):  # lm.prepare, untimed
            if not args.quick:  # --quick times nothing: its one run per side prepares too
                train(root, name, [*extra, "--max-steps", "1"])
        for i in range(args.repeat):
            pair = [("one", one_args, one_t), ("ddp", ddp_args, ddp_t)]
            for name, extra, times in pair if i % 2 == 0 else pair[::-1]:
                times.append(timed(lambda n=name, e=extra: train(root, n, e)))
        one, ddp = losses(root / "one"), losses(root / "ddp")
    gap = max(abs(one[s] - ddp[s]) for s in one)
    speed = median(one_t) / median(ddp_t)
    report(
        args,
        name=f"lm.train in {args.nproc} processes (DDP) vs one",
        figure=(
            f"{speed:.2f}x the speed of one process doing the same global batch "
            f"({median(ddp_t):.1f} s vs {median(one_t):.1f} s for {args.steps} steps on "
            f"{os.cpu_count()} cores, {args.accelerator}); loss curves agree to {gap:.1e}"
        ),
        target="loss curves agree to 1e-3",
        met=gap < 1e-3,
        command=command_line("lm_ddp.py", sys.argv[1:]),
        details={"one_s": one_t, "ddp_s": ddp_t, "max_loss_gap": gap, "steps": args.steps},
    )


if __name__ == "__main__":
    main()
