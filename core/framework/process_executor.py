"""The ``process`` executor: each job in a Python process of its own, several at a time.

A job is ``python -m framework.worker REQUEST.json ANSWER.json`` with its output in
``<log_dir>/<run_id>.log``. A process per job (not a pool) means a job that dies (killed,
out of memory, a crash in native code) takes only itself down and is reported as
``lost`` with its exit code, and cancelling one job is stopping one process.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import IO, Any

import attrs

from framework.executors import Batch, JobResult, JobUpdate, with_run_id
from framework.runner import RunRequest
from framework.worker import request_to_dict

POLL_S = 0.05
GRACE_S = 20.0  # how long a stopped job may take to record that it was interrupted


@attrs.define
class _Job:
    request: RunRequest
    process: subprocess.Popen[bytes]
    answer: Path
    log: Path
    log_file: IO[bytes]
    where: str


class ProcessExecutor:
    """Runs up to ``max_parallel`` jobs at once (default: cores / cpus_per_job)."""

    name = "process"

    def run(self, batch: Batch) -> list[JobResult]:
        requests = [with_run_id(r) for r in batch.requests]
        cpus = batch.resources.cpus_per_job
        parallel = batch.max_parallel or max(1, (os.cpu_count() or 1) // cpus)
        log_dir = batch.log_dir or Path(tempfile.mkdtemp(prefix="framework-jobs-"))
        log_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(var, str(cpus))  # parallel jobs should not fight over every core

        pending = deque(requests)
        running: dict[str, _Job] = {}
        results: list[JobResult] = []
        for request in requests:
            batch.report(JobUpdate(str(request.run_id), "queued"))
        try:
            while pending or running:
                while pending and len(running) < parallel:
                    job = self._start(pending.popleft(), log_dir, env)
                    running[str(job.request.run_id)] = job
                    batch.report(JobUpdate(str(job.request.run_id), "running", job.where))
                for run_id, job in list(running.items()):
                    if job.process.poll() is None:
                        continue
                    del running[run_id]
                    result = self._collect(job)
                    results.append(result)
                    batch.finished(result)
                    if result.status == "failed" and batch.fail_fast:
                        self._cancel(batch, pending, running)
                        return results
                time.sleep(POLL_S)
        except KeyboardInterrupt:
            self._cancel(batch, pending, running)
            raise
        return results

    def _start(self, request: RunRequest, log_dir: Path, env: dict[str, str]) -> _Job:
        run_id = str(request.run_id)
        request_file = log_dir / f"{run_id}.request.json"
        request_file.write_text(json.dumps(request_to_dict(request)), encoding="utf-8")
        answer = log_dir / f"{run_id}.answer.json"
        answer.unlink(missing_ok=True)
        log = log_dir / f"{run_id}.log"
        log_file = open(log, "ab")  # noqa: SIM115 - closed when the job is collected
        process = subprocess.Popen(
            [sys.executable, "-m", "framework.worker", str(request_file), str(answer)],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
        )
        import socket

        return _Job(
            request, process, answer, log, log_file, f"{socket.gethostname()}:{process.pid}"
        )

    def _collect(self, job: _Job) -> JobResult:
        job.log_file.close()
        run_id = str(job.request.run_id)
        code = job.process.returncode
        try:
            answer: dict[str, Any] = json.loads(job.answer.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            how = (
                f"killed by {signal.Signals(-code).name}"
                if code < 0 and -code in signal.Signals._value2member_map_
                else f"exit code {code}"
            )
            return JobResult(
                job.request,
                run_id,
                "lost",
                f"worker process died without an answer ({how}); log: {job.log}",
                code or 1,
                where=job.where,
            )
        return JobResult(
            job.request,
            answer.get("run_id") or run_id,
            answer["status"],
            answer.get("error"),
            int(answer.get("exit_code", 0)),
            where=answer.get("where") or job.where,
            traceback=answer.get("traceback"),
        )

    def _cancel(self, batch: Batch, pending: deque[RunRequest], running: dict[str, _Job]) -> None:
        """Stop the running jobs (each records itself as interrupted) and drop the queue."""
        for request in pending:
            batch.report(JobUpdate(str(request.run_id), "cancelled"))
        pending.clear()
        for job in running.values():
            with contextlib.suppress(ProcessLookupError):
                job.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + GRACE_S
        for run_id, job in running.items():
            try:
                job.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                job.process.kill()
                job.process.wait()
            job.log_file.close()
            batch.report(JobUpdate(run_id, "cancelled", job.where, "cancelled"))
        running.clear()
