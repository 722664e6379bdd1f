"""Validation loss over the whole held-out stream, in non-overlapping block windows.

Deterministic (no sampling): the same checkpoint always gets the same number.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn


@torch.no_grad()
def validation_loss(
    model: nn.Module,
    tokens: torch.Tensor,
    block_size: int,
    *,
    max_windows: int = 0,
    batch_size: int = 32,
    amp_dtype: torch.dtype | None = None,
) -> tuple[float, int]:
    """(mean next-token cross-entropy in nats, windows scored) over windows at 0, B, 2B, ..."""
    windows = (len(tokens) - 1) // block_size
    if max_windows:
        windows = min(windows, max_windows)
    if windows < 1:
        raise ValueError(f"{len(tokens)} validation tokens cannot fill one block of {block_size}")
    starts = torch.arange(windows, device=tokens.device) * block_size
    offsets = torch.arange(block_size, device=tokens.device)
    total = torch.zeros((), dtype=torch.float64, device=tokens.device)
    autocast = (
        torch.autocast(tokens.device.type, dtype=amp_dtype)
        if amp_dtype is not None
        else contextlib.nullcontext()
    )
    model.eval()
    with autocast:
        for chunk in starts.split(batch_size):
            idx = chunk[:, None] + offsets
            _, loss = model(tokens[idx], tokens[idx + 1])
            total += loss.double() * len(chunk)
    return float(total / windows), windows
