"""Built-in iterative baseline: ePIE / rPIE with a known probe (numpy, no dependencies).

The object starts as ones (never from ``objectGuess``) or from a given start; the probe is the known one,
scaled once so its power matches the measured mean pattern energy (the probe power
constraint); positions are rounded to pixels and the fractional part is applied to
the probe by a Fourier shift.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np


def _fft(x: np.ndarray) -> np.ndarray:
    return np.fft.fftshift(
        np.fft.fft2(np.fft.ifftshift(x, axes=(-2, -1)), norm="ortho"), axes=(-2, -1)
    )


def _ifft(x: np.ndarray) -> np.ndarray:
    return np.fft.fftshift(
        np.fft.ifft2(np.fft.ifftshift(x, axes=(-2, -1)), norm="ortho"), axes=(-2, -1)
    )


def fourier_shift(img: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Shift a complex image by a sub-pixel (dx, dy): content moves by +dx columns, +dy rows."""
    n = img.shape[-1]
    f = np.fft.fftfreq(n)
    ramp = np.exp(-2j * np.pi * (f[None, :] * dx + f[:, None] * dy))
    return np.fft.ifft2(np.fft.fft2(img) * ramp)


def power_constrained(probe: np.ndarray, diffraction: np.ndarray) -> np.ndarray:
    """The probe scaled so that sum |P|^2 equals the mean measured energy per pattern."""
    energy = float((diffraction.astype(np.float64) ** 2).sum(axis=(1, 2)).mean())
    return probe * np.sqrt(energy / float((np.abs(probe) ** 2).sum()))


def reconstruct(
    diffraction: np.ndarray,
    probe: np.ndarray,
    xs: np.ndarray,
    ys: np.ndarray,
    size: int,
    *,
    iterations: int,
    step_size: float = 1.0,
    variant: str = "epie",
    seed: int = 0,
    on_iteration: Callable[[int, float], None] | None = None,
    init: np.ndarray | None = None,
    progress: Callable[..., Iterable[int]] | None = None,
) -> tuple[np.ndarray, list[float]]:
    """The reconstructed (size, size) object and the Fourier error per iteration.

    The object starts as ones, or as `init` (e.g. the PINN's stitched image).
    """
    n = diffraction.shape[-1]
    rng = np.random.default_rng(seed)
    probe = power_constrained(probe.astype(np.complex128), diffraction)
    ix, iy = np.round(xs).astype(int), np.round(ys).astype(int)
    probes = [fourier_shift(probe, x - i, y - j) for x, i, y, j in zip(xs, ix, ys, iy, strict=True)]
    obj = np.ones((size, size), np.complex128) if init is None else init.astype(np.complex128)
    measured = diffraction.astype(np.float64)
    errors = []
    passes = progress(range(iterations), total=iterations) if progress else range(iterations)
    for it in passes:
        err = 0.0
        for k in rng.permutation(len(xs)):
            y0, x0 = iy[k] - n // 2, ix[k] - n // 2
            view = obj[y0 : y0 + n, x0 : x0 + n]
            p = probes[k]
            exit_wave = p * view
            far = _fft(exit_wave)
            amp = np.abs(far)
            err += float(((amp - measured[k]) ** 2).sum())
            revised = _ifft(measured[k] * far / np.maximum(amp, 1e-12))
            p2 = np.abs(p) ** 2
            if variant == "rpie":
                alpha = min(step_size, 1.0)
                denom = (1 - alpha) * p2 + alpha * p2.max()
                view += np.conj(p) * (revised - exit_wave) / denom
            else:
                view += step_size * np.conj(p) * (revised - exit_wave) / p2.max()
        errors.append(err / float((measured**2).sum()))
        if on_iteration:
            on_iteration(it, errors[-1])
    return obj.astype(np.complex64), errors
