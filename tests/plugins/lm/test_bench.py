"""The lm benchmarks still run in their --quick modes (their figures are never checked)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO


def run_bench(script: str, tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "bench" / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        cwd=tmp_path,
    )


@pytest.mark.parametrize("script", ["lm_throughput.py", "lm_gpu.py", "lm_progress.py"])
def test_bench_runs_quick_and_writes_its_record(script, tmp_path):
    out = tmp_path / "result.json"
    proc = run_bench(script, tmp_path, "--quick", "--json-out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    assert result["command"].split()[1:] == [f"bench/{script}", "--quick"]
    assert result["met"] is None  # a quick run proves the script works, nothing more


def test_gpu_bench_says_it_needs_a_gpu(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the full benchmark would run")
    proc = run_bench("lm_gpu.py", tmp_path)
    assert proc.returncode == 2
    assert "needs a CUDA GPU" in proc.stderr
