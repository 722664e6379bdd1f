"""Fixtures for the executors (the slurm and ray distributions' tests): a step that succeeds, raises, dies or sleeps on
demand, and one local Ray cluster for the whole test session."""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from framework import JobResult, RunRequest

from tests.conftest import PluginSite, read_manifest

# The `jobs` plugin: one step whose `action` says how the job ends.
JOBS_PLUGIN = """
import os, signal, time
import attrs
from framework import Step, hookimpl, field

@attrs.define
class EchoConfig:
    value: int = field(1, help="the number the job writes")
    action: str = field("ok", choices=["ok", "raise", "die", "sleep"], help="how the job ends")
    seconds: float = field(60.0, min=0.0, help="how long 'sleep' sleeps")
    wait_for: str = field("", help="a file to wait for before anything else (up to 60 s)")

def echo(ctx):
    cfg = ctx.config
    print("echo", cfg.value, cfg.action, flush=True)
    give_up = time.monotonic() + 60
    while cfg.wait_for and not os.path.exists(cfg.wait_for) and time.monotonic() < give_up:
        time.sleep(0.05)
    if cfg.action == "raise":
        raise ValueError(f"asked to fail with value {cfg.value}")
    if cfg.action == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    if cfg.action == "sleep":
        (ctx.run_dir / "sleeping").touch()  # inside the step: what `wait_for` can wait for
        deadline = time.monotonic() + cfg.seconds
        while time.monotonic() < deadline:
            time.sleep(0.05)
    ctx.write_json("value.json", {"value": cfg.value, "pid": os.getpid()})

@hookimpl
def register_steps(register):
    register(Step(id="jobs.echo", run=__name__ + ":echo", config=__name__ + ":EchoConfig",
                  outputs=["value.json"], description="write a number, or fail as asked"))
"""


def job(run_id: str, value: int = 1, action: str = "ok", **more: str) -> RunRequest:
    """A request for `jobs.echo`, as `framework run jobs.echo --value V --action A` makes it."""
    flags = {"value": (str(value), "--value"), "action": (action, "--action")}
    flags.update({k: (v, f"--{k}") for k, v in more.items()})
    return RunRequest(target="jobs.echo", run_id=run_id, flags=flags)


class Updates(list):
    """The JobUpdates an executor reported, in order."""

    def statuses(self, run_id: str) -> list[str]:
        return [u.status for u in self if u.run_id == run_id]

    def final(self, run_id: str):
        return [u for u in self if u.run_id == run_id][-1]


# -- the executor contract, checked the same way for every cluster executor -------------
# Each takes `run`: `run(requests, report=None, **options)` on the executor under test.


def check_each_job_completes_in_its_own_run(
    run: Callable[..., list[JobResult]], runs: Path, **options: object
) -> tuple[list[JobResult], Updates]:
    """Two jobs, each a run of its own with its own config and the three updates."""
    updates = Updates()
    results = run([job("a", 3), job("b", 5)], report=updates.append, **options)
    assert sorted((r.run_id, r.status) for r in results) == [("a", "completed"), ("b", "completed")]
    for run_id, value in (("a", 3), ("b", 5)):
        manifest = read_manifest(runs / run_id)
        assert manifest["status"] == "completed"
        assert manifest["config"]["jobs.echo"]["value"] == value
        assert updates.statuses(run_id) == ["queued", "running", "completed"]
    return results, updates


def check_a_failing_job_fails_alone(run: Callable[..., list[JobResult]], runs: Path) -> None:
    results = {r.run_id: r for r in run([job("bad", 7, "raise"), job("good")])}
    bad, good = results["bad"], results["good"]
    assert (bad.status, bad.exit_code) == ("failed", 1)
    assert "asked to fail with value 7" in bad.error
    assert "ValueError: asked to fail" in bad.traceback
    assert good.status == "completed"
    assert read_manifest(runs / "bad")["status"] == "failed"


def check_fail_fast_cancels_what_runs_or_waits(
    run: Callable[..., list[JobResult]], runs: Path
) -> Updates:
    updates = Updates()
    # `slow` starts first, so it is inside its step when `bad` fails
    requests = [job("slow", action="sleep"), job("bad", action="raise"), job("later")]
    results = run(requests, report=updates.append, fail_fast=True, max_parallel=2)
    assert [(r.run_id, r.status) for r in results] == [("bad", "failed")]
    assert updates.final("slow").status == "cancelled"
    assert updates.statuses("later") == ["queued", "cancelled"]
    assert not (runs / "later").exists()
    return updates


def check_ctrl_c_cancels_the_outstanding_jobs(
    run: Callable[..., list[JobResult]], runs: Path
) -> None:
    updates = Updates()

    def report(update):  # Ctrl+C once `quick` is done: it waited for `slow` to be sleeping
        updates.append(update)
        if update.run_id == "quick" and update.status == "completed":
            raise KeyboardInterrupt

    sleeping = str(runs / "slow" / "sleeping")
    with pytest.raises(KeyboardInterrupt):
        run(
            [job("slow", action="sleep"), job("quick", wait_for=sleeping), job("waiting")],
            report=report,
            max_parallel=2,
        )
    assert updates.final("slow").status == "cancelled"
    assert updates.statuses("waiting") == ["queued", "cancelled"]
    assert read_manifest(runs / "slow")["status"] == "interrupted"
    assert not (runs / "waiting").exists()


@pytest.fixture
def jobs_plugin(plugin_site):
    """The `jobs` plugin, installed for this test and for the processes it starts."""
    return plugin_site.add("jobs", JOBS_PLUGIN)


@pytest.fixture(scope="package")
def ray_cluster(tmp_path_factory):
    """A local Ray cluster (2 CPUs, no GPU) whose workers can import the `jobs` plugin.

    Workers inherit the environment Ray starts with, so the plugin's directory is on
    PYTHONPATH only while Ray starts; tests load it through `ray_jobs`. Shared by the
    ray tests alone (package scope): Ray is shut down as soon as they end, so the rest of
    the suite neither forks with Ray's threads nor waits for them when pytest exits.
    """
    ray = pytest.importorskip("ray")
    patch = pytest.MonkeyPatch()
    site = PluginSite(tmp_path_factory.mktemp("ray") / "site", patch)
    site.add("jobs", JOBS_PLUGIN)
    for key in [k for k in os.environ if k.startswith("FRAMEWORK_")]:
        patch.delenv(key)  # the tests hand their FRAMEWORK_* settings to each task
    try:
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.ERROR,
        )
    finally:
        patch.undo()
    try:
        yield site.root
    finally:
        ray.shutdown()


@pytest.fixture
def ray_jobs(ray_cluster, monkeypatch):
    """The `jobs` plugin for this test (driver side; the Ray workers already see it)."""
    monkeypatch.syspath_prepend(str(ray_cluster))
    monkeypatch.setenv("FRAMEWORK_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("FRAMEWORK_PLUGINS", "jobs,ray")
    importlib.invalidate_caches()
    yield
    for key in [k for k in sys.modules if k.startswith("fwtest_jobs")]:
        del sys.modules[key]
