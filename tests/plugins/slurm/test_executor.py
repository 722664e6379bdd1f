"""The slurm executor, run for real through submitit's local cluster (real processes)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from framework import Resources, UsageError, run_jobs
from framework_slurm.executor import SlurmSettings

from tests.conftest import read_manifest
from tests.plugins.jobs import (
    Updates,
    check_a_failing_job_fails_alone,
    check_ctrl_c_cancels_the_outstanding_jobs,
    check_each_job_completes_in_its_own_run,
    check_fail_fast_cancels_what_runs_or_waits,
    job,
)

pytest.importorskip("submitit")

LOCAL = SlurmSettings(slurm_cluster="local", time_min=5)


def run(requests, updates=None, **options):
    options.setdefault("settings", LOCAL)
    if updates is not None:
        options["report"] = updates.append
    return run_jobs(requests, "slurm", **options)


def test_each_job_is_a_submitit_job_with_its_own_run_and_manifest(jobs_plugin, isolated):
    results, _ = check_each_job_completes_in_its_own_run(
        run, isolated / "runs", log_dir=isolated / "logs"
    )
    where = {r.run_id: r.where for r in results}
    job_ids = {w.split("@")[0] for w in where.values()}
    assert len(job_ids) == 2 and all(str(os.getpid()) not in w for w in where.values())
    for job_id in job_ids:  # one log folder per job, with the job's output in it
        log = isolated / "logs" / "slurm" / job_id / f"{job_id}_0_log.out"
        assert "echo" in log.read_text()


def test_a_failing_job_is_failed_with_its_traceback_and_the_others_complete(jobs_plugin, isolated):
    check_a_failing_job_fails_alone(run, isolated / "runs")


def test_fail_fast_cancels_the_jobs_still_running_or_waiting(jobs_plugin, isolated):
    check_fail_fast_cancels_what_runs_or_waits(run, isolated / "runs")
    assert read_manifest(isolated / "runs" / "slow")["status"] == "interrupted"


def test_a_worker_that_dies_is_lost_and_says_where_its_log_is(jobs_plugin, isolated):
    results = {r.run_id: r for r in run([job("dead", action="die"), job("alive")])}
    dead, alive = results["dead"], results["alive"]
    assert dead.status == "lost"
    assert "died without an answer" in dead.error
    log = dead.error.rsplit("log: ", 1)[1]
    assert "echo 1 die" in Path(log).read_text()
    assert alive.status == "completed"


def test_ctrl_c_cancels_the_outstanding_jobs_and_reraises(jobs_plugin, isolated):
    check_ctrl_c_cancels_the_outstanding_jobs(run, isolated / "runs")


@pytest.fixture
def fake_slurm(tmp_path, monkeypatch):
    """`sbatch` and `srun` that keep the submission file and refuse it as sbatch would."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    kept = tmp_path / "submitted.sh"
    scripts = {
        "sbatch": f'#!/bin/sh\ncp "$1" {kept}\necho "sbatch: error: invalid partition specified: gpu" >&2\nexit 1\n',
        "srun": "#!/bin/sh\nexit 1\n",
    }
    for name, text in scripts.items():
        path = bin_dir / name
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return kept


def test_resources_reach_the_sbatch_file_and_a_refusal_is_one_clear_error(
    jobs_plugin, isolated, fake_slurm
):
    resources = Resources(cpus_per_job=4, gpus_per_job=2, mem_gb=8)
    settings = SlurmSettings(
        time_min=30, partition="gpu", account="proj", slurm_args={"constraint": "a100"}
    )
    updates = Updates()
    with pytest.raises(
        UsageError, match="sbatch refused the jobs: sbatch: error: invalid partition"
    ):
        run(
            [job("a"), job("b"), job("c")],
            updates,
            resources=resources,
            settings=settings,
            max_parallel=2,
        )
    lines = set(fake_slurm.read_text().splitlines())
    expected = {
        "#SBATCH --partition=gpu",
        "#SBATCH --account=proj",
        "#SBATCH --time=30",
        "#SBATCH --cpus-per-task=4",
        "#SBATCH --gpus-per-node=2",
        "#SBATCH --mem=8GB",
        "#SBATCH --constraint=a100",
        "#SBATCH --array=0-2%2",
        "#SBATCH --job-name=framework-jobs.echo",
    }
    assert expected <= lines
    assert any(line.startswith("#SBATCH --output=") and "%A_%a" in line for line in lines)
    assert updates.statuses("a") == ["queued", "cancelled"]


def test_without_sbatch_the_slurm_cluster_is_one_clear_error(jobs_plugin, isolated, monkeypatch):
    monkeypatch.setenv("PATH", str(isolated / "nothing-here"))
    updates = Updates()
    with pytest.raises(UsageError, match=r"needs 'sbatch'.*--slurm-cluster local"):
        run([job("a")], updates, settings=SlurmSettings())
    assert updates == []


def test_a_worker_that_cannot_read_the_request_fails_the_job_with_its_traceback(
    jobs_plugin, isolated, monkeypatch
):
    # as when a node has another framework version: the request has a field it lacks
    import framework_slurm.executor as slurm

    plain = slurm.request_to_dict
    monkeypatch.setattr(slurm, "request_to_dict", lambda r: {**plain(r), "bogus": 1})
    (result,) = run([job("odd")])
    assert result.status == "failed"
    assert "the job could not run: TypeError:" in result.error
    assert "bogus" in result.error and "log: " in result.error
    assert "Traceback" in result.traceback
