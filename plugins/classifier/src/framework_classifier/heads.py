"""The trainable part: a linear or one-hidden-layer head over standardised features."""

from __future__ import annotations

import torch
from torch import nn

MLP_HIDDEN = 256


class Head(nn.Module):
    """Logits (B, outputs) from backbone features (B, in_features).

    The TRAIN features' mean and standard deviation are buffers of the head, so the
    checkpoint alone turns raw backbone features into logits.
    """

    def __init__(self, kind: str, in_features: int, outputs: int) -> None:
        super().__init__()
        self.kind = kind
        self.register_buffer("feature_mean", torch.zeros(in_features))
        self.register_buffer("feature_std", torch.ones(in_features))
        if kind == "linear":
            self.net: nn.Module = nn.Linear(in_features, outputs)
        elif kind == "mlp":
            self.net = nn.Sequential(
                nn.Linear(in_features, MLP_HIDDEN), nn.ReLU(), nn.Linear(MLP_HIDDEN, outputs)
            )
        else:
            raise ValueError(f"unknown head {kind!r}")

    def standardise_with(self, features: torch.Tensor) -> None:
        self.feature_mean.copy_(features.mean(dim=0))
        self.feature_std.copy_(features.std(dim=0).clamp_min(1e-6))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net((features - self.feature_mean) / self.feature_std)


def build_head(kind: str, in_features: int, outputs: int, seed: int) -> Head:
    """A head whose initial weights depend only on `seed`."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Head(kind, in_features, outputs)
