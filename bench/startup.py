"""Start-up cost: `framework list-steps` against `python -c "import click, pluggy"`.

Both commands are whole processes, run as interleaved A/B pairs (the order flips every
pair) so that machine noise hits both; the figure is the median of the per-pair ratios
of wall time (CPU time is shown too: it is steadier on a busy machine). Both run with
bytecode caching on, in a private ``PYTHONPYCACHEPREFIX``, as an installed package does
even where ``PYTHONDONTWRITEBYTECODE`` is set. A second part runs list-steps under
``-X importtime`` and checks that no heavy module (torch, numpy, and the libraries only
`run` needs) was imported.
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
    candidate: list[str], baseline: list[str], pairs: int, cwd: str, env: dict[str, str]
) -> tuple[list, list]:
    """Interleaved runs, the order flipping every pair; lists of (wall, cpu)."""
    for _ in range(2):  # fill the bytecode cache and warm the OS caches for both
        run_once(candidate, cwd, env)
        run_once(baseline, cwd, env)
    cand, base = [], []
    for i in range(pairs):
        if i % 2 == 0:
            cand.append(run_once(candidate, cwd, env))
            base.append(run_once(baseline, cwd, env))
        else:
            base.append(run_once(baseline, cwd, env))
            cand.append(run_once(candidate, cwd, env))
    return cand, base


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

    heavy = [name for name, was in found.items() if was]
    met = ratio <= TARGET and not heavy
    figure = (
        f"{ratio:.2f}x wall, {cpu_ratio:.2f}x CPU ({median(cand) * 1e3:.0f} ms vs "
        f"{median(base) * 1e3:.0f} ms); "
        + (f"imports {', '.join(heavy)}" if heavy else f"imports none of {', '.join(FORBIDDEN)}")
    )
    if not hello:
        figure += " (hello plugin not installed)"
    return report(
        args,
        name="start-up: framework list-steps vs python -c 'import click, pluggy'",
        figure=figure,
        target=f"<= {TARGET}x, no torch/numpy",
        met=met,
        command=command_line("startup.py", ["--pairs", str(args.pairs)]),
        details={
            "ratio_median": ratio,
            "cpu_ratio_median": cpu_ratio,
            "framework_ms": [c * 1e3 for c in cand],
            "baseline_ms": [b * 1e3 for b in base],
            "hello_installed": hello,
            "imported": found,
            "top_imports": [
                {"module": n, "self_us": s, "cumulative_us": c}
                for n, s, c, _ in sorted(rows, key=lambda r: r[2], reverse=True)[:10]
            ],
        },
    )


if __name__ == "__main__":
    main()
