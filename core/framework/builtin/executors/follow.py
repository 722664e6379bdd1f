"""What every executor shares: how a worker's answer becomes a result (and how a job that
got none is said: lost, not run, cancelled), and the loop that starts jobs, collects the
finished ones, stops at the first failure (``fail_fast``) and cancels what is outstanding
on Ctrl+C.

An executor supplies an `Engine` (start some jobs, say which ended, stop the rest)
and calls `follow_jobs`; the reporting contract of `Executor.run` is kept here once.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Mapping
from typing import Any, Protocol

from framework.builtin.executors.batch import Batch, JobResult, JobUpdate
from framework.request import RunRequest


def job_result(
    request: RunRequest, answer: Mapping[str, Any], where: str | None = None
) -> JobResult:
    """A worker's answer (``{run_id, status, error, exit_code, where, traceback}``) as a result.

    `where` is used when the answer does not say where the job ran.
    """
    return JobResult(
        request,
        answer.get("run_id") or str(request.run_id),
        answer["status"],
        answer.get("error"),
        int(answer.get("exit_code", 0)),
        where=answer.get("where") or where,
        traceback=answer.get("traceback"),
    )


def job_lost(
    request: RunRequest,
    how: str,
    log: object,
    *,
    where: str | None = None,
    traceback: str | None = None,
    exit_code: int = 1,
) -> JobResult:
    """A job whose worker ended without an answer: `how` (its exit, the engine's word)
    and where its `log` is. The sweep may run it again (``--retries``)."""
    error = f"the worker died without an answer ({how}); log: {log}"
    return JobResult(
        request, str(request.run_id), "lost", error, exit_code, where=where, traceback=traceback
    )


def job_not_run(
    request: RunRequest, why: str, *, where: str | None = None, traceback: str | None = None
) -> JobResult:
    """A job its worker could not run (the node lacks a package, or cannot read the request)."""
    error = f"the job could not run: {why}"
    return JobResult(
        request, str(request.run_id), "failed", error, 1, where=where, traceback=traceback
    )


def job_cancelled(run_id: str, where: str | None = None) -> JobUpdate:
    """The final update of a started job that was cancelled before it ended."""
    return JobUpdate(run_id, "cancelled", where, "cancelled")


class Engine(Protocol):
    """The part of an executor that knows its engine (processes, Slurm, Ray)."""

    def start(self, requests: list[RunRequest]) -> None:
        """Start these jobs (report ``running`` when the engine says one started)."""

    def poll(self) -> list[JobResult]:
        """Wait a moment; the results of the jobs that ended since the last call."""

    def cancel(self) -> list[JobUpdate]:
        """Stop every started job that has not ended; their final updates."""


def follow_jobs(
    batch: Batch, requests: list[RunRequest], engine: Engine, parallel: int
) -> list[JobResult]:
    """Run `requests` on `engine`, at most `parallel` at once, reporting every change.

    Every request is reported ``queued`` first and ends in exactly one final state. After
    the first failure with ``batch.fail_fast``, and on any exception (Ctrl+C included),
    what has not ended is cancelled; the exception is re-raised.
    """
    pending = deque(requests)
    running: set[str] = set()
    results: list[JobResult] = []
    for request in requests:
        batch.report(JobUpdate(str(request.run_id), "queued"))
    try:
        while pending or running:
            free = max(0, parallel - len(running))
            starting = list(itertools.islice(pending, free))
            if starting:
                engine.start(starting)
                for request in starting:
                    pending.popleft()
                    running.add(str(request.run_id))
            for result in engine.poll():
                running.discard(str(result.request.run_id))
                results.append(result)
                batch.finished(result)
                if result.status == "failed" and batch.fail_fast:
                    _cancel(batch, pending, engine)
                    return results
    except BaseException:
        _cancel(batch, pending, engine)
        raise
    return results


def _cancel(batch: Batch, pending: deque[RunRequest], engine: Engine) -> None:
    for request in pending:
        batch.report(JobUpdate(str(request.run_id), "cancelled"))
    pending.clear()
    for update in engine.cancel():
        batch.report(update)
