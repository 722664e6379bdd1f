"""Build the frozen backbone by name and compute features once per sample."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from framework import ConfigError, StepContext, autocast_dtype

from framework_classifier.config import BackboneConfig

PREFIX = "classifier."


def backbone_name(ctx: StepContext[object], name: str) -> str:
    """The registered model id for `--backbone` (a bare name means this plugin's)."""
    names = ctx.models.names()
    full = name if name in names else PREFIX + name
    if full not in names:
        known = sorted(n.removeprefix(PREFIX) for n in names)
        raise ConfigError(f"unknown backbone {name!r}", hint="registered: " + ", ".join(known))
    return full


def build_backbone(ctx: StepContext[BackboneConfig]) -> torch.nn.Module:
    """The configured backbone on the step's device, frozen; warns when features are random."""
    cfg = ctx.config
    name = backbone_name(ctx, cfg.backbone)
    try:
        model = ctx.models.build(name, weights=cfg.backbone_weights, image_size=cfg.image_size)
    except ValueError as exc:  # an architecture's own constraint on its inputs
        raise ConfigError(f"--backbone {cfg.backbone}: {exc}") from None
    if getattr(model, "expects_weights", False) and not model.pretrained:
        message = f"backbone {cfg.backbone} has no --backbone-weights: its features are random"
        print(f"warning: {message}", file=sys.stderr)
        ctx.event("warning", message=message)
    ctx.event(
        "backbone", model=name, weights=model.weights_source, feature_dim=int(model.feature_dim)
    )
    return model.to(ctx.device)


@torch.no_grad()
def extract(
    backbone: torch.nn.Module,
    images: np.ndarray,
    batch_size: int,
    ctx: Any = None,
    description: str = "features",
) -> torch.Tensor:
    """Features (N, D) as float32 on the CPU: one backbone pass per image (with a progress
    bar per batch when run by a step)."""
    device = next(backbone.parameters()).device
    dtype = autocast_dtype(ctx.execution) if ctx is not None and device.type == "cuda" else None
    chunks = []
    starts: Iterable[int] = range(0, len(images), batch_size)
    if ctx is not None:
        starts = ctx.progress(starts, description=description, unit="batch")
    for start in starts:
        batch = torch.from_numpy(np.ascontiguousarray(images[start : start + batch_size]))
        batch = batch.permute(0, 3, 1, 2).to(device)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            chunks.append(backbone(batch).float().cpu())
    return torch.cat(chunks)
