"""A three-layer CNN with fixed random filters: a fast CPU backbone for tests and demos.

Random convolution features with a trained linear head separate simple image classes
well; the filters come from a fixed seed, so every step and every run sees the same
backbone without a weights file.
"""

from __future__ import annotations

import torch
from torch import nn

from framework_classifier.backbones.common import Preprocess, freeze, load_strict, read_state_dict

FILTER_SEED = 0


class TinyCNN(nn.Module):
    feature_dim = 128
    input_size = 32

    def __init__(self, size: int | None = None) -> None:
        super().__init__()
        self.input_size = size or TinyCNN.input_size
        self.preprocess = Preprocess(self.input_size, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(FILTER_SEED)
            self.features = nn.Sequential(
                nn.Conv2d(3, 16, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(16, 32, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(32, 64, 3, padding=1),
                nn.ReLU(),
            )
        self.pretrained = False
        self.weights_source = f"fixed random filters (seed {FILTER_SEED})"

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        maps = self.features(self.preprocess(images))
        return torch.cat([maps.mean(dim=(2, 3)), maps.amax(dim=(2, 3))], dim=1)


def build(weights: str | None = None, image_size: int = 0) -> TinyCNN:
    model = TinyCNN(image_size or None)
    if weights:
        load_strict(model, read_state_dict(weights), f"--backbone-weights {weights}")
        model.pretrained, model.weights_source = True, str(weights)
    return freeze(model)
