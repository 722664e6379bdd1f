"""Start-up cost: `framework list-steps` against `python -c "import click, pluggy"`, and completion.

Both commands are whole processes, run as interleaved A/B pairs (the order flips every
pair) so that machine noise hits both; the figure is the median of the per-pair ratios
of wall time (CPU time is shown too: it is steadier on a busy machine). Both run with
bytecode caching on, in a private ``PYTHONPYCACHEPREFIX``, as an installed package does
even where ``PYTHONDONTWRITEBYTECODE`` is set. A second part runs list-steps under
``-X importtime`` and checks that no heavy module (torch, numpy, and the libraries only
`run` needs) was imported. A third part times shell completion's answers (step ids, a
plan's options, an option's choices, run ids) against list-steps itself, the same way, and
checks that completing imports neither torch nor numpy.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import command_line, median, parser, report

TARGET = 1.5
# Never on the list-steps path: ML libraries, and what only `run`/`schema` need.
FORBIDDEN = ("torch", "numpy", "yaml", "jsonschema", "rich")
COMPLETION_TARGET = 1.5  # each answer, against list-steps
# what is completed -> the words typed so far, the last being completed
COMPLETIONS = {
    "step ids": "framework run ",
    "plan options": "framework run ptycho.evaluate --",
    "option choices": "framework run ptycho.evaluate --engine ",
    "run ids": "framework show ",
}
COMPLETE_CODE = (
    "import sys\nfrom framework.cli import main\ntry:\n    main([])\nexcept SystemExit:\n"
    "    pass\nprint(*sys.modules, file=sys.stderr)"
)
LIST_STEPS_CODE = "import sys; from framework.cli import main; main(['list-steps']); print(*sys.modules, file=sys.stderr)"
IMPORTTIME_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)\s*$")


def framework_command() -> list[str]:
    script = Path(sys.executable).with_name("framework")
    return [str(script)] if script.exists() else [sys.executable, "-m", "framework"]


def clean_env(pycache: str) -> dict[str, str]:
    """No FRAMEWORK_* settings; .pyc files written and read under `pycache`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAMEWORK_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = pycache
    return env


def completion_env(env: dict[str, str], words: str) -> dict[str, str]:
    """`env` as bash's completion function sets it for `words`."""
    cword = str(len(words.split(" ")) - 1)
    return {**env, "_FRAMEWORK_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": cword}


def run_once(cmd: list[str], cwd: str, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def measure_pairs(
    candidate: list[str],
    baseline: list[str],
    pairs: int,
    cwd: str,
    env: dict[str, str],
    candidate_env: dict[str, str] | None = None,
) -> tuple[list, list]:
    """Interleaved runs, the order flipping every pair; lists of (wall, cpu)."""
    cenv = candidate_env or env
    for _ in range(2):  # fill the bytecode cache and warm the OS caches for both
        run_once(candidate, cwd, cenv)
        run_once(baseline, cwd, env)
    cand, base = [], []
    for i in range(pairs):
        if i % 2 == 0:
            cand.append(run_once(candidate, cwd, cenv))
            base.append(run_once(baseline, cwd, env))
        else:
            base.append(run_once(baseline, cwd, env))
            cand.append(run_once(candidate, cwd, cenv))
    return cand, base


def measure_completion(
    framework: list[str], pairs: int, cwd: str, env: dict[str, str]
) -> dict[str, dict]:
    """Per completion: its answer, the median wall ratio to list-steps, and heavy imports."""
    Path(cwd, "runs", "tour").mkdir(parents=True, exist_ok=True)
    Path(cwd, "runs", "tour", "manifest.json").write_text("{}")  # a run id to complete
    found = {}
    for what, words in COMPLETIONS.items():
        cenv = completion_env(env, words)
        answer = subprocess.run(
            [sys.executable, "-c", COMPLETE_CODE], cwd=cwd, env=cenv, capture_output=True, text=True
        )
        modules = set(answer.stderr.splitlines()[-1].split()) if answer.stderr else set()
        cand, base = measure_pairs(framework, [*framework, "list-steps"], pairs, cwd, env, cenv)
        ratios = [c / b for (c, _), (b, _) in zip(cand, base, strict=True)]
        found[what] = {
            "words": words,
            "answers": len([line for line in answer.stdout.splitlines() if line]),
            "ratio_median": median(ratios),
            "completion_ms": median([c for c, _ in cand]) * 1e3,
            "list_steps_ms": median([b for b, _ in base]) * 1e3,
            "imported": [m for m in ("torch", "numpy") if imported(modules, m)],
        }
    return found


def import_profile(
    cwd: str, env: dict[str, str]
) -> tuple[list[tuple[str, int, int, int]], set[str]]:
    """(module, self us, cumulative us, depth) per import of list-steps, and all of sys.modules.

    -X importtime does not see modules loaded by importlib.import_module (the plugins
    themselves), hence the sys.modules list printed at the end.
    """
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", LIST_STEPS_CODE],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = proc.stderr.splitlines()
    rows = []
    for line in lines:
        m = IMPORTTIME_LINE.match(line)
        if m:
            rows.append((m.group(4), int(m.group(1)), int(m.group(2)), len(m.group(3)) // 2))
    return rows, set(lines[-1].split())


def imported(modules: set[str], package: str) -> bool:
    return any(name == package or name.startswith(package + ".") for name in modules)


def main(argv: list[str] | None = None) -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument(
        "--pairs", type=int, default=15, help="A/B pairs of whole-process runs (default 15)"
    )
    args = p.parse_args(argv)
    candidate = framework_command()
    baseline = [sys.executable, "-c", "import click, pluggy"]

    with tempfile.TemporaryDirectory(prefix="bench-startup-") as cwd:
        env = clean_env(os.path.join(cwd, "pycache"))
        listing = subprocess.run(
            [*candidate, "list-steps"], cwd=cwd, env=env, capture_output=True, text=True, check=True
        )
        hello = "hello.train" in listing.stdout
        print("framework list-steps:\n" + listing.stdout.rstrip())
        if not hello:
            print(
                "note: the hello example plugin is not installed; the figure is for the core alone"
            )
        cand_runs, base_runs = measure_pairs(
            [*candidate, "list-steps"], baseline, args.pairs, cwd, env
        )
        rows, modules = import_profile(cwd, env)
        completion = measure_completion(candidate, args.pairs, cwd, env)

    cand, base = [w for w, _ in cand_runs], [w for w, _ in base_runs]
    ratios = [c / b for c, b in zip(cand, base, strict=True)]
    ratio = median(ratios)
    cpu_ratio = median(
        [c / b for (_, c), (_, b) in zip(cand_runs, base_runs, strict=True) if b > 0]
        or [float("nan")]
    )
    print(
        f"\n{args.pairs} interleaved pairs: framework list-steps median {median(cand) * 1e3:.1f} ms, "
        f"python -c 'import click, pluggy' median {median(base) * 1e3:.1f} ms"
    )
    print(
        f"per-pair wall ratio: median {ratio:.2f}x, min {min(ratios):.2f}x, max {max(ratios):.2f}x"
    )
    print(f"per-pair CPU-time ratio: median {cpu_ratio:.2f}x")

    found = {name: imported(modules, name) for name in FORBIDDEN}
    print(
        f"\nlist-steps ends with {len(modules)} modules in sys.modules ({len(rows)} seen by -X importtime)"
    )
    for name, was in found.items():
        print(f"  {name:<11} {'IMPORTED' if was else 'not imported'}")
    print("top 10 cumulative import costs (us, indented by nesting):")
    for name, own, cumulative, depth in sorted(rows, key=lambda r: r[2], reverse=True)[:10]:
        print(f"  {cumulative:>8}  {own:>7} self  {'  ' * depth}{name}")

    print("\ncompletion answers vs framework list-steps (median of per-pair wall ratios):")
    for what, c in completion.items():
        print(
            f"  {what:<15} {c['ratio_median']:.2f}x ({c['completion_ms']:.0f} ms vs "
            f"{c['list_steps_ms']:.0f} ms), {c['answers']} answers, "
            f"imports {', '.join(c['imported']) or 'neither torch nor numpy'}  [{c['words']!r}]"
        )
    worst = max(c["ratio_median"] for c in completion.values())
    completion_ok = worst <= COMPLETION_TARGET and all(
        c["answers"] and not c["imported"] for c in completion.values()
    )

    heavy = [name for name, was in found.items() if was]
    met = ratio <= TARGET and not heavy and completion_ok
    figure = (
        f"{ratio:.2f}x wall, {cpu_ratio:.2f}x CPU ({median(cand) * 1e3:.0f} ms vs "
        f"{median(base) * 1e3:.0f} ms); "
        + (f"imports {', '.join(heavy)}" if heavy else f"imports none of {', '.join(FORBIDDEN)}")
    )
    figure += (
        f"; completion at most {worst:.2f}x list-steps ("
        + ", ".join(f"{what} {c['ratio_median']:.2f}x" for what, c in completion.items())
        + ")"
    )
    if not hello:
        figure += " (hello plugin not installed)"
    return report(
        args,
        name="start-up: framework list-steps vs python -c 'import click, pluggy'; completion vs list-steps",
        figure=figure,
        target=f"<= {TARGET}x, no torch/numpy; completion <= {COMPLETION_TARGET}x",
        met=met,
        command=command_line("startup.py", ["--pairs", str(args.pairs)]),
        details={
            "ratio_median": ratio,
            "cpu_ratio_median": cpu_ratio,
            "framework_ms": [c * 1e3 for c in cand],
            "baseline_ms": [b * 1e3 for b in base],
            "hello_installed": hello,
            "completion": completion,
            "imported": found,
            "top_imports": [
                {"module": n, "self_us": s, "cumulative_us": c}
                for n, s, c, _ in sorted(rows, key=lambda r: r[2], reverse=True)[:10]
            ],
        },
    )


if __name__ == "__main__":
    main()
