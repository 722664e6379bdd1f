"""The executor interface and the built-in local executor."""

from __future__ import annotations

from framework import Batch
from framework.plugins import Plugins
from framework.runner import RunRequest

from tests.conftest import read_manifest


def local(plugins: Plugins):
    return plugins.executor("local")


def test_local_executor_is_a_registered_executor(pipeline):
    plugins = Plugins()
    assert "local" in plugins.executors
    assert local(plugins).name == "local"


def test_each_job_is_its_own_run_with_its_own_manifest(pipeline, isolated):
    plugins = Plugins()
    jobs = [
        RunRequest(target="pipe.report", run_id="a", flags={"scale": ("2", "--scale")}),
        RunRequest(target="pipe.report", run_id="b", flags={"scale": ("5", "--scale")}),
    ]
    results = local(plugins).run(Batch(jobs, plugins=plugins))
    assert [(r.run_id, r.status) for r in results] == [("a", "completed"), ("b", "completed")]
    assert read_manifest(isolated / "runs" / "a")["config"]["pipe.train"]["scale"] == 2.0
    assert read_manifest(isolated / "runs" / "b")["config"]["pipe.train"]["scale"] == 5.0


def test_a_failing_job_is_recorded_and_the_others_still_run(pipeline, isolated):
    plugins = Plugins()
    jobs = [
        RunRequest(target="pipe.report", run_id="bad", flags={"mode": ("median", "--mode")}),
        RunRequest(target="pipe.report", run_id="good"),
    ]
    bad, good = local(plugins).run(Batch(jobs, plugins=plugins))
    assert (bad.status, bad.exit_code) == ("failed", 2)
    assert "median" in bad.error
    assert good.status == "completed"


def test_fail_fast_stops_after_the_first_failure(pipeline, isolated):
    plugins = Plugins()
    jobs = [
        RunRequest(target="pipe.nope", run_id="x"),
        RunRequest(target="pipe.report", run_id="never"),
    ]
    results = local(plugins).run(Batch(jobs, fail_fast=True, plugins=plugins))
    assert [r.status for r in results] == ["failed"]
    assert not (isolated / "runs" / "never").exists()


def test_a_job_without_run_id_gets_one_before_it_starts(pipeline, isolated):
    plugins = Plugins()
    (result,) = local(plugins).run(Batch([RunRequest(target="pipe.report")], plugins=plugins))
    assert result.run_id
    assert read_manifest(isolated / "runs" / result.run_id)["status"] == "completed"


def test_run_jobs_is_public_and_runs_each_request_as_its_own_run(pipeline, isolated):
    import framework

    jobs = [framework.RunRequest(target="pipe.report", run_id=rid) for rid in ("p", "q")]
    results = framework.run_jobs(jobs)
    assert [(r.run_id, r.status) for r in results] == [("p", "completed"), ("q", "completed")]
    assert read_manifest(isolated / "runs" / "q")["status"] == "completed"
