"""AdamW with decay on weight matrices only, and a warm-up + cosine learning-rate schedule."""

from __future__ import annotations

import math

import torch
from torch import nn


def create_optimizer(
    model: nn.Module,
    *,
    learning_rate: float,
    weight_decay: float,
    betas: tuple[float, float],
    device_type: str,
) -> torch.optim.AdamW:
    """AdamW where only 2-D weights decay: shrinking biases and norm gains only hurts.

    Fused on CUDA (one kernel for the whole update instead of one per tensor).
    """
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(
        groups, lr=learning_rate, betas=betas, fused=device_type == "cuda" or None
    )


def lr_at(step: int, *, peak: float, floor: float, warmup: int, total: int) -> float:
    """Linear warm-up to `peak` over `warmup` steps, then cosine down to `floor` at `total`."""
    if step < warmup:
        return peak * (step + 1) / warmup
    if step >= total:
        return floor
    progress = (step - warmup) / max(1, total - warmup)
    return floor + 0.5 * (1.0 + math.cos(math.pi * progress)) * (peak - floor)


def create_scheduler(
    optimizer: torch.optim.Optimizer, *, peak: float, floor: float, warmup: int, total: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """LambdaLR over `lr_at`; its state (a step count) saves in a weights-only checkpoint."""

    def factor(step: int) -> float:
        return (
            lr_at(step, peak=peak, floor=floor, warmup=warmup, total=total) / peak if peak else 0.0
        )

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
