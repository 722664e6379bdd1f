"""The classifier benchmarks still run in their --quick modes (figures are not checked)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.parametrize("script", ["classifier_sweep.py", "classifier_cache.py"])
def test_bench_runs_in_quick_mode(script, tmp_path):
    out = tmp_path / "result.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / script), "--quick", "--json-out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    assert result["command"].split()[1:] == [f"bench/{script}", "--quick"]
