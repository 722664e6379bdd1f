"""The executor contract: a batch of run requests in, one final state per job out.

Executors are plugins (``register_executors``). The built-in ones (this folder) are
``local``, in this process one job after another, and ``process``, a Python process per
job; the ``framework-slurm`` and ``framework-ray`` distributions add cluster ones. Each
job is a whole run with its own run dir and manifest. Requests are plain data and a
worker rebuilds the plugin manager from entry points (`.worker`), so nothing
unpicklable crosses a process boundary.

The contract every executor keeps (`Executor.run`; `follow.follow_jobs` keeps it for you):

- call ``batch.report(JobUpdate(...))`` on every change of a job's state: ``queued`` when
  submitted, ``running`` when it starts (if the engine says so), then exactly one final
  state: ``completed``, ``failed`` (the job raised: error and traceback), ``interrupted``,
  ``lost`` (the worker died without an answer: the sweep may retry it) or ``cancelled``;
- with ``batch.fail_fast``, cancel what has not finished after the first failure;
- on KeyboardInterrupt, cancel everything outstanding (reporting ``cancelled``) and
  re-raise; the caller records what happened from the updates it got;
- return one `JobResult` per request that reached a final state.

An executor class may declare ``settings``, an attrs class of its own options (a
cluster's partition, an address): `framework sweep` then offers each field as an option
and reads it from the config's ``sweep:`` section, and hands the built instance over as
``batch.settings``. ``shares_terminal = True`` says the jobs print on the sweep's own
terminal (they then run quietly).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

import attrs

from framework.config import field
from framework.manifest import new_run_id
from framework.runner import RunRequest

FINAL = ("completed", "failed", "interrupted", "lost", "cancelled")


@attrs.define
class JobResult:
    """How one job ended: its run id, its status, and the error if it failed."""

    request: RunRequest
    run_id: str
    status: str  # one of FINAL
    error: str | None = None
    exit_code: int = 0
    exception: BaseException | None = attrs.field(default=None, repr=False, eq=False)
    where: str | None = None  # host:pid, Slurm job id, Ray node
    traceback: str | None = None


@attrs.frozen
class JobUpdate:
    """A job changed state (what the live table and the sweep manifest follow)."""

    run_id: str
    status: str  # queued | running | one of FINAL
    where: str | None = None
    error: str | None = None
    traceback: str | None = None


@attrs.define
class Resources:
    """What one job may use, whatever runs it.

    Read from `framework sweep` options or the ``sweep:`` section of a config file;
    a cluster executor's own options (partition, address) are its ``settings``.
    """

    cpus_per_job: int = field(1, min=1, help="CPU cores per job")
    nproc_per_job: int = field(
        1, min=1, help="processes per job through torch's launcher (one per GPU, DDP steps)"
    )
    gpus_per_job: int = field(0, min=0, help="GPUs per job (slurm: GPUs per node; ray: num_gpus)")
    mem_gb: float | None = field(
        None, min=0.0, help="memory per job in GB (slurm --mem, ray memory)"
    )


def _ignore(update: JobUpdate) -> None:
    pass


@attrs.define
class Batch:
    """What an executor is asked to do: run these requests, within these limits."""

    requests: list[RunRequest]
    resources: Resources = attrs.Factory(Resources)
    max_parallel: int | None = None  # None: the executor's own default
    fail_fast: bool = False
    log_dir: Path | None = None  # per-job logs of executors that run workers elsewhere
    report: Callable[[JobUpdate], None] = _ignore
    plugins: Any = None  # the caller's plugin manager, for in-process executors
    debug: bool = False  # --debug: engines may talk on the terminal (Ray's own logs)
    settings: Any = None  # an instance of the executor's `settings` class, if it has one

    def remote_requests(self) -> list[RunRequest]:
        """The requests with run ids and absolute paths, for workers on other machines."""
        from framework.builtin.executors.worker import portable

        return [portable(with_run_id(r)) for r in self.requests]

    def finished(self, result: JobResult) -> None:
        """Report a job's final state from its result."""
        self.report(
            JobUpdate(result.run_id, result.status, result.where, result.error, result.traceback)
        )


class Executor(Protocol):
    """The interface every executor implements (see the module docstring)."""

    name: str
    settings: type | None  # optional: an attrs class of the executor's own options
    shares_terminal: bool  # optional: jobs print on the sweep's terminal (run them quiet)

    def run(self, batch: Batch) -> list[JobResult]: ...


def with_run_id(request: RunRequest) -> RunRequest:
    """The request with its run id fixed up front, so a failed job can still be found."""
    return request if request.run_id else attrs.evolve(request, run_id=new_run_id())


def here() -> str:
    """``host:pid`` of this process: where a job ran."""
    import os
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"


def run_jobs(
    requests: Iterable[RunRequest],
    executor: str = "local",
    *,
    fail_fast: bool = False,
    resources: Resources | None = None,
    max_parallel: int | None = None,
    report: Callable[[JobUpdate], None] | None = None,
    log_dir: Path | None = None,
    settings: Any = None,
) -> list[JobResult]:
    """Run jobs on a registered executor with a fresh plugin manager.

    For plugin commands that launch several runs: each request is a whole run with its
    own manifest, exactly as `framework run` would make it. `settings` are the
    executor's own options (an instance of its ``settings`` class).
    """
    from framework.plugins import Plugins

    plugins = Plugins()
    batch = Batch(
        list(requests),
        resources or Resources(),
        max_parallel,
        fail_fast,
        log_dir,
        report or _ignore,
        plugins,
        settings=settings,
    )
    return plugins.executor(executor).run(batch)
