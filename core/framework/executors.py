"""Where jobs run. An executor takes run requests and reports how each one ended.

Executors are plugins (``register_executors``); the built-in ``local`` one runs jobs one
after another in this process. Each job is a whole run with its own run dir and
manifest; requests are plain data, so other executors can ship them to other processes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

import attrs

from framework.errors import FrameworkError
from framework.manifest import new_run_id
from framework.runner import RunRequest, run_job


@attrs.define
class JobResult:
    """How one job ended: its run id, its status, and the error if it failed."""

    request: RunRequest
    run_id: str
    status: str  # completed | failed | interrupted
    error: str | None = None
    exit_code: int = 0
    exception: BaseException | None = attrs.field(default=None, repr=False, eq=False)


class Executor(Protocol):
    """The interface every executor implements."""

    name: str

    def run(
        self, requests: Iterable[RunRequest], plugins: Any = None, *, fail_fast: bool = False
    ) -> list[JobResult]:
        """Run every request (in any order) and return one result per request run."""
        ...


def with_run_id(request: RunRequest) -> RunRequest:
    """The request with its run id fixed up front, so a failed job can still be found."""
    return request if request.run_id else attrs.evolve(request, run_id=new_run_id())


class LocalExecutor:
    """Runs the jobs sequentially in this process, with one plugin manager for all."""

    name = "local"

    def run(
        self, requests: Iterable[RunRequest], plugins: Any = None, *, fail_fast: bool = False
    ) -> list[JobResult]:
        from framework.plugins import Plugins

        plugins = plugins or Plugins()
        results = []
        for request in map(with_run_id, requests):
            assert request.run_id is not None
            try:
                outcome = run_job(request, plugins)
                results.append(JobResult(request, outcome.run_id, outcome.status))
            except KeyboardInterrupt:
                results.append(
                    JobResult(request, request.run_id, "interrupted", "interrupted", 130)
                )
                break
            except Exception as exc:
                code = exc.exit_code if isinstance(exc, FrameworkError) else 1
                results.append(JobResult(request, request.run_id, "failed", str(exc), code, exc))
                if fail_fast:
                    break
        return results


def run_jobs(
    requests: Iterable[RunRequest], executor: str = "local", *, fail_fast: bool = False
) -> list[JobResult]:
    """Run jobs on a registered executor with a fresh plugin manager.

    For plugin commands that launch several runs (a study): each request is a whole
    run with its own manifest, exactly as `framework run` would make it.
    """
    from framework.plugins import Plugins

    plugins = Plugins()
    return plugins.executor(executor).run(list(requests), plugins, fail_fast=fail_fast)
