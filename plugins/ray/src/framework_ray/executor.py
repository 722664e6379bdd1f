"""The ``ray`` executor: each job a Ray core task, on a running cluster or a local one.

``ray_address`` (``--ray-address``) connects to a
running cluster: ``auto`` on one of its nodes, or the head's ``host:6379``. Without it,
an already initialised Ray is reused, else a local one is started for the batch and
shut down after it. Ray Client addresses (``ray://``) are refused: the executor follows
its tasks as streaming generators, which need a driver that joins the cluster itself.

A task runs `framework.run_in_worker`, which rebuilds the plugin manager from entry points
on its node, so every node needs the same Python environment (framework and the same
plugins installed) and the artifact root on a shared filesystem at the same path. The
submitting shell's ``FRAMEWORK_*`` variables go with each task, so a job resolves the
same config there as here. A job's output goes to ``<log_dir>/<run_id>.log`` when the
node can write there, else to Ray's worker logs on that node
(``/tmp/ray/session_latest/logs``). Ray's own messages stay off the terminal unless
``--debug``.

Before submitting, the jobs' CPUs, GPUs and memory are checked against the nodes alive
now: a job no node can hold is refused at once instead of pending forever. On an
autoscaling cluster, have one node of the needed shape up before the sweep.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
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
)

POLL_S = 0.5
CANCEL_GRACE_S = 10.0  # how long a cancelled job may take to record that it was interrupted
GIB = 1024**3


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UsageError("the ray executor needs Ray: pip install ray") from None
    return ray


@attrs.define
class RaySettings:
    """The ray executor's own option (`framework sweep --ray-address`, or ``sweep:``)."""

    ray_address: str | None = field(
        None, help="ray: cluster address ('auto', or the head's host:6379); none starts a local one"
    )


def _job(request: dict[str, Any], log: str | None) -> Iterator[Any]:
    """The Ray task. It says where it runs as it starts, then answers how the job ended."""
    import socket

    from framework import run_in_worker

    yield f"{socket.gethostname()}:{os.getpid()}"
    with _output_to(log):
        answer = run_in_worker(request)
    yield answer


@contextlib.contextmanager
def _output_to(log: str | None) -> Iterator[None]:
    """Send this process's stdout and stderr to ``log`` while the job runs (if writable)."""
    try:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644) if log else None
    except OSError:  # not on a filesystem this node shares: Ray's worker log keeps it
        fd = None
    if fd is None:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for f in (*saved, fd):
            os.close(f)


def _connect(ray: Any, address: str | None, debug: bool) -> bool:
    """Connect to (or start) Ray; True when this call started it, so it must stop it."""
    if address and address.startswith("ray://"):
        raise UsageError(
            f"Ray Client addresses are not supported: {address}",
            hint="run the sweep on a node of the cluster with --ray-address auto, or give the head's host:6379",
        )
    if ray.is_initialized():
        return False
    if address or os.environ.get("RAY_ADDRESS"):
        check_address(address or os.environ["RAY_ADDRESS"])
    import logging

    quiet = {"log_to_driver": debug, "logging_level": logging.INFO if debug else logging.ERROR}
    try:
        if address:
            ray.init(address=address, **quiet)
        else:
            ray.init(include_dashboard=False, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"at {address}" if address else "on this machine"
        raise UsageError(
            f"cannot connect to a Ray cluster {where}: {_first_line(exc)}",
            hint="start one with `ray start --head`, or check --ray-address",
        ) from None
    return True


def check_address(address: str) -> None:
    """Fail fast when the head does not answer at ``host:port`` (Ray retries for minutes)."""
    import socket

    host, colon, port = address.rpartition(":")
    if not colon or not port.isdigit():
        return  # 'auto' and the like: Ray's own answer comes at once
    try:
        socket.create_connection((host, int(port)), timeout=5.0).close()
    except OSError as exc:
        raise UsageError(
            f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}",
            hint="give the head's host:6379 as `ray start --head` printed it, or 'auto' on a node of the cluster",
        ) from None


def _amounts(resources: dict[str, float]) -> str:
    """``2 CPUs, 1 GPU, 8.0 GB memory``."""
    parts = [
        f"{n:g} {unit}{'' if n == 1 else 's'}"
        for n, unit in ((resources.get("CPU", 0.0), "CPU"), (resources.get("GPU", 0.0), "GPU"))
    ]
    if "memory" in resources:
        parts.append(f"{resources['memory'] / GIB:.1f} GB memory")
    return ", ".join(parts)


def check_resources(ray: Any, resources: Resources) -> int:
    """How many jobs the cluster holds at once; a UsageError when no node can hold one."""
    need = {"CPU": float(resources.cpus_per_job)}
    if resources.gpus_per_job:
        need["GPU"] = float(resources.gpus_per_job)
    if resources.mem_gb:
        need["memory"] = resources.mem_gb * GIB
    nodes = [node.get("Resources", {}) for node in ray.nodes() if node.get("Alive")]
    fits = [min(int(node.get(k, 0.0) // v) for k, v in need.items()) for node in nodes]
    if not any(fits):
        largest = {
            k: max((n.get(k, 0.0) for n in nodes), default=0.0) for k in ("CPU", "GPU", "memory")
        }
        raise UsageError(
            f"each job asks for {_amounts(need)}, but no node of the Ray cluster has that "
            f"({len(nodes)} node(s), at most {_amounts(largest)})",
            hint="lower --gpus-per-job, --cpus-per-job or --mem-gb, or point --ray-address at a cluster that has them",
        )
    return sum(fits)


class RayExecutor:
    """Runs the jobs as Ray tasks, at most ``max_parallel`` at once (default: what fits)."""

    name = "ray"
    settings = RaySettings

    def run(self, batch: Batch) -> list[JobResult]:
        ray = _ray()
        requests = batch.remote_requests()
        if not requests:
            return []
        address = (batch.settings or RaySettings()).ray_address
        started = _connect(ray, address, batch.debug)
        try:
            capacity = check_resources(ray, batch.resources)
            engine = _Tasks(ray, batch)
            return follow_jobs(batch, requests, engine, max(1, batch.max_parallel or capacity))
        finally:
            if started:
                ray.shutdown()


@attrs.define
class _Task:
    request: RunRequest
    generator: Any  # ray.ObjectRefGenerator: first where the job runs, then its answer
    log: str | None
    where: str | None = None  # set once the task said it started

    @property
    def run_id(self) -> str:
        return str(self.request.run_id)


class _Tasks:
    """Submits, waits on and cancels the tasks of one batch, reporting when they start."""

    def __init__(self, ray: Any, batch: Batch):
        self.ray = ray
        self.batch = batch
        self.active: dict[str, _Task] = {}
        resources = batch.resources
        options: dict[str, Any] = {
            "num_cpus": resources.cpus_per_job,
            "num_gpus": resources.gpus_per_job,
            "max_retries": 0,  # retrying is the sweep's decision (--retries)
        }
        if resources.mem_gb:
            options["memory"] = int(resources.mem_gb * GIB)
        env = {k: v for k, v in os.environ.items() if k.startswith("FRAMEWORK_")}
        if env:
            options["runtime_env"] = {"env_vars": env}
        self.options = options
        self.remote = ray.remote(_job)
        self.log_dir = batch.log_dir.resolve() if batch.log_dir else None
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)

    def start(self, requests: list[RunRequest]) -> None:
        for request in requests:
            run_id = str(request.run_id)
            log = str(self.log_dir / f"{run_id}.log") if self.log_dir else None
            task = self.remote.options(**self.options, name=f"framework {run_id}")
            generator = task.remote(request_to_dict(request), log)
            self.active[run_id] = _Task(request, generator, log)

    def poll(self) -> list[JobResult]:
        by_generator = {id(t.generator): t for t in self.active.values()}
        ready, _ = self.ray.wait(
            [t.generator for t in self.active.values()], num_returns=1, timeout=POLL_S
        )
        ended = []
        for generator in ready:
            task = by_generator[id(generator)]
            result = self._next(task)
            if result is not None:
                del self.active[task.run_id]
                ended.append(result)
        return ended

    def _next(self, task: _Task) -> JobResult | None:
        """Read the task's next message: None when it only said it started."""
        exceptions = self.ray.exceptions
        try:
            item = self.ray.get(next(task.generator))
        except exceptions.RayTaskError as exc:  # raised outside the job: the node lacks a package
            cause = exc.cause or exc
            why = f"{type(cause).__name__}: {_first_line(cause)}"
            return job_not_run(task.request, why, where=task.where, traceback=str(exc))
        except exceptions.RuntimeEnvSetupError as exc:
            error = f"Ray could not set up the task's environment: {_first_line(exc)}"
            return JobResult(task.request, task.run_id, "failed", error, 1, where=task.where)
        except (exceptions.RayError, StopIteration) as exc:  # the worker or its node died
            logs = task.log or f"Ray's worker logs on {task.where or 'its node'}"
            how = f"{type(exc).__name__}: {_first_line(exc)}"
            return job_lost(task.request, how, logs, where=task.where)
        if task.where is None:
            task.where = str(item)
            self.batch.report(JobUpdate(task.run_id, "running", task.where))
            return None
        return job_result(task.request, item, task.where)

    def cancel(self) -> list[JobUpdate]:
        """Cancel what has not ended: gently first (a running job records that it was
        interrupted), then by force; each is ``cancelled``."""
        tasks = list(self.active.values())
        for task in tasks:
            with contextlib.suppress(Exception):
                self.ray.cancel(task.generator, force=False)
        deadline = time.monotonic() + CANCEL_GRACE_S
        while time.monotonic() < deadline and any(_still_running(t) for t in tasks):
            time.sleep(0.1)
        for task in tasks:
            with contextlib.suppress(Exception):
                self.ray.cancel(task.generator, force=True)
        self.active.clear()
        return [job_cancelled(t.run_id, t.where) for t in tasks]


def _still_running(task: _Task) -> bool:
    """Whether a started job's run still says it is running (its manifest, on the shared root)."""
    if task.where is None:
        return False
    manifest = Path(task.request.artifact_root) / task.run_id / "manifest.json"
    try:
        return json.loads(manifest.read_text(encoding="utf-8")).get("status") == "running"
    except (OSError, ValueError):
        return False


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
