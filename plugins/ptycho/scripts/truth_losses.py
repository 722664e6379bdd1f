"""The error of a network's patches against the simulated truth: the optional term that
`train_pretrained.py --truth-weight W --truth-loss l1|ssim` adds to the Poisson NLL.

`obj` is the network's patches (B, C, N, N, zero outside the central N/2 x N/2), `truth`
the true object under each pattern's centre in the same frame
(`framework_ptycho.corpus.truth_patches`), `scale` the network's amplitude scale.
"""

from __future__ import annotations

import torch


def truth_error(obj: torch.Tensor, truth: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Mean absolute amplitude error plus mean absolute (wrapped) phase error of the
    network's patches (B, C, N, N, zero outside the centre) against the truth's centres."""
    from framework_ptycho.physics import crop_centre

    centre = crop_centre(obj, truth.shape[-1])
    amplitude = (centre.abs() * scale - truth.abs()).abs().mean()
    phase = torch.angle(centre * truth.conj()).abs().mean()
    return amplitude + phase


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: torch.Tensor, window: int = 7):
    """Mean SSIM of each image pair (B, h, w) with a uniform window, as skimage scores it;
    `data_range` (B,) sets the stabilising constants."""
    import torch.nn.functional as F

    def mean(t):
        return F.avg_pool2d(t[:, None], window, stride=1)[:, 0]

    c1 = ((0.01 * data_range) ** 2)[:, None, None]
    c2 = ((0.03 * data_range) ** 2)[:, None, None]
    mx, my = mean(x), mean(y)
    vx, vy, cxy = mean(x * x) - mx * mx, mean(y * y) - my * my, mean(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return s.mean(dim=(1, 2))


def structure_error(obj: torch.Tensor, truth: torch.Tensor, scale: torch.Tensor):
    """1 - SSIM of amplitude plus 1 - SSIM of phase (each patch's constant phase offset
    removed), patch by patch: a flat image scores badly however close its mean is."""
    from framework_ptycho.physics import crop_centre

    centre = crop_centre(obj, truth.shape[-1]).flatten(0, 1)
    truth = truth.flatten(0, 1)
    offset = torch.angle((centre * truth.conj()).sum(dim=(1, 2), keepdim=True))
    amp, true_amp = centre.abs() * scale, truth.abs()
    phase = torch.angle(centre * torch.exp(-1j * offset))
    true_phase = torch.angle(truth)

    def spread(t, floor):
        return (t.amax(dim=(1, 2)) - t.amin(dim=(1, 2))).clamp(min=floor)

    amp_range = spread(true_amp, 0.0).maximum(0.1 * true_amp.mean(dim=(1, 2)))
    return (1 - ssim(amp, true_amp, amp_range)).mean() + (
        1 - ssim(phase, true_phase, spread(true_phase, 0.1))
    ).mean()
