"""Built-in plugin: the local executor, which runs jobs one after another in this process."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from framework.hookspecs import hookimpl


@attrs.define
class JobResult:
    """How one job ended: its run id and status, and the error message if it failed."""

    request: Any
    run_id: str | None
    status: str
    error: str | None = None
    exception: BaseException | None = attrs.field(default=None, repr=False, eq=False)


class LocalExecutor:
    """Runs each request with the given plugin manager, sequentially, in this process."""

    name = "local"

    def run(
        self, requests: Iterable[Any], plugins: Any = None, *, fail_fast: bool = False
    ) -> list[JobResult]:
        from framework.errors import FrameworkError
        from framework.plugins import Plugins
        from framework.runner import run_job

        plugins = plugins or Plugins()
        results = []
        for request in requests:
            try:
                outcome = run_job(request, plugins)
                results.append(JobResult(request, outcome.run_id, outcome.status))
            except (FrameworkError, Exception) as exc:
                results.append(JobResult(request, request.run_id, "failed", str(exc), exc))
                if fail_fast:
                    break
        return results


@hookimpl
def register_executors(register: Any) -> None:
    register("local", "framework.builtin.local_executor:LocalExecutor")
