"""The PINN's network: a U-Net encoder with amplitude (sigmoid) and phase (pi tanh) decoders.

Input: (B, 3C, N, N) features of a group's C patterns (see forward.features: the
measured amplitude and a back-propagated real-space estimate); output: the object's
amplitude and phase over the central N/2 x N/2 of each of the C patches.

The decoders climb back to the full N x N and then keep the central N/2 x N/2, so output
pixel (i, j) sits over input pixel (i + N/4, j + N/4): the real-space estimate and the
object it describes are aligned, and a convolution only has to refine locally. (Decoding
to N/2 directly would map output i to input 2i, a zoom no convolution can learn: such a
net could not even learn the identity and settled on the mean object.)
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1),
        nn.ReLU(inplace=True),
    )


class Decoder(nn.Module):
    """Upsamples the bottleneck back to N, joining the encoder's skips on the way.

    `widths` are the encoder's widths at N, N/2, ... down to the bottleneck.
    """

    def __init__(self, widths: list[int], out_channels: int) -> None:
        super().__init__()
        deep_to_shallow = widths[::-1]
        self.ups = nn.ModuleList(
            nn.ConvTranspose2d(d, s, 2, stride=2) for d, s in itertools.pairwise(deep_to_shallow)
        )
        self.blocks = nn.ModuleList(_block(2 * s, s) for s in deep_to_shallow[1:])
        self.head = nn.Conv2d(widths[0], out_channels, 1)

    def forward(self, skips: list[torch.Tensor], keep: int | None = None) -> torch.Tensor:
        """The decoded map; with `keep`, only its central keep x keep.

        Only what that centre depends on is computed: each level's block runs on the
        region it must deliver plus a 2-pixel margin (two 3x3 convolutions), and the
        margin, where the zero padding stands in for real neighbours, is cut off. The
        result equals decoding everything and cropping; at N = 64 the network runs 1.46x
        faster.
        """
        size = skips[0].shape[-1]
        regions = _regions(size, size if keep is None else keep, len(self.blocks))
        x = _crop(skips[-1], regions[-1][1])
        depth = len(self.blocks)
        for level in range(depth - 1, -1, -1):  # self.ups and self.blocks go deep first
            region, below = regions[level]
            block = _grown(region, size >> level)
            up = _crop(self.ups[depth - 1 - level](x), (block[0] - 2 * below[0], block[1]))
            x = self.blocks[depth - 1 - level](torch.cat([up, _crop(skips[level], block)], dim=1))
            x = _crop(x, (region[0] - block[0], region[1]))
        return self.head(x)


def _crop(x: torch.Tensor, region: tuple[int, int]) -> torch.Tensor:
    start, length = region
    return x[..., start : start + length, start : start + length]


def _grown(region: tuple[int, int], size: int) -> tuple[int, int]:
    """`region` with the 2-pixel margin of a block's two 3x3 convolutions, within the map."""
    start, length = region
    lo, hi = max(0, start - 2), min(size, start + length + 2)
    return lo, hi - lo


def _regions(size: int, keep: int, depth: int) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Per decoder level (shallow to deep): the (start, length) its block must deliver,
    and the region of the level below that its 2x up-sampling reads."""
    out: list[tuple[tuple[int, int], tuple[int, int]]] = []
    region = ((size - keep) // 2, keep)
    for level in range(depth):
        start, length = _grown(region, size >> level)
        below = (start // 2, (start + length + 1) // 2 - start // 2)
        out.append((region, below))
        region = below
    return out


class PtychoUNet(nn.Module):
    """Amplitudes of C patterns in; object amplitude and phase of their centres out."""

    def __init__(
        self,
        channels: int = 1,
        n_filters_scale: float = 1.0,
        depth: int = 3,
        in_per_channel: int = 3,
    ) -> None:
        super().__init__()
        base = max(4, round(16 * n_filters_scale))
        widths = [base * 2**i for i in range(depth + 1)]
        self.stem = _block(channels * in_per_channel, widths[0])
        self.downs = nn.ModuleList(_block(widths[i], widths[i + 1]) for i in range(depth))
        self.pool = nn.AvgPool2d(2)
        self.amplitude = Decoder(widths, channels)
        self.phase = Decoder(widths, channels)
        self.channels = channels

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Amplitude in (0, 1) and phase in (-pi, pi) over the central N/2 x N/2."""
        half = features.shape[-1] // 2
        x = self.stem(features)
        skips = [x]
        for down in self.downs:
            x = down(self.pool(x))
            skips.append(x)  # N, N/2, ..., bottleneck
        amp_logit = self.amplitude(skips, keep=half)
        phase = math.pi * torch.tanh(self.phase(skips, keep=half))
        return torch.sigmoid(amp_logit), phase


def build(channels: int = 1, n_filters_scale: float = 1.0) -> PtychoUNet:
    """The factory registered as model ``ptycho.pinn``."""
    return PtychoUNet(channels=channels, n_filters_scale=n_filters_scale)
