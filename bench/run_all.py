"""Run every benchmark, each in its own process, and write the table to bench/RESULTS.md.

`--smoke` runs each in a tiny mode (seconds in all) to check that they still work; its
figures mean nothing and it writes to --out only when asked.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from common import REPO, machine_info, python_command

BENCH = Path(__file__).resolve().parent
# name -> (script, arguments for --smoke); full runs use each script's defaults.
BENCHMARKS = {
    "startup": ("startup.py", ["--pairs", "2"]),
    "dag": ("dag.py", ["--steps", "300", "--repeat", "2"]),
    "rerun": ("rerun.py", ["--size-mb", "1", "--files", "2", "--repeat", "1"]),
    "hashing": ("hashing.py", ["--size-mb", "4", "--repeat", "1"]),
    "classifier-sweep": ("classifier_sweep.py", ["--quick"]),
    "classifier-cache": ("classifier_cache.py", ["--quick"]),
    "lm-throughput": ("lm_throughput.py", ["--quick"]),
    "lm-progress": ("lm_progress.py", ["--quick"]),
    "ptycho-study": ("ptycho_study.py", ["--quick"]),
    "sweep-executors": ("sweep_executors.py", ["--quick"]),
    "lm-ddp": ("lm_ddp.py", ["--quick"]),
    "ptycho-foreign": ("foreign_scan.py", ["--quick"]),
}
# bench/lm_gpu.py needs a CUDA GPU; run it by hand there (see docs/plugins/lm.md).


def run_one(script: str, args: list[str], json_out: Path) -> dict:
    cmd = [sys.executable, str(BENCH / script), *args, "--json-out", str(json_out)]
    print(f"\n=== {script} {' '.join(args)}".rstrip(), flush=True)
    proc = subprocess.run(cmd, cwd=REPO)
    if proc.returncode != 0:
        raise SystemExit(f"error: bench/{script} failed with exit code {proc.returncode}")
    return json.loads(json_out.read_text())


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(results: list[dict], invocation: str) -> str:
    verdict = {True: "yes", False: "**no**", None: "-"}
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {machine_info()}. Measured {dt.date.today().isoformat()} with `{invocation}`.",
        "Every figure is a ratio against a baseline measured in the same command, so a noisy",
        "machine moves both sides; absolute times are for orientation only.",
        "",
        "| Benchmark | Measured | Target | Met | Reproduce |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {cell(r['name'])} | {cell(r['figure'])} | {cell(r['target'])} | {verdict[r['met']]} | `{cell(r['command'])}` |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes: checks the benchmarks run, figures mean nothing",
    )
    p.add_argument(
        "--only", action="append", choices=sorted(BENCHMARKS), help="run only this one (repeatable)"
    )
    p.add_argument(
        "--out", help="where to write the table (default bench/RESULTS.md; with --smoke, nowhere)"
    )
    args = p.parse_args(argv)

    results = []
    with tempfile.TemporaryDirectory(prefix="bench-results-") as tmp:
        for name in args.only or list(BENCHMARKS):
            script, smoke_args = BENCHMARKS[name]
            results.append(
                run_one(script, smoke_args if args.smoke else [], Path(tmp) / f"{name}.json")
            )

    invocation = " ".join(
        [python_command(), "bench/run_all.py", *(argv if argv is not None else sys.argv[1:])]
    )
    table = markdown(results, invocation)
    print("\n" + table)
    out = args.out or (None if args.smoke else str(BENCH / "RESULTS.md"))
    if out:
        Path(out).write_text(table)
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
