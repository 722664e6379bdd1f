"""The training loop: Adam, an LR scheduler, early stopping, per-epoch and top-k checkpoints."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import attrs
import numpy as np
import torch

from framework_ptycho.forward import LOSSES, PhysicsModel


@attrs.define
class Batches:
    """Grouped amplitudes (G, C, N, N) and offsets (G, C, 2) as tensors."""

    amplitudes: torch.Tensor
    offsets: torch.Tensor

    def __len__(self) -> int:
        return int(self.amplitudes.shape[0])

    def iterate(
        self, batch_size: int, generator: torch.Generator | None = None
    ) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
        order = (
            torch.randperm(len(self), generator=generator) if generator else torch.arange(len(self))
        )
        for start in range(0, len(self), batch_size):
            pick = order[start : start + batch_size]
            yield self.amplitudes[pick], self.offsets[pick]


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
    model: PhysicsModel, data: Batches, loss_fn: Callable, cfg: Any, device: str
) -> float:
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for amps, offs in data.iterate(cfg.batch_size):
            amps, offs = amps.to(device), offs.to(device)
            total += float(loss_fn(model(amps, offs), amps, cfg.nphotons)) * len(amps)
            count += len(amps)
    return total / max(count, 1)


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
) -> list[EpochResult]:
    """Train until max_epochs or early stop; `on_epoch` saves checkpoints, returns True if best."""
    import contextlib

    loss_fn = LOSSES[cfg.loss]
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    scheduler = make_scheduler(cfg.scheduler, optimizer, cfg)
    generator = torch.Generator().manual_seed(seed)
    history: list[EpochResult] = []
    stale = 0
    for epoch in range(cfg.max_epochs):
        model.train()
        total = 0.0
        for amps, offs in train.iterate(cfg.batch_size, generator):
            amps, offs = amps.to(device), offs.to(device)
            with autocast() if autocast else contextlib.nullcontext():
                pred = model(amps, offs)
            loss = loss_fn(pred.float(), amps, cfg.nphotons)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(amps)
        val_loss = evaluate_loss(model, val, loss_fn, cfg, device)
        result = EpochResult(epoch, total / len(train), val_loss, optimizer.param_groups[0]["lr"])
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
