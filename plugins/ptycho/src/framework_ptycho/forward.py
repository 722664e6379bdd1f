"""The physics-informed forward model: network -> object patches -> merged -> diffraction.

The probe is fixed (known); a trainable scalar absorbs the object/probe scale ambiguity.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from framework_ptycho import physics

# The probe is scaled so that an object of amplitude ~0.5 (the sigmoid's middle) yields
# the normalized data's mean energy (N/2)^2; the trainable scale does the rest.
ASSUMED_MEAN_AMPLITUDE = 0.5


def normalized_probe(probe: torch.Tensor) -> torch.Tensor:
    """`probe` (..., N, N) scaled to the energy the normalized data assume (each one)."""
    n = probe.shape[-1]
    energy = (probe.abs() ** 2).sum(dim=(-2, -1), keepdim=True)
    target = (n / 2) ** 2 / ASSUMED_MEAN_AMPLITUDE**2
    return probe * torch.sqrt(target / energy)


class PhysicsModel(nn.Module):
    """Wraps the network with the fixed physics so that training compares amplitudes."""

    def __init__(self, net: nn.Module, probe: torch.Tensor) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("probe", normalized_probe(probe.to(torch.complex64)))
        self.log_scale = nn.Parameter(torch.zeros(()))

    def features(self, amplitudes: torch.Tensor, probe: torch.Tensor | None = None) -> torch.Tensor:
        """Network input: each amplitude, and a one-step real-space estimate of its object.

        The estimate back-propagates the measured amplitude with the probe's own far-field
        phase and divides by the probe (regularised), so that the convolutional encoder
        starts from real-space structure rather than from Fourier-space speckle.
        `probe` (B, 1, N, N), normalized, gives each sample its own (default: the model's).
        """
        before, after = self._estimate_factors(self.probe if probe is None else probe)
        estimate = torch.fft.ifft2(amplitudes * before, norm="ortho") * after
        return torch.cat([amplitudes, estimate.real, estimate.imag], dim=1)

    def _estimate_factors(self, probe: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The estimate is ``ifft2c(A * far_phase) * conj(P) / (|P|^2 + 0.1 max |P|^2)``.

        For an even N, ``ifft2c(X) = c * ifft2(c * X)`` with the checkerboard
        ``c = (-1)^(row + col)`` (each centring shift is a half-period roll), so the shifts
        and the probe terms fold into two constant N x N factors: one multiply, one FFT,
        one multiply per pattern, half the time of rolling the data twice.
        """
        n = probe.shape[-1]
        sign = 1 - 2 * (torch.arange(n, device=probe.device) % 2)
        checker = (sign[:, None] * sign[None, :]).to(probe.real.dtype)
        far_phase = torch.exp(1j * physics.fft2c(probe).angle())
        power = probe.abs() ** 2
        peak = power.amax(dim=(-2, -1), keepdim=True)
        return far_phase * checker, checker * probe.conj() / (power + 0.1 * peak)

    def objects(self, amplitudes: torch.Tensor, probe: torch.Tensor | None = None) -> torch.Tensor:
        """Complex object over the central N/2 x N/2 of each patch, zero-padded to N x N.

        The estimate is an input, not a base the network corrects: as a residual on it, the
        training stayed near the estimate (amplitude Pearson ~0.27, phase ~0.6) where the
        free network reached ~0.3 and ~0.8 in the same epochs.
        """
        amp, phase = self.net(self.features(amplitudes, probe))
        return physics.pad_centre(torch.polar(amp.float(), phase.float()), amplitudes.shape[-1])

    def forward(
        self, amplitudes: torch.Tensor, offsets: torch.Tensor, probe: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Predicted diffraction amplitudes (B, C, N, N) for measured ones and group offsets.

        `probe` (B, 1, N, N), normalized: each group's own probe (default: the model's).
        """
        return self.diffract(self.objects(amplitudes, probe), offsets, probe)

    def diffract(
        self, obj: torch.Tensor, offsets: torch.Tensor, probe: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Diffraction amplitudes of the network's object patches (B, C, N, N): a group's
        patches merged into one object and read back at their offsets, times the probe."""
        n = obj.shape[-1]
        probe = self.probe if probe is None else probe
        if obj.shape[1] > 1:
            mask = physics.central_mask(n, n // 2, obj.device)
            canvas = physics.merge(obj, offsets, mask)
            obj = physics.extract(canvas, offsets, n)
        return physics.diffraction_amplitude(obj, probe) * self.log_scale.exp()


def poisson_nll(pred: torch.Tensor, meas: torch.Tensor, nphotons: float) -> torch.Tensor:
    """Poisson NLL in photon counts: lambda = (s A_pred)^2, y = (s A_meas)^2, s = sqrt(nphotons)/(N/2)."""
    s = math.sqrt(nphotons) / (meas.shape[-1] / 2)
    lam = (s * pred) ** 2
    counts = (s * meas) ** 2
    lam = lam.clamp_min(1e-8)
    return (lam - counts * torch.log(lam)).mean()


def mae(pred: torch.Tensor, meas: torch.Tensor, nphotons: float) -> torch.Tensor:
    """Mean absolute error on (normalized) amplitudes."""
    return (pred - meas).abs().mean()


LOSSES = {"poisson": poisson_nll, "mae": mae}
