"""The ray executor, against a real local Ray cluster (2 CPUs, no GPU) shared by the session."""

from __future__ import annotations

import pytest
from framework import Resources, UsageError, run_jobs
from framework_ray.executor import RaySettings

from tests.conftest import read_manifest
from tests.plugins.jobs import (
    Updates,
    check_a_failing_job_fails_alone,
    check_ctrl_c_cancels_the_outstanding_jobs,
    check_each_job_completes_in_its_own_run,
    check_fail_fast_cancels_what_runs_or_waits,
    job,
)

ray = pytest.importorskip("ray")


def run(requests, updates=None, **options):
    if updates is not None:
        options["report"] = updates.append
    return run_jobs(requests, "ray", **options)


def test_each_job_is_a_ray_task_with_its_own_run_manifest_and_log(ray_jobs, isolated):
    _, updates = check_each_job_completes_in_its_own_run(
        run, isolated / "runs", log_dir=isolated / "logs"
    )
    for run_id, value in (("a", 3), ("b", 5)):
        assert f"echo {value} ok" in (isolated / "logs" / f"{run_id}.log").read_text()
    running = [u for u in updates if u.status == "running"]
    assert all(u.where and ":" in u.where for u in running)  # host:pid of the Ray worker
    assert ray.is_initialized()  # it reused the session's Ray and left it running


def test_a_failing_job_is_failed_with_its_traceback_and_the_others_complete(ray_jobs, isolated):
    check_a_failing_job_fails_alone(run, isolated / "runs")


def test_fail_fast_cancels_the_jobs_still_running_or_waiting(ray_jobs, isolated):
    check_fail_fast_cancels_what_runs_or_waits(run, isolated / "runs")


def test_a_worker_that_dies_is_lost_and_the_others_complete(ray_jobs, isolated):
    results = {r.run_id: r for r in run([job("dead", action="die"), job("alive")])}
    assert results["dead"].status == "lost"
    assert "died without an answer (WorkerCrashedError" in results["dead"].error
    assert results["alive"].status == "completed"


def test_ctrl_c_cancels_the_outstanding_jobs_gently_and_reraises(ray_jobs, isolated):
    check_ctrl_c_cancels_the_outstanding_jobs(run, isolated / "runs")


def test_the_submitting_shells_framework_settings_reach_the_workers(
    ray_jobs, isolated, monkeypatch
):
    monkeypatch.setenv("FRAMEWORK_SECONDS", "7")
    (result,) = run([job("env")])
    assert result.status == "completed"
    assert read_manifest(isolated / "runs" / "env")["config"]["jobs.echo"]["seconds"] == 7.0


@pytest.mark.parametrize(
    ("resources", "asked"),
    [
        (Resources(gpus_per_job=1), "asks for 1 CPU, 1 GPU,"),
        (Resources(cpus_per_job=64), "asks for 64 CPUs, 0 GPUs,"),
        (Resources(mem_gb=1_000_000), "1000000.0 GB memory, but"),
    ],
)
def test_a_job_bigger_than_any_node_fails_before_anything_is_submitted(
    ray_jobs, isolated, resources, asked
):
    updates = Updates()
    with pytest.raises(UsageError, match="no node of the Ray cluster has that") as error:
        run([job("big")], updates, resources=resources)
    assert asked in str(error.value)
    assert "at most 2 CPUs, 0 GPUs" in str(error.value)
    assert updates == []
    assert not (isolated / "runs").exists()


def test_a_ray_client_address_is_refused_with_what_to_use_instead(ray_jobs, isolated):
    with pytest.raises(
        UsageError, match=r"Ray Client addresses are not supported.*--ray-address auto"
    ):
        run([job("a")], settings=RaySettings(ray_address="ray://head:10001"))


def test_a_worker_that_cannot_read_the_request_fails_the_job_with_its_traceback(
    ray_jobs, isolated, monkeypatch
):
    # as when a node has another framework version: the request has a field it lacks
    import framework_ray.executor as ray_executor

    plain = ray_executor.request_to_dict
    monkeypatch.setattr(ray_executor, "request_to_dict", lambda r: {**plain(r), "bogus": 1})
    (result,) = run([job("odd")])
    assert result.status == "failed"
    assert "the job could not run: TypeError:" in result.error
    assert "bogus" in result.error
    assert "TypeError" in result.traceback


def test_an_address_where_no_ray_head_answers_is_one_clear_error_at_once():
    import socket

    from framework_ray.executor import check_address

    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(UsageError, match=f"cannot reach the Ray cluster at 127.0.0.1:{port}"):
        check_address(f"127.0.0.1:{port}")
    check_address("auto")  # left to Ray, which answers at once
