"""Several processes, one step: torch.distributed set-up and the helpers steps use.

`framework run STEP --nproc-per-node N` re-launches itself through torch's own launcher
(`torch.distributed.run`, what `torchrun` is), or the user runs `torchrun -m framework
run STEP` directly. Either way every process reads the standard variables (RANK,
LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), and the runner calls `init` once:
NCCL when the run's device is a GPU, gloo otherwise, with an explicit timeout
(`--dist-timeout-s`) so a rank that died or hangs ends the run instead of blocking the
others forever. Rank 0 decides what runs and alone writes artifacts, events and the
manifest; the others follow its decisions and wait for its outputs at a barrier after
every step.

Steps use the helpers below (also on the context: ``ctx.ddp(model)``,
``ctx.shard(n)``, ``ctx.reduce(metrics)``, ``ctx.barrier()``). Each is the identity
when the run has one process, so a step written with them runs unchanged either way.
Nothing here imports torch until a function is called.
"""

from __future__ import annotations

import datetime
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

from framework.execution import ExecutionSettings, RankInfo

# Set for the launcher: restarts are unreliable when workers share the rendezvous store.
LAUNCH_ENV = {"TORCH_DISABLE_SHARE_RDZV_TCP_STORE": "1"}
LAUNCHER_VARS = ("TORCHELASTIC_RUN_ID", "LOCAL_RANK", "GROUP_RANK")
COMMAND_ENV = "FRAMEWORK_LAUNCHED_COMMAND"  # the command as typed, for the manifest


def launched(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this process was started by torch's launcher (or set up like one)."""
    env = os.environ if environ is None else environ
    return int(env.get("WORLD_SIZE", "1")) > 1 or any(v in env for v in LAUNCHER_VARS)


def is_initialized() -> bool:
    import sys

    if "torch" not in sys.modules:  # nothing can have initialised it
        return False
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def backend_for(device: str) -> str:
    return "nccl" if device.startswith("cuda") else "gloo"


def init(settings: ExecutionSettings, rank: RankInfo) -> str | None:
    """Join the process group of a launched run; returns its backend (None: one process).

    Idempotent: a group someone else initialised (a test harness, the step's own
    launcher) is used as it is.
    """
    if rank.world_size <= 1 and not launched():
        return None  # under a launcher even one process joins a group (NCCL checks)
    import torch
    import torch.distributed as dist

    from framework.execution import resolve_device

    device = resolve_device(settings, rank)
    if dist.is_initialized():
        return str(dist.get_backend())
    missing = [v for v in ("MASTER_ADDR", "MASTER_PORT") if not os.environ.get(v)]
    if missing:
        from framework.errors import UsageError

        raise UsageError(
            f"WORLD_SIZE={rank.world_size} says this is one of several processes, but "
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set",
            hint="start them with 'framework run STEP --nproc-per-node N' or torchrun",
        )
    backend = backend_for(device)
    timeout = datetime.timedelta(seconds=settings.dist_timeout_s)
    if backend == "nccl":
        torch.cuda.set_device(device)
        dist.init_process_group(
            backend,
            timeout=timeout,
            rank=rank.rank,
            world_size=rank.world_size,
            device_id=torch.device(device),
        )
    else:
        dist.init_process_group(
            backend, timeout=timeout, rank=rank.rank, world_size=rank.world_size
        )
    return backend


def shutdown() -> None:
    if is_initialized():
        import torch.distributed as dist

        dist.destroy_process_group()


def barrier() -> None:
    """Wait until every rank is here (no-op with one process)."""
    if is_initialized():
        import torch.distributed as dist

        dist.barrier()


def broadcast(value: Any, src: int = 0) -> Any:
    """Rank `src`'s `value` on every rank (small picklable objects between our own ranks)."""
    if not is_initialized():
        return value
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def gather(value: Any) -> list[Any]:
    """Every rank's `value`, in rank order, on every rank."""
    if not is_initialized():
        return [value]
    import torch.distributed as dist

    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, value)
    return out


def reduce(metrics: Mapping[str, float], op: str = "mean", device: Any = None) -> dict[str, float]:
    """Metrics combined across ranks (``mean``, ``sum``, ``max`` or ``min``); one collective."""
    _check_op(op)
    values = {k: float(v) for k, v in metrics.items()}
    if not is_initialized() or not values:
        return values
    import torch
    import torch.distributed as dist

    keys = sorted(values)
    if device is None:
        device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    tensor = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=_reduce_op(op))
    if op == "mean":
        tensor /= dist.get_world_size()
    return dict(zip(keys, tensor.tolist(), strict=True))


def reduce_tensor(tensor: Any, op: str = "mean") -> Any:
    """A tensor combined across ranks in place (mean, sum, max, min); unchanged with one process."""
    _check_op(op)
    if not is_initialized():
        return tensor
    import torch.distributed as dist

    dist.all_reduce(tensor, op=_reduce_op(op))
    if op == "mean":
        tensor /= dist.get_world_size()
    return tensor


REDUCE_OPS = ("mean", "sum", "max", "min")


def _check_op(op: str) -> None:
    """A wrong op fails with one process too, not only once the step runs in several."""
    if op not in REDUCE_OPS:
        raise ValueError(f"reduce op {op!r}: choose {', '.join(REDUCE_OPS)}")


def _reduce_op(op: str) -> Any:
    import torch.distributed as dist

    return {"mean": dist.ReduceOp.SUM, "sum": dist.ReduceOp.SUM, "max": dist.ReduceOp.MAX}.get(
        op, dist.ReduceOp.MIN
    )


def ddp(model: Any, device: str) -> Any:
    """`model` wrapped in DistributedDataParallel (the model itself with one process)."""
    if not is_initialized():
        return model
    from torch.nn.parallel import DistributedDataParallel

    if device.startswith("cuda"):
        index = int(device.partition(":")[2] or 0)
        return DistributedDataParallel(model, device_ids=[index], output_device=index)
    return DistributedDataParallel(model)


def unwrap_compiled(model: Any) -> Any:
    """The module inside a torch.compile wrapper (DDP, if it was wrapped so)."""
    return getattr(model, "_orig_mod", model)


def unwrap(model: Any) -> Any:
    """The module inside DDP (and torch.compile) wrappers: what a checkpoint should hold."""
    inner = getattr(model, "_orig_mod", model)
    return getattr(inner, "module", inner)


def shard(items: int | Sequence[Any], rank: RankInfo) -> Any:
    """This rank's share of `items` (or of ``range(items)``): every world-size-th one.

    The shares are disjoint and cover everything; with one process, all of it.
    """
    seq = range(items) if isinstance(items, int) else items
    return seq[rank.rank :: rank.world_size]


def sampler(dataset: Any, rank: RankInfo, *, shuffle: bool = True, seed: int = 0) -> Any:
    """A torch DistributedSampler for `dataset` (None with one process: use your own).

    Call ``sampler.set_epoch(epoch)`` each epoch so the shuffle changes.
    """
    if rank.world_size <= 1:
        return None
    from torch.utils.data.distributed import DistributedSampler

    return DistributedSampler(
        dataset, num_replicas=rank.world_size, rank=rank.rank, shuffle=shuffle, seed=seed
    )


# -- launching ----------------------------------------------------------------------------


def launcher_command(
    nproc_per_node: int,
    args: list[str],
    *,
    nnodes: str | None = None,
    node_rank: int | None = None,
    master_addr: str | None = None,
    master_port: int | None = None,
    rdzv_endpoint: str | None = None,
    rdzv_id: str | None = None,
) -> list[str]:
    """``python -m torch.distributed.run ... -m framework ARGS``: what `--nproc-per-node` runs.

    With a rendezvous endpoint, `rdzv_id` (the run id) keeps two jobs that share the
    endpoint apart.
    """
    import sys

    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={nproc_per_node}"]
    if nnodes is not None:
        cmd.append(f"--nnodes={nnodes}")
    if rdzv_endpoint is not None:
        cmd += ["--rdzv-backend=c10d", f"--rdzv-endpoint={rdzv_endpoint}"]
        if rdzv_id is not None:
            cmd.append(f"--rdzv-id={rdzv_id}")
    else:
        if node_rank is not None:
            cmd.append(f"--node-rank={node_rank}")
        if master_addr is not None:
            cmd.append(f"--master-addr={master_addr}")
        if master_port is not None:
            cmd.append(f"--master-port={master_port}")
        if nnodes in (None, "1") and master_port is None:
            cmd.append("--standalone")  # one node: a free port, no rendezvous server to run
    return [*cmd, "-m", "framework", *args]


def launch(cmd: list[str], typed: list[str], nproc_per_node: int, *, debug: bool = False) -> int:
    """Run the launcher in the foreground and return its exit code (130: interrupted).

    Ctrl+C reaches the launcher (it shares the terminal's process group; the ranks have
    sessions of their own), which passes it on to the ranks; SIGTERM sent to this process
    is passed on to the launcher likewise. The ranks' stdout
    passes straight through; their stderr (the launcher's too) goes through `RankOutput`
    unless `debug`.
    """
    import json
    import subprocess
    import sys
    import threading

    env = {**os.environ, **LAUNCH_ENV, COMMAND_ENV: json.dumps(typed)}
    # The cores shared out between the ranks, unless the user chose (the launcher says 1).
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc_per_node)))
    process = subprocess.Popen(cmd, env=env, stderr=None if debug else subprocess.PIPE)
    output = RankOutput(sys.stderr)
    reader = None
    if process.stderr is not None:
        reader = threading.Thread(target=output.read, args=(process.stderr,), daemon=True)
        reader.start()
    stopped = _wait(process)
    if reader is not None:
        reader.join(timeout=30)  # the pipe closes when the last rank has exited
    code = 130 if stopped and process.returncode != 0 else int(process.returncode)
    output.finish(code)
    return code


def _wait(process: Any) -> bool:
    """Wait for the launcher; True when it was stopped by Ctrl+C or SIGTERM."""
    import signal
    import subprocess
    import threading

    stopped = False

    def forward(signum: int, frame: Any) -> None:
        nonlocal stopped
        stopped = True
        process.send_signal(signal.SIGTERM)

    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, forward) if main else None
    try:
        try:
            process.wait()
        except KeyboardInterrupt:
            # The launcher got SIGINT too and passes it on; give the ranks time to record it.
            stopped = True
            try:
                process.wait(timeout=60)
            except (subprocess.TimeoutExpired, KeyboardInterrupt):
                process.send_signal(signal.SIGTERM)
                process.wait()
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)
    return stopped


# What the other ranks report when one rank dies: consequences, not causes.
_COLLATERAL = (
    "Connection closed by peer",
    "Connection reset by peer",
    "remote worker",
    "DistBackendError",
    "NCCL communicator was aborted",
    "ProcessGroupNCCL",
    "Socket Timeout",
)
_LAUNCHER_LOG = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d")


class RankOutput:
    """The launcher's stderr, cleaned as it arrives: the ranks' own lines pass at once, each
    line once; the launcher's log lines are dropped, and so is its report of a failed rank
    (a traceback), while the ranks' ``error:`` lines are held to the end, where only the
    causes are shown (not a rank that just saw another one die, nor 'interrupted' from
    ranks the launcher stopped after an error)."""

    def __init__(self, out: Any) -> None:
        self.out = out
        self.seen: set[str] = set()
        self.held: list[str] = []  # error: and interrupted lines
        self.report: list[str] | None = None  # from a traceback on: the launcher's report?

    def read(self, stream: Any) -> None:
        for raw in iter(stream.readline, b""):
            self.feed(raw.decode("utf-8", "replace"))
        stream.close()

    def feed(self, line: str) -> None:
        line = line.rstrip("\r\n")
        if line.startswith(("Traceback (most recent call last):", "=====")) and self.report is None:
            self.report = []
        if _LAUNCHER_LOG.match(line) or line.startswith("*****") or "OMP_NUM_THREADS" in line:
            return
        if line in self.seen:
            return
        self.seen.add(line)
        if line.startswith("error: ") or line.strip() == "interrupted":
            self.held.append(line)
        elif self.report is not None:
            self.report.append(line)
        else:
            self._write([line])

    def finish(self, code: int) -> None:
        if self.report and code == 0:  # not the launcher's report of a failure after all
            self._write(self.report)
        self._write(_causes(self.held, code))

    def _write(self, lines: list[str]) -> None:
        if lines:
            self.out.write("".join(line + "\n" for line in lines))
            self.out.flush()


def _causes(held: list[str], code: int) -> list[str]:
    kept = list(held)
    if any(line.startswith("error: ") for line in kept):
        kept = [line for line in kept if line.strip() != "interrupted"]
    errors = [line for line in kept if line.startswith("error: ")]
    causes = [line for line in errors if not any(m in line for m in _COLLATERAL)]
    if causes and len(causes) < len(errors):  # a rank that only saw another one die
        kept = [line for line in kept if line in causes or not line.startswith("error: ")]
    if code not in (0, 130) and not any(line.startswith("error: ") for line in kept):
        kept.append(
            f"error: a process of the run failed (the launcher exited with code {code}); "
            "rerun with --debug for its report"
        )
    return kept


def rank_messages(text: str, code: int) -> str:
    """`text` (the launcher's whole stderr) as `RankOutput` shows it."""
    import io

    out = io.StringIO()
    output = RankOutput(out)
    for line in text.splitlines():
        output.feed(line)
    output.finish(code)
    return out.getvalue()
