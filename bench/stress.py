"""Kill real pipelines at random moments and check that every run survives.

Each trial starts one real pipeline as a user would (`framework run` or `framework
sweep` in its own process group), kills the whole group with SIGKILL at a random
moment, re-runs the same command (lm.train continues with `--resume` when a checkpoint
exists), then checks what a user relies on: the re-run succeeds, the manifest says
completed, and `framework verify` finds every recorded file intact. The trials cycle
through three pipelines:

- classifier: `classifier.sweep_thresholds` on synthetic images (tiny backbone);
- lm: `lm.train` on a small slice of the bundled corpus, with checkpoints;
- sweep: a 3-job sweep of `hello.evaluate` on the process executor.

Trials share one artifact root, and two consecutive trials of a kind share a seed, so
kills also land while outputs are reused from the artifact store. Not part of the test
suite (it takes minutes); prints "survived K of N" and, for each failure, what broke.

    .venv/bin/python bench/stress.py --trials 30
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import REPO, command_line, parser, report

FRAMEWORK = [sys.executable, "-m", "framework"]
KINDS = ("classifier", "lm", "sweep")
LM_TINY = [
    "--n-layer", "2", "--n-head", "2", "--n-embd", "32", "--block-size", "16",
    "--batch-size", "8", "--eval-batches", "2", "--warmup-steps", "5",
    "--eval-cadence", "20", "--checkpoint-cadence", "20", "--sampling-cadence", "0",
]  # fmt: skip


def framework(root: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FRAMEWORK, *args], cwd=root, capture_output=True, text=True, timeout=timeout
    )


def command(kind: str, trial: int, seed: int, corpus: Path, small: bool) -> list[str]:
    """The pipeline command of one trial (each run has its own run id)."""
    run_id = f"{kind}-{trial:03d}"
    if kind == "classifier":
        samples = "60" if small else "120"
        return ["run", "classifier.sweep_thresholds", "--run-id", run_id, "--quiet",
                "--synthetic", "--synthetic-samples", samples, "--image-size", "32",
                "--epochs", "4", "--seed", str(seed)]  # fmt: skip
    if kind == "lm":
        steps = "40" if small else "120"
        return ["run", "lm.train", "--run-id", run_id, "--quiet", "--data", str(corpus),
                "--max-steps", steps, "--seed", str(seed), *LM_TINY]  # fmt: skip
    values = ",".join(str(20 + seed * 3 + k) for k in range(3))
    return ["sweep", "hello.evaluate", "-p", f"n_samples={100 + seed}", "-p", f"epochs={values}",
            "--sweep-id", f"sweep-{trial:03d}", "--executor", "process", "--max-parallel", "2",
            "--quiet"]  # fmt: skip


def kill_at_random(root: Path, argv: list[str], delay: float) -> str:
    """Start `argv`, SIGKILL its process group after `delay` seconds; how it ended."""
    proc = subprocess.Popen(
        [*FRAMEWORK, *argv],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        proc.wait(timeout=delay)
        return f"finished before the kill (exit {proc.returncode})"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return f"killed after {delay:.1f} s"


def run_dirs(root: Path, argv: list[str]) -> list[Path]:
    """The run dirs a command made: its --run-id's, or every job's of its sweep."""
    if "--run-id" in argv:
        return [root / "runs" / argv[argv.index("--run-id") + 1]]
    sweep = root / "runs" / "sweeps" / argv[argv.index("--sweep-id") + 1]
    data = json.loads((sweep / "sweep_manifest.json").read_text())
    return [Path(job["run_dir"]) for job in data["jobs"]]


def rerun(root: Path, kind: str, argv: list[str]) -> list[str]:
    """Re-run after the kill (lm continues from its last checkpoint); what broke, if anything."""
    again = list(argv)
    if kind == "lm":
        run_dir = root / "runs" / argv[argv.index("--run-id") + 1]
        if (run_dir / "checkpoints" / "last.pt").is_file():
            again += ["--resume", str(run_dir)]
    result = framework(root, *again)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        return [f"re-run exited {result.returncode}: {last}"]
    problems = []
    dirs = run_dirs(root, argv)
    if not dirs:
        problems.append("no run directory after the re-run")
    for run_dir in dirs:
        manifest = json.loads((run_dir / "manifest.json").read_text())
        if manifest["status"] != "completed":
            problems.append(f"{run_dir.name}: manifest status {manifest['status']}")
        check = framework(root, "verify", str(run_dir))
        if check.returncode != 0:
            problems.append(f"{run_dir.name}: verify: {check.stderr.strip()}")
    return problems


def trial(root: Path, number: int, rng: random.Random, corpus: Path, small: bool) -> dict[str, Any]:
    kind = KINDS[number % len(KINDS)]
    seed = number // (2 * len(KINDS))  # two consecutive trials of a kind share a seed
    argv = command(kind, number, seed, corpus, small)
    window = {"classifier": 10.0, "lm": 12.0, "sweep": 12.0}[kind] * (0.5 if small else 1.0)
    delay = rng.uniform(0.2, window)
    started = time.perf_counter()
    how = kill_at_random(root, argv, delay)
    try:
        problems = rerun(root, kind, argv)
    except (OSError, ValueError, KeyError, subprocess.TimeoutExpired) as exc:
        problems = [f"{type(exc).__name__}: {exc}"]
    return {
        "trial": number,
        "kind": kind,
        "kill": how,
        "seconds": round(time.perf_counter() - started, 1),
        "problems": problems,
    }


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=30, metavar="N", help="runs to kill [30]")
    p.add_argument("--seed", type=int, default=0, help="seed of the kill moments [0]")
    p.add_argument("--small", action="store_true", help="smaller pipelines, shorter windows")
    p.add_argument("--root", metavar="DIR", help="where the runs go [a temporary directory]")
    args = p.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="framework-stress-") as tmp:
        root = Path(args.root or tmp)
        root.mkdir(parents=True, exist_ok=True)
        corpus = root / "corpus.txt"
        from framework_lm.corpus import kjv_text

        corpus.write_text(kjv_text()[:40_000], encoding="utf-8")
        results = []
        for number in range(args.trials):
            result = trial(root, number, rng, corpus, args.small)
            results.append(result)
            verdict = "ok" if not result["problems"] else "FAILED"
            print(
                f"trial {number:>3} {result['kind']:<10} {result['kill']:<36} {verdict}", flush=True
            )
            for problem in result["problems"]:
                print(f"      {problem}")
    survived = sum(not r["problems"] for r in results)
    print(f"\nsurvived {survived} of {len(results)}")
    report(
        args,
        name="stress: SIGKILL at a random moment, re-run, verify",
        figure=f"survived {survived} of {len(results)}",
        target="every run survives",
        met=survived == len(results),
        command=command_line("stress.py", sys.argv[1:]),
        details={"trials": results, "cwd": str(REPO)},
    )
    sys.exit(0 if survived == len(results) else 1)


if __name__ == "__main__":
    main()
