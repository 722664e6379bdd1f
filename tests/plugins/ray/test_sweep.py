"""`framework sweep --executor ray`, on the session's local Ray cluster."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import expect_error
from tests.core.test_sweeps import sweep_manifest


def test_a_sweep_on_ray_runs_each_job_as_a_task(cli, ray_jobs, isolated):
    result = cli("sweep", "jobs.echo", "-p", "value=3,4", "--executor", "ray")
    assert result.exit_code == 0, result.stderr
    manifest = sweep_manifest(isolated)
    assert manifest["executor"] == "ray"
    values = {
        json.loads((Path(j["run_dir"]) / "value.json").read_text())["value"]
        for j in manifest["jobs"]
    }
    assert values == {3, 4}
    refused = cli("sweep", "jobs.echo", "-p", "value=5", "--executor", "ray", "--gpus-per-job", "1")
    expect_error(refused, 2, "GPU")
