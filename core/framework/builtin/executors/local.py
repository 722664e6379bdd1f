"""The ``local`` executor: the jobs one after another in this process."""

from __future__ import annotations

from typing import Any

from framework.builtin.executors.batch import Batch, JobResult, JobUpdate, here, with_run_id
from framework.builtin.executors.follow import follow_jobs
from framework.errors import FrameworkError
from framework.runner import RunRequest


class LocalExecutor:
    """Runs the jobs sequentially in this process, with one plugin manager for all."""

    name = "local"
    shares_terminal = True  # the jobs print on the sweep's terminal

    def run(self, batch: Batch) -> list[JobResult]:
        from framework.plugins import Plugins

        engine = _InProcess(batch, batch.plugins or Plugins())
        return follow_jobs(batch, [with_run_id(r) for r in batch.requests], engine, parallel=1)


class _InProcess:
    """Runs a started job when polled: the loop waits on nothing else."""

    def __init__(self, batch: Batch, plugins: Any) -> None:
        self.batch = batch
        self.plugins = plugins
        self.where = here()
        self.queue: list[RunRequest] = []
        self.current: str | None = None

    def start(self, requests: list[RunRequest]) -> None:
        self.queue.extend(requests)

    def poll(self) -> list[JobResult]:
        import traceback

        from framework.runner import run_job

        request = self.queue.pop(0)
        self.current = str(request.run_id)
        self.batch.report(JobUpdate(self.current, "running", self.where))
        try:
            outcome = run_job(request, self.plugins)
            result = JobResult(request, outcome.run_id, outcome.status, where=self.where)
        except Exception as exc:
            code = exc.exit_code if isinstance(exc, FrameworkError) else 1
            result = JobResult(
                request, self.current, "failed", str(exc), code, exc, self.where,
                traceback.format_exc(),
            )  # fmt: skip
        self.current = None
        return [result]

    def cancel(self) -> list[JobUpdate]:
        """Ctrl+C while a job ran: that job records itself as interrupted."""
        queued = [JobUpdate(str(r.run_id), "cancelled") for r in self.queue]
        if self.current is None:
            return queued
        return [JobUpdate(self.current, "interrupted", self.where, "interrupted"), *queued]
