"""What every benchmark shares: timing helpers, the result record, the --json-out option.

Each benchmark compares against a baseline measured in the same process or the same
command, so a noisy machine moves both sides and the ratio stays meaningful.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def median(values: list[float]) -> float:
    return statistics.median(values)


def timed(func: Callable[[], Any]) -> float:
    """Seconds one call of `func` takes."""
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def python_command() -> str:
    """This interpreter as a user would type it from the repository root."""
    exe = Path(sys.executable)
    try:
        return str(exe.relative_to(REPO))
    except ValueError:
        return str(exe)


def command_line(script: str, args: list[str]) -> str:
    """The exact command that reproduces a benchmark, from the repository root.

    `--json-out FILE` is left out: where the record goes does not change the figure.
    """
    kept = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--json-out":
            skip = True
        elif not arg.startswith("--json-out="):
            kept.append(arg)
    return shlex.join([python_command(), f"bench/{script}", *kept])


def machine_info() -> str:
    return (
        f"{os.cpu_count()} cores ({platform.machine()}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--json-out", metavar="FILE", help="also write the result as JSON (used by run_all.py)"
    )
    return p


def report(
    args: argparse.Namespace,
    *,
    name: str,
    figure: str,
    target: str,
    met: bool | None,
    command: str,
    details: dict[str, Any],
) -> dict[str, Any]:
    """Print the headline and write the JSON record when asked to."""
    result = {
        "name": name,
        "figure": figure,
        "target": target,
        "met": met,
        "command": command,
        "details": details,
    }
    verdict = {True: "target met", False: "TARGET MISSED", None: "no target"}[met]
    print(f"\n{name}: {figure}  (target {target}: {verdict})")
    print(f"reproduce: {command}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=2) + "\n")
    return result
