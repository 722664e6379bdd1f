"""The training loop: Adam, an LR scheduler, early stopping, per-epoch and top-k checkpoints."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import attrs
import numpy as np
import torch
from framework import RankInfo, distributed

from framework_ptycho.forward import LOSSES, PhysicsModel


@attrs.define
class Batches:
    """Grouped amplitudes (G, C, N, N) and offsets (G, C, 2) as tensors; with several
    probes, normalized `probes` (K, N, N) and each group's `probe_index` (G,)."""

    amplitudes: torch.Tensor
    offsets: torch.Tensor
    probes: torch.Tensor | None = None
    probe_index: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.amplitudes.shape[0])

    def iterate(
        self,
        batch_size: int,
        generator: torch.Generator | None = None,
        rank: int = 0,
        world_size: int = 1,
    ) -> Iterable[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]:
        """Batches in a seeded order. With several ranks each global batch of
        ``batch_size * world_size`` is dealt out, so the ranks see different groups and
        take the same number of steps (a last batch too small to reach every rank is
        dropped); one rank gets exactly the batches it always did."""
        order = (
            torch.randperm(len(self), generator=generator) if generator else torch.arange(len(self))
        )
        step = batch_size * world_size
        for start in range(0, len(self), step):
            chunk = order[start : start + step]
            if len(chunk) < world_size:
                break
            pick = chunk[rank::world_size] if world_size > 1 else chunk
            probe = None
            if self.probes is not None and self.probe_index is not None:
                probe = self.probes[self.probe_index[pick]][:, None]
            yield self.amplitudes[pick], self.offsets[pick], probe


def grouped(diffraction: np.ndarray, index: np.ndarray, offsets: np.ndarray) -> Batches:
    return Batches(
        torch.from_numpy(diffraction[index].astype(np.float32)),
        torch.from_numpy(offsets.astype(np.float32)),
    )


@attrs.define
class EpochResult:
    epoch: int
    train_loss: float
    val_loss: float
    lr: float


def make_scheduler(name: str, optimizer: torch.optim.Optimizer, cfg: Any) -> Any:
    if name == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=cfg.lr_factor, patience=cfg.lr_patience
        )
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.max_epochs)
    if name == "step":
        return torch.optim.lr_scheduler.StepLR(
            optimizer, step_size=max(1, cfg.lr_patience), gamma=cfg.lr_factor
        )
    return None


def evaluate_loss(
    model: PhysicsModel,
    data: Batches,
    loss_fn: Callable,
    cfg: Any,
    device: str,
    rank: RankInfo | None = None,
) -> float:
    """Mean loss over `data`; with several ranks each scores its share and they agree."""
    rank = rank or RankInfo()
    model.eval()
    total: Any = 0.0
    count = 0
    with torch.no_grad():
        for i, (amps, offs, probe) in enumerate(data.iterate(cfg.batch_size)):
            if i % rank.world_size != rank.rank:
                continue
            amps, offs = amps.to(device), offs.to(device)
            probe = probe.to(device) if probe is not None else None
            total = total + loss_fn(model(amps, offs, probe), amps, cfg.nphotons) * len(amps)
            count += len(amps)
    total, count = _summed(float(total), count, rank)  # one host sync
    return total / max(count, 1)


def _summed(total: float, count: int, rank: RankInfo) -> tuple[float, int]:
    """`total` and `count` summed over the ranks (a float loss sum, an int sample count)."""
    if rank.world_size == 1:
        return total, count
    summed = distributed.reduce({"total": total, "count": float(count)}, op="sum")
    return float(summed["total"]), round(summed["count"])


def fit(
    model: PhysicsModel,
    train: Batches,
    val: Batches,
    cfg: Any,
    *,
    device: str,
    seed: int,
    on_epoch: Callable[[EpochResult, PhysicsModel], bool],
    autocast: Any = None,
    rank: RankInfo | None = None,
    progress: Callable[[Iterable[Any], int, int], Iterable[Any]] | None = None,
) -> list[EpochResult]:
    """Train until max_epochs or early stop; `on_epoch` saves checkpoints, returns True if best.

    With several ranks (torchrun) the model trains inside DDP on each rank's share of
    every batch, and the losses passed to `on_epoch` are over all ranks' groups, so
    every rank makes the same early-stopping and checkpoint decisions.
    """
    import contextlib

    rank = rank or RankInfo()
    forward = distributed.ddp(model, device)
    loss_fn = LOSSES[cfg.loss]
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    scheduler = make_scheduler(cfg.scheduler, optimizer, cfg)
    generator = torch.Generator().manual_seed(seed)
    history: list[EpochResult] = []
    stale = 0
    for epoch in range(cfg.max_epochs):
        model.train()
        total: Any = 0.0
        seen = 0
        batches = train.iterate(cfg.batch_size, generator, rank.rank, rank.world_size)
        count = -(-len(train) // (cfg.batch_size * rank.world_size))
        for amps, offs, probe in progress(batches, count, epoch) if progress else batches:
            amps, offs = amps.to(device), offs.to(device)
            probe = probe.to(device) if probe is not None else None
            with autocast() if autocast else contextlib.nullcontext():
                pred = forward(amps, offs, probe)
            loss = loss_fn(pred.float(), amps, cfg.nphotons)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total = total + loss.detach() * len(amps)  # summed on the device: no sync a batch
            seen += len(amps)
        total, seen = _summed(float(total), seen, rank)
        val_loss = evaluate_loss(model, val, loss_fn, cfg, device, rank)
        result = EpochResult(epoch, total / max(seen, 1), val_loss, optimizer.param_groups[0]["lr"])
        history.append(result)
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            scheduler.step(val_loss)
        elif scheduler is not None:
            scheduler.step()
        improved = on_epoch(result, model)
        stale = 0 if improved else stale + 1
        if cfg.early_stop_patience and stale >= cfg.early_stop_patience:
            break
    return history
