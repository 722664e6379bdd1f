"""`framework sweep --executor slurm`, through submitit's local cluster."""

from __future__ import annotations

import pytest

from tests.core.test_sweeps import output, sweep_manifest


def test_a_sweep_on_slurm_job_arrays_run_locally_by_submitit(cli, flaky, isolated):
    pytest.importorskip("submitit")
    result = cli(
        "sweep", "flaky.work", "-p", "value=1,2", "-p", "mode=ok,raise",
        "--executor", "slurm", "--slurm-cluster", "local", "--max-parallel", "2",
    )  # fmt: skip
    assert result.exit_code == 1  # the 'raise' jobs failed, the others completed
    manifest = sweep_manifest(isolated)
    got = {
        (j["parameters"]["value"], j["parameters"]["mode"]): j["status"] for j in manifest["jobs"]
    }
    assert got == {(1, "ok"): "completed", (2, "ok"): "completed", (1, "raise"): "failed",
                   (2, "raise"): "failed"}  # fmt: skip
    assert all(j["where"] for j in manifest["jobs"])
    assert {
        output(j["run_dir"])["value"] for j in manifest["jobs"] if j["status"] == "completed"
    } == {1, 2}
    assert "RuntimeError: value 1 is cursed" in next(
        j["traceback"] for j in manifest["jobs"] if j["status"] == "failed"
    )
    again = cli(
        "sweep", "flaky.work", "-p", "value=1,2", "-p", "mode=ok",
        "--executor", "slurm", "--slurm-cluster", "local",
    )  # fmt: skip
    assert again.exit_code == 0, again.stderr
    assert {
        j["status"] for j in sweep_manifest(isolated)["jobs"] if j["parameters"]["mode"] == "ok"
    } == {"skipped"}
