"""The ``process`` executor: each job in a Python process of its own, several at a time.

A job is ``python -m framework.builtin.executors.worker REQUEST.json ANSWER.json`` with its output in
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
from pathlib import Path
from typing import IO, Any

import attrs

from framework.builtin.executors.batch import Batch, JobResult, JobUpdate, with_run_id
from framework.builtin.executors.follow import follow_jobs, job_cancelled, job_lost, job_result
from framework.builtin.executors.worker import request_to_dict
from framework.request import RunRequest

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
        cpus = batch.resources.cpus_per_job
        parallel = batch.max_parallel or max(1, (os.cpu_count() or 1) // cpus)
        log_dir = batch.log_dir or Path(tempfile.mkdtemp(prefix="framework-jobs-"))
        log_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(var, str(cpus))  # parallel jobs should not fight over every core
        engine = _Processes(batch, log_dir, env)
        return follow_jobs(batch, [with_run_id(r) for r in batch.requests], engine, parallel)


class _Processes:
    """Starts, polls and stops the worker processes of one batch."""

    def __init__(self, batch: Batch, log_dir: Path, env: dict[str, str]) -> None:
        self.batch = batch
        self.log_dir = log_dir
        self.env = env
        self.running: dict[str, _Job] = {}

    def start(self, requests: list[RunRequest]) -> None:
        for request in requests:
            job = self._start(request)
            self.running[str(request.run_id)] = job
            self.batch.report(JobUpdate(str(request.run_id), "running", job.where))

    def poll(self) -> list[JobResult]:
        ended = [run_id for run_id, job in self.running.items() if job.process.poll() is not None]
        if not ended:
            time.sleep(POLL_S)
        return [self._collect(self.running.pop(run_id)) for run_id in ended]

    def _start(self, request: RunRequest) -> _Job:
        run_id = str(request.run_id)
        request_file = self.log_dir / f"{run_id}.request.json"
        request_file.write_text(json.dumps(request_to_dict(request)), encoding="utf-8")
        answer = self.log_dir / f"{run_id}.answer.json"
        answer.unlink(missing_ok=True)
        log = self.log_dir / f"{run_id}.log"
        log_file = open(log, "ab")  # noqa: SIM115 - closed when the job is collected
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "framework.builtin.executors.worker",
                str(request_file),
                str(answer),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=self.env,
        )
        import socket

        return _Job(
            request, process, answer, log, log_file, f"{socket.gethostname()}:{process.pid}"
        )

    def _collect(self, job: _Job) -> JobResult:
        job.log_file.close()
        code = job.process.returncode
        try:
            answer: dict[str, Any] = json.loads(job.answer.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            how = (
                f"killed by {signal.Signals(-code).name}"
                if code < 0 and -code in signal.Signals._value2member_map_
                else f"exit code {code}"
            )
            return job_lost(job.request, how, job.log, where=job.where, exit_code=code or 1)
        return job_result(job.request, answer, job.where)

    def cancel(self) -> list[JobUpdate]:
        """Stop the running jobs; each records itself as interrupted."""
        for job in self.running.values():
            with contextlib.suppress(ProcessLookupError):
                job.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + GRACE_S
        updates = []
        for run_id, job in self.running.items():
            try:
                job.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                job.process.kill()
                job.process.wait()
            job.log_file.close()
            updates.append(job_cancelled(run_id, job.where))
        self.running.clear()
        return updates
