"""A sweep of CPU-bound jobs on the process executor, against the same sweep run locally.

The example plugin's `hello.evaluate` (pure-Python gradient descent, made long with
--epochs and --n-samples) is swept over seeds twice, in fresh artifact roots: with the
default `local` executor (one job after another in the sweep's process) and with
`--executor process --max-parallel P` (a process per job). Both are whole `framework
sweep` commands in subprocesses, so the process executor pays its real costs (a Python
start-up and plugin discovery per job). Then the finished sweep is run again: every job
is done and up to date, so the resume only checks manifests and hashes.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from common import command_line, median, parser, report, timed

FRAMEWORK = [sys.executable, "-m", "framework"]


def sweep(root: Path, jobs: int, epochs: int, samples: int, extra: list[str]) -> None:
    seeds = ",".join(str(i) for i in range(jobs))
    cmd = [
        *FRAMEWORK, "sweep", "hello.evaluate", "-p", f"seed={seeds}", "--epochs", str(epochs),
        "--n-samples", str(samples), "--artifact-root", str(root), "--quiet", *extra,
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"error: {' '.join(cmd)} failed: {proc.stderr.strip()}")


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, default=6, help="jobs in the sweep (seeds)")
    p.add_argument("--epochs", type=int, default=1000, help="gradient-descent passes per job")
    p.add_argument("--n-samples", type=int, default=20000, help="points per job")
    p.add_argument("--max-parallel", type=int, default=os.cpu_count() or 1)
    p.add_argument("--repeat", type=int, default=2, help="timed repetitions (median)")
    p.add_argument("--quick", action="store_true", help="tiny sizes: checks that it runs")
    args = p.parse_args()
    if args.quick:
        args.jobs, args.epochs, args.n_samples, args.repeat = 2, 5, 50, 1
    local_t, process_t, resume_t = [], [], []
    common = (args.jobs, args.epochs, args.n_samples)
    parallel = ["--executor", "process", "--max-parallel", str(args.max_parallel)]
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            local_root, process_root = Path(tmp, f"local{i}"), Path(tmp, f"process{i}")
            local_t.append(timed(functools.partial(sweep, local_root, *common, [])))
            process_t.append(timed(functools.partial(sweep, process_root, *common, parallel)))
            resume_t.append(timed(functools.partial(sweep, local_root, *common, [])))
    local, process, resume = median(local_t), median(process_t), median(resume_t)
    speedup = local / process
    report(
        args,
        name="sweep on the process executor",
        figure=(
            f"{speedup:.2f}x faster than local ({process:.2f} s vs {local:.2f} s for {args.jobs} jobs, "
            f"{args.max_parallel} at once); resuming the finished sweep: {resume / local:.3f} of the first run"
        ),
        target=f">= {0.75 * min(args.max_parallel, args.jobs):.2f}x (75% of the parallelism)",
        met=None if args.quick else speedup >= 0.75 * min(args.max_parallel, args.jobs),
        command=command_line("sweep_executors.py", sys.argv[1:]),
        details={
            "local_s": local_t,
            "process_s": process_t,
            "resume_s": resume_t,
            "jobs": args.jobs,
            "epochs": args.epochs,
            "n_samples": args.n_samples,
            "max_parallel": args.max_parallel,
        },
    )


if __name__ == "__main__":
    main()
