"""The benchmarks in bench/ still run, in their tiny modes (figures are never checked)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.benches import BENCH, run_bench
from tests.conftest import REPO


def test_startup_bench_finds_no_torch_or_numpy_in_list_steps(tmp_path):
    result = run_bench("startup.py", "--pairs", "1", tmp_path=tmp_path)
    assert result["details"]["imported"]["torch"] is False
    assert result["details"]["imported"]["numpy"] is False


def test_dag_bench_plans_every_generated_step(tmp_path):
    result = run_bench("dag.py", "--steps", "200", "--repeat", "1", tmp_path=tmp_path)
    assert result["details"]["steps"] == 200


def test_rerun_bench_skips_every_step_on_the_second_run(tmp_path):
    # The script itself fails unless the second run recorded every step as skipped.
    result = run_bench(
        "rerun.py",
        "--size-mb",
        "1",
        "--files",
        "2",
        "--repeat",
        "1",
        "--dir",
        str(tmp_path),
        tmp_path=tmp_path,
    )
    assert result["details"]["mib"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["rerun.py.json"]  # its temp files are gone


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="needs sha256sum")
def test_hashing_bench_agrees_with_sha256sum(tmp_path):
    # The script asserts that hash_file and sha256sum give the same digest.
    result = run_bench(
        "hashing.py", "--size-mb", "2", "--repeat", "1", "--dir", str(tmp_path), tmp_path=tmp_path
    )
    assert result["details"]["mib"] == 2


def test_run_all_writes_a_markdown_table_with_each_reproducing_command(tmp_path):
    out = tmp_path / "RESULTS.md"
    proc = subprocess.run(
        [sys.executable, str(BENCH / "run_all.py"), "--smoke", "--only", "dag", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    table = out.read_text()
    assert "| Benchmark | Measured | Target | Met | Reproduce |" in table
    assert "bench/dag.py --steps 300 --repeat 2`" in table
    assert "Python 3." in table.splitlines()[2]


def test_bench_command_reproduces_the_run_without_the_record_path():
    sys.path.insert(0, str(REPO / "bench"))
    try:
        from common import command_line
    finally:
        sys.path.remove(str(REPO / "bench"))
    line = command_line("dag.py", ["--quick", "--json-out", "/tmp/x.json", "--threads=1"])
    assert line.split()[1:] == ["bench/dag.py", "--quick", "--threads=1"]


def test_sweep_executor_bench_runs_both_executors_and_the_resume(tmp_path):
    result = run_bench("sweep_executors.py", "--quick", tmp_path=tmp_path)
    details = result["details"]
    assert len(details["local_s"]) == len(details["process_s"]) == len(details["resume_s"]) == 1


def test_lm_ddp_bench_finds_the_two_loss_curves_agree(tmp_path):
    result = run_bench("lm_ddp.py", "--quick", tmp_path=tmp_path)
    assert result["details"]["max_loss_gap"] < 1e-3 and result["met"] is True
