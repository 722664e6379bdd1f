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

from framework_ptycho.physics import crop_centre


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

    def forward(self, skips: list[torch.Tensor]) -> torch.Tensor:
        x = skips[-1]
        for up, block, skip in zip(self.ups, self.blocks, skips[-2::-1], strict=True):
            x = block(torch.cat([up(x), skip], dim=1))
        return self.head(x)


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
        amp_logit = crop_centre(self.amplitude(skips), half)
        phase = math.pi * torch.tanh(crop_centre(self.phase(skips), half))
        return torch.sigmoid(amp_logit), phase


def build(channels: int = 1, n_filters_scale: float = 1.0) -> PtychoUNet:
    """The factory registered as model ``ptycho.pinn``."""
    return PtychoUNet(channels=channels, n_filters_scale=n_filters_scale)
