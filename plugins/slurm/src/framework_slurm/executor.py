"""The ``slurm`` executor: the jobs of a batch as one Slurm job array, through submitit.

Needs a machine where ``sbatch`` works (a login node). Each array task runs
`framework.run_in_worker` with the submitting shell's Python
(``sys.executable``) and environment, so the compute nodes must see the same Python
environment and the artifact root on a shared filesystem. submitit keeps each job's
files (the pickled request, the answer, the job's log) in ``<log_dir>/slurm/<job id>/``.

``slurm_cluster='local'`` runs the same jobs through submitit's local executor as
processes of this machine (no Slurm needed): what the tests use.
"""

from __future__ import annotations

import contextlib
import io
import logging
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import attrs
from framework import (
    Batch,
    JobResult,
    JobUpdate,
    Resources,
    RunRequest,
    UsageError,
    field,
    follow_jobs,
    job_cancelled,
    job_lost,
    job_not_run,
    job_result,
    request_to_dict,
    run_in_worker,
)

CLUSTERS = ("slurm", "local")
POLL_S = {"slurm": 2.0, "local": 0.1}
# A finished job's answer can reach the submitting machine's view of a network
# filesystem a little after Slurm says the job ended; a local job's cannot.
ANSWER_GRACE_S = {"slurm": 30.0, "local": 0.0}
# submitit asks sacct less and less often (every 10 minutes after a while); a sweep
# wants to see jobs start and die sooner than that.
SACCT_EVERY_S = 30.0
CANCEL_WAIT_S = 5.0  # local jobs: time to record that they were interrupted
LOG_TAIL_LINES = 20


def _submitit() -> Any:
    try:
        import submitit
    except ImportError:
        raise UsageError("the slurm executor needs submitit: pip install submitit") from None
    return submitit


@attrs.define
class SlurmSettings:
    """The slurm executor's own options (`framework sweep --partition ...`, or ``sweep:``)."""

    time_min: int = field(60, min=1, help="slurm: time limit per job in minutes")
    partition: str | None = field(None, help="slurm: partition to submit to")
    account: str | None = field(None, help="slurm: account to charge")
    slurm_args: dict[str, str] = field(
        factory=dict,
        aliases=["slurm_arg"],
        help="slurm: more sbatch options, e.g. {constraint: a100}",
    )
    slurm_cluster: str = field(
        "slurm",
        help="slurm: 'slurm', or 'local' to run the same job arrays as local processes (tests, no Slurm)",
    )


def submitit_parameters(
    resources: Resources, settings: SlurmSettings, max_parallel: int | None, name: str
) -> dict[str, Any]:
    """What `submitit.AutoExecutor.update_parameters` gets for one job of the batch."""
    params: dict[str, Any] = {
        "name": name,
        "timeout_min": settings.time_min,
        "nodes": 1,
        "tasks_per_node": 1,
        "cpus_per_task": resources.cpus_per_job,
        "stderr_to_stdout": True,  # one log file per job
    }
    if resources.gpus_per_job:
        params["gpus_per_node"] = resources.gpus_per_job
    if resources.mem_gb is not None:
        params["mem_gb"] = resources.mem_gb
    if settings.partition:
        params["slurm_partition"] = settings.partition
    if settings.account:
        params["slurm_account"] = settings.account
    if max_parallel:
        params["slurm_array_parallelism"] = max_parallel
    if settings.slurm_args:
        params["slurm_additional_parameters"] = {
            key.lstrip("-"): value for key, value in settings.slurm_args.items()
        }
    return params


@attrs.define
class _Job:
    request: RunRequest
    job: Any  # submitit.Job
    running: bool = False
    ended_at: float | None = None  # when the engine first said it ended without an answer

    @property
    def run_id(self) -> str:
        return str(self.request.run_id)


class SlurmExecutor:
    """Submits the batch as a job array (``--array=0-N%max_parallel``) and follows it."""

    name = "slurm"
    settings = SlurmSettings

    def run(self, batch: Batch) -> list[JobResult]:
        submitit = _submitit()
        settings = batch.settings or SlurmSettings()
        cluster = settings.slurm_cluster
        if cluster not in CLUSTERS:
            raise UsageError(
                f"unknown slurm cluster '{cluster}'",
                hint="use 'slurm', or 'local' to run the jobs as local processes",
            )
        if cluster == "slurm" and shutil.which("sbatch") is None:
            raise UsageError(
                "the slurm executor needs 'sbatch', and it is not on PATH on this machine",
                hint="run the sweep on a Slurm login node, or try it here with --slurm-cluster local",
            )
        requests = batch.remote_requests()
        if not requests:
            return []
        folder = _log_folder(batch, requests[0])
        try:
            executor = submitit.AutoExecutor(folder=folder / "%j", cluster=cluster)
        except RuntimeError as exc:  # sbatch without srun, and the like
            raise UsageError(f"cannot use Slurm here: {exc}") from None
        executor.update_parameters(
            **submitit_parameters(
                batch.resources, settings, batch.max_parallel, f"framework-{requests[0].target}"
            )
        )
        logger = logging.getLogger("submitit")
        level = logger.level
        if not batch.debug:  # its passing sacct hiccups stay off the terminal
            logger.setLevel(logging.ERROR)
        try:
            # Slurm throttles an array itself; submitit's local executor has no arrays,
            # so local jobs are started one by one as slots free up.
            parallel = len(requests) if cluster == "slurm" else batch.max_parallel or _cores(batch)
            engine = _Array(batch, executor, cluster)
            return follow_jobs(batch, requests, engine, parallel)
        finally:
            logger.setLevel(level)
            if cluster == "local":  # submitit's local controller leaves an empty '%j' behind
                with contextlib.suppress(OSError):
                    (folder / "%j").rmdir()


def _log_folder(batch: Batch, first: RunRequest) -> Path:
    """``<log_dir>/slurm``, else ``<artifact root>/.slurm``: somewhere every node can write."""
    if batch.log_dir:
        return batch.log_dir.resolve() / "slurm"
    return Path(first.artifact_root) / ".slurm"


class _Array:
    """Submits, polls and cancels the jobs of one batch, reporting when they start."""

    def __init__(self, batch: Batch, executor: Any, cluster: str):
        self.batch = batch
        self.executor = executor
        self.cluster = cluster
        self.active: dict[str, _Job] = {}
        self.refreshed = time.monotonic()

    def poll(self) -> list[JobResult]:
        self._refresh()
        ended = []
        for job in list(self.active.values()):
            result = self._check(job)
            if result is not None:
                del self.active[job.run_id]
                ended.append(result)
        if not ended:
            time.sleep(POLL_S[self.cluster])
        return ended

    # -- submission -----------------------------------------------------------------

    def start(self, batch: list[RunRequest]) -> None:
        from submitit.core.utils import FailedJobError

        err = io.StringIO()  # submitit prints sbatch's complaint itself; it goes in our error
        try:
            with contextlib.redirect_stderr(err):
                jobs = self.executor.map_array(run_in_worker, [request_to_dict(r) for r in batch])
        except (FailedJobError, OSError) as exc:  # what was submitted before is cancelled
            message = " ".join(str(exc).split()) or type(exc).__name__
            if self.cluster == "local":
                raise UsageError(f"cannot start the local jobs: {message}") from None
            raise UsageError(
                f"sbatch refused the jobs: {message}",
                hint="check --partition, --account, --time-min and the sbatch options",
            ) from None
        for request, job in zip(batch, jobs, strict=True):
            tracked = _Job(request, job)
            self.active[tracked.run_id] = tracked
            if self.cluster == "local":  # a local job runs as soon as it is submitted
                tracked.running = True
                self.batch.report(JobUpdate(tracked.run_id, "running", self._where(job)))

    # -- following ------------------------------------------------------------------

    def _refresh(self) -> None:
        """Ask sacct about every job now and then (one call for all of them)."""
        now = time.monotonic()
        if self.cluster == "slurm" and self.active and now - self.refreshed > SACCT_EVERY_S:
            next(iter(self.active.values())).job.watcher.update()
            self.refreshed = now

    def _where(self, job: Any, host: str | None = None) -> str:
        """``<job id>@<host>``: the host from the answer, else from Slurm (or this one)."""
        if host is None and self.cluster == "slurm":
            host = job.get_info(mode="cache").get("NodeList") or None
        elif host is None:
            host = socket.gethostname()
        return f"{job.job_id}@{host}" if host else str(job.job_id)

    def _check(self, tracked: _Job) -> JobResult | None:
        """The job's result if it ended; reports ``running`` when Slurm says it started."""
        job = tracked.job
        if not tracked.running and job.state in ("RUNNING", "COMPLETING"):
            tracked.running = True
            self.batch.report(JobUpdate(tracked.run_id, "running", self._where(job)))
        if job.paths.result_pickle.exists():
            return self._answer(tracked)
        if not job.done():
            return None
        now = time.monotonic()
        tracked.ended_at = tracked.ended_at or now
        if now - tracked.ended_at < ANSWER_GRACE_S[self.cluster]:
            return None
        return self._lost(tracked)

    def _answer(self, tracked: _Job) -> JobResult:
        job, request = tracked.job, tracked.request
        try:
            answer: dict[str, Any] = job.result()
        except Exception as exc:  # raised outside the job: the node's framework cannot read it
            trace = _trace(exc)
            why = f"{trace.splitlines()[-1].strip()}; log: {job.paths.stdout}"
            return job_not_run(request, why, where=self._where(job), traceback=trace)
        return job_result(request, {**answer, "where": self._where(job, answer.get("where"))})

    def _lost(self, tracked: _Job) -> JobResult:
        job, log = tracked.job, tracked.job.paths.stdout
        how = f"job {job.job_id}, state {job.state}"
        return job_lost(tracked.request, how, log, where=self._where(job), traceback=_tail(log))

    # -- cancelling -----------------------------------------------------------------

    def cancel(self) -> list[JobUpdate]:
        """Cancel every job that has not ended; each is ``cancelled``."""
        jobs = list(self.active.values())
        if self.cluster == "slurm" and jobs:
            subprocess.run(
                ["scancel", *(str(j.job.job_id) for j in jobs)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )
        elif jobs:
            for tracked in jobs:
                tracked.job.cancel(check=False)
            deadline = time.monotonic() + CANCEL_WAIT_S
            while time.monotonic() < deadline and not all(j.job.done() for j in jobs):
                time.sleep(POLL_S["local"])
        self.active.clear()
        return [job_cancelled(tracked.run_id, self._where(tracked.job)) for tracked in jobs]


def _cores(batch: Batch) -> int:
    import os

    return max(1, (os.cpu_count() or 1) // batch.resources.cpus_per_job)


def _trace(exc: BaseException) -> str:
    """The worker's traceback out of submitit's error (which frames it in dashes)."""
    parts = str(exc).split("-" * 22)
    trace = (parts[1] if len(parts) >= 3 else str(exc)).strip()
    return trace or type(exc).__name__


def _tail(path: Path) -> str | None:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return "\n".join(lines[-LOG_TAIL_LINES:]) or None
