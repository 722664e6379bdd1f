"""Fit a head on cached features: minibatch AdamW on binary cross-entropy, best on VAL."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from framework_classifier.heads import Head
from framework_classifier.sweep import roc_auc


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    val_loss: float
    val_auroc: float


@dataclass
class FitResult:
    best_state: dict[str, torch.Tensor]
    best: EpochRecord
    history: list[EpochRecord] = field(default_factory=list)


def mean_auroc(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Mean ROC AUC over the outputs whose targets hold both classes (NaN if none do)."""
    scores, labels = logits.numpy(), targets.numpy()
    aucs = [roc_auc(scores[:, k], labels[:, k]) for k in range(scores.shape[1])]
    valid = [a for a in aucs if not np.isnan(a)]
    return float(np.mean(valid)) if valid else float("nan")


def train_epoch(
    head: Head,
    optimiser: torch.optim.Optimizer,
    features: torch.Tensor,
    targets: torch.Tensor,
    batch_size: int,
    generator: torch.Generator,
) -> float:
    """One shuffled pass over cached features; the mean minibatch loss."""
    head.train()
    order = torch.randperm(len(features), generator=generator)
    total = 0.0
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        loss = F.binary_cross_entropy_with_logits(head(features[idx]), targets[idx])
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        total += loss.item() * len(idx)
    return total / len(order)


@torch.no_grad()
def evaluate(head: Head, features: torch.Tensor, targets: torch.Tensor) -> tuple[float, float]:
    head.eval()
    logits = head(features)
    return float(F.binary_cross_entropy_with_logits(logits, targets)), mean_auroc(logits, targets)


def fit(
    head: Head,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    *,
    epochs: int,
    learning_rate: float,
    batch_size: int,
    seed: int,
    on_epoch: Callable[[EpochRecord], None] = lambda r: None,
    track: Callable[[range], Iterable[int]] = lambda epochs: epochs,
) -> FitResult:
    """Train for `epochs`; keep the head with the best VAL AUROC (VAL loss if AUROC is undefined).

    `track` wraps the epochs (a step passes its progress bar)."""
    head.standardise_with(train[0])
    optimiser = torch.optim.AdamW(head.parameters(), lr=learning_rate)
    generator = torch.Generator().manual_seed(seed)
    result: FitResult | None = None
    history = []
    for epoch in track(range(1, epochs + 1)):
        train_loss = train_epoch(head, optimiser, *train, batch_size, generator)
        val_loss, val_auroc = evaluate(head, *val)
        record = EpochRecord(epoch, train_loss, val_loss, val_auroc)
        history.append(record)
        on_epoch(record)
        if result is None or _better(record, result.best):
            result = FitResult(copy.deepcopy(head.state_dict()), record)
    assert result is not None  # epochs >= 1
    result.history = history
    return result


def _better(new: EpochRecord, old: EpochRecord) -> bool:
    if np.isnan(new.val_auroc) or np.isnan(old.val_auroc):
        return new.val_loss < old.val_loss
    return new.val_auroc > old.val_auroc or (
        new.val_auroc == old.val_auroc and new.val_loss < old.val_loss
    )
