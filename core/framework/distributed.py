"""Several processes, one step: torch.distributed set-up (`init`, once per run; rank 0 decides
and writes, see docs/sweeps.md) and the helpers steps use (also as ``ctx.ddp(model)``, ...),
each the identity with one process. Torch is imported only when a function is called."""

from __future__ import annotations

import datetime
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from framework.errors import UsageError
from framework.execution import ExecutionSettings, RankInfo, resolve_device

LAUNCHER_VARS = ("TORCHELASTIC_RUN_ID", "LOCAL_RANK", "GROUP_RANK")
COMMAND_ENV = "FRAMEWORK_LAUNCHED_COMMAND"  # the command as typed, for the manifest


def launched(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this process was started by torch's launcher (or set up like one)."""
    env = os.environ if environ is None else environ
    return int(env.get("WORLD_SIZE", "1")) > 1 or any(v in env for v in LAUNCHER_VARS)


def _group() -> Any:
    """torch.distributed while a process group is up, else None (torch not imported)."""
    if "torch" not in sys.modules:  # nothing can have initialised it
        return None
    import torch.distributed as dist

    return dist if dist.is_available() and dist.is_initialized() else None


def is_initialized() -> bool:
    return _group() is not None


def backend_for(device: str) -> str:
    return "nccl" if device.startswith("cuda") else "gloo"


def init(settings: ExecutionSettings, rank: RankInfo) -> str | None:
    """Join the process group of a launched run; returns its backend (None: one process).
    A group someone else initialised (a test harness, a launcher) is used as it is."""
    if rank.world_size <= 1 and not launched():
        return None  # under a launcher even one process joins a group (NCCL checks)
    import torch
    import torch.distributed as dist

    device = resolve_device(settings, rank)
    if dist.is_initialized():
        return str(dist.get_backend())
    missing = [v for v in ("MASTER_ADDR", "MASTER_PORT") if not os.environ.get(v)]
    if missing:
        raise UsageError(
            f"WORLD_SIZE={rank.world_size} says this is one of several processes, but "
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set",
            hint="start them with 'framework run STEP --nproc-per-node N' or torchrun",
        )
    backend = backend_for(device)
    extra: dict[str, Any] = {}  # NCCL binds the group to this rank's GPU
    if backend == "nccl":
        torch.cuda.set_device(device)
        extra["device_id"] = torch.device(device)
    dist.init_process_group(
        backend,
        timeout=datetime.timedelta(seconds=settings.dist_timeout_s),
        rank=rank.rank,
        world_size=rank.world_size,
        **extra,
    )
    return backend


def shutdown() -> None:
    if dist := _group():
        dist.destroy_process_group()


def barrier() -> None:
    """Wait until every rank is here (no-op with one process)."""
    if dist := _group():
        dist.barrier()


def broadcast(value: Any, src: int = 0) -> Any:
    """Rank `src`'s `value` on every rank (small picklable objects between our own ranks)."""
    if not (dist := _group()):
        return value
    box = [value]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def gather(value: Any) -> list[Any]:
    """Every rank's `value`, in rank order, on every rank."""
    if not (dist := _group()):
        return [value]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, value)
    return out


def reduce(metrics: Mapping[str, float], op: str = "mean", device: Any = None) -> dict[str, float]:
    """Metrics combined across ranks (``mean``, ``sum``, ``max`` or ``min``); one collective."""
    _check_op(op)
    values = {k: float(v) for k, v in metrics.items()}
    if not (dist := _group()) or not values:
        return values
    import torch

    keys = sorted(values)
    if device is None:
        device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    tensor = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
    return dict(zip(keys, reduce_tensor(tensor, op).tolist(), strict=True))


def reduce_tensor(tensor: Any, op: str = "mean") -> Any:
    """A tensor combined across ranks in place (mean, sum, max, min); unchanged with one process."""
    _check_op(op)
    if not (dist := _group()):
        return tensor
    dist.all_reduce(tensor, op=getattr(dist.ReduceOp, REDUCE_OPS[op]))
    if op == "mean":
        tensor /= dist.get_world_size()
    return tensor


REDUCE_OPS = {"mean": "SUM", "sum": "SUM", "max": "MAX", "min": "MIN"}  # -> dist.ReduceOp


def _check_op(op: str) -> None:
    """A wrong op fails with one process too, not only once the step runs in several."""
    if op not in REDUCE_OPS:
        raise ValueError(f"reduce op {op!r}: choose {', '.join(REDUCE_OPS)}")


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


def shard(items: int | Sequence[Any], rank: RankInfo) -> Any:
    """This rank's share of `items` (or of ``range(items)``): every world-size-th one, so
    the shares are disjoint and cover everything."""
    seq = range(items) if isinstance(items, int) else items
    return seq[rank.rank :: rank.world_size]


def sampler(dataset: Any, rank: RankInfo, *, shuffle: bool = True, seed: int = 0) -> Any:
    """A torch DistributedSampler for `dataset` (None with one process: use your own); call
    ``sampler.set_epoch(epoch)`` each epoch so the shuffle changes."""
    if rank.world_size <= 1:
        return None
    from torch.utils.data.distributed import DistributedSampler

    return DistributedSampler(
        dataset, num_replicas=rank.world_size, rank=rank.rank, shuffle=shuffle, seed=seed
    )
