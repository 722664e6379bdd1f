"""Where jobs run. An executor takes a batch of run requests and reports how each one ends.

Executors are plugins (``register_executors``). Built in: ``local`` runs the jobs one after
another in this process; ``process`` runs each in its own Python process, several at a
time; ``slurm`` (submitit) and ``ray`` ship them to a cluster. Each job is a whole run
with its own run dir and manifest. Requests are plain data and a worker rebuilds the
plugin manager from entry points (`framework.worker`), so nothing unpicklable crosses
a process boundary.

The contract every executor keeps (`Executor.run`):

- call ``batch.report(JobUpdate(...))`` on every change of a job's state: ``queued`` when
  submitted, ``running`` when it starts (if the engine says so), then exactly one final
  state: ``completed``, ``failed`` (the job raised: error and traceback), ``interrupted``,
  ``lost`` (the worker died without an answer: the sweep may retry it) or ``cancelled``;
- with ``batch.fail_fast``, cancel what has not finished after the first failure;
- on KeyboardInterrupt, cancel everything outstanding (reporting ``cancelled``) and
  re-raise; the caller records what happened from the updates it got;
- return one `JobResult` per request that reached a final state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

import attrs

from framework.config import field
from framework.errors import FrameworkError
from framework.manifest import new_run_id
from framework.runner import RunRequest, run_job

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
    """What one job may use, and where a cluster executor sends it.

    Read from `framework sweep` options or the ``sweep:`` section of a config file.
    """

    cpus_per_job: int = field(1, min=1, help="CPU cores per job")
    nproc_per_job: int = field(
        1, min=1, help="processes per job through torch's launcher (one per GPU, DDP steps)"
    )
    gpus_per_job: int = field(0, min=0, help="GPUs per job (slurm: GPUs per node; ray: num_gpus)")
    mem_gb: float | None = field(
        None, min=0.0, help="memory per job in GB (slurm --mem, ray memory)"
    )
    time_min: int = field(60, min=1, help="slurm: time limit per job in minutes")
    partition: str | None = field(None, help="slurm: partition to submit to")
    account: str | None = field(None, help="slurm: account to charge")
    slurm_args: dict[str, str] = field(
        attrs.Factory(dict), help="slurm: more sbatch options, e.g. {constraint: a100}"
    )
    slurm_cluster: str = field(
        "slurm",
        help="slurm: 'slurm', or 'local' to run the same job arrays as local processes (tests, no Slurm)",
    )
    ray_address: str | None = field(
        None, help="ray: cluster address ('auto', or the head's host:6379); none starts a local one"
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

    def finished(self, result: JobResult) -> None:
        """Report a job's final state from its result."""
        self.report(
            JobUpdate(result.run_id, result.status, result.where, result.error, result.traceback)
        )


class Executor(Protocol):
    """The interface every executor implements (see the module docstring)."""

    name: str

    def run(self, batch: Batch) -> list[JobResult]: ...


def with_run_id(request: RunRequest) -> RunRequest:
    """The request with its run id fixed up front, so a failed job can still be found."""
    return request if request.run_id else attrs.evolve(request, run_id=new_run_id())


def here() -> str:
    """``host:pid`` of this process: where a job ran."""
    import os
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"


class LocalExecutor:
    """Runs the jobs sequentially in this process, with one plugin manager for all."""

    name = "local"

    def run(self, batch: Batch) -> list[JobResult]:
        import traceback

        from framework.plugins import Plugins

        plugins = batch.plugins or Plugins()
        requests = [with_run_id(r) for r in batch.requests]
        for request in requests:
            batch.report(JobUpdate(str(request.run_id), "queued"))
        results: list[JobResult] = []
        where = here()
        for i, request in enumerate(requests):
            run_id = str(request.run_id)
            batch.report(JobUpdate(run_id, "running", where))
            try:
                outcome = run_job(request, plugins)
                result = JobResult(request, outcome.run_id, outcome.status, where=where)
            except KeyboardInterrupt:
                batch.report(JobUpdate(run_id, "interrupted", where, "interrupted"))
                for later in requests[i + 1 :]:
                    batch.report(JobUpdate(str(later.run_id), "cancelled"))
                raise
            except Exception as exc:
                code = exc.exit_code if isinstance(exc, FrameworkError) else 1
                result = JobResult(
                    request,
                    run_id,
                    "failed",
                    str(exc),
                    code,
                    exc,
                    where,
                    traceback.format_exc(),
                )
            results.append(result)
            batch.finished(result)
            if result.status == "failed" and batch.fail_fast:
                for later in requests[i + 1 :]:
                    batch.report(JobUpdate(str(later.run_id), "cancelled"))
                break
        return results


def run_jobs(
    requests: Iterable[RunRequest],
    executor: str = "local",
    *,
    fail_fast: bool = False,
    resources: Resources | None = None,
    max_parallel: int | None = None,
    report: Callable[[JobUpdate], None] | None = None,
    log_dir: Path | None = None,
) -> list[JobResult]:
    """Run jobs on a registered executor with a fresh plugin manager.

    For plugin commands that launch several runs: each request is a whole run with its
    own manifest, exactly as `framework run` would make it.
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
    )
    return plugins.executor(executor).run(batch)
