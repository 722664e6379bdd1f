"""Running a script of bench/ in a test: its tiny mode, its JSON record checked for shape."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import REPO

BENCH = REPO / "bench"


def run_bench(script: str, *args: str, tmp_path: Path) -> dict[str, Any]:
    """Run ``bench/<script> ARGS --json-out FILE``; the record it wrote (exit 0 asserted)."""
    out = tmp_path / f"{script}.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), *args, "--json-out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    assert set(result) >= {"name", "figure", "target", "met", "command"}
    assert result["command"].split()[1] == f"bench/{script}"
    return result
