"""Reconstruction quality against the true object, after removing the shared ambiguities.

Ptychography cannot tell a global phase offset and ramp, an amplitude scale or a small
translation apart from the object itself, so each reconstruction is first aligned:
sub-pixel translation (phase cross-correlation), crop to the scanned region, plane fit
of the phase difference, least-squares amplitude scale. Then SSIM, PSNR, MAE, Pearson
for amplitude and phase, and FRC50 on the complex object.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def register_shift(truth: np.ndarray, recon: np.ndarray) -> np.ndarray:
    """The (dy, dx) that moves `recon` onto `truth` (amplitudes, sub-pixel)."""
    from skimage.registration import phase_cross_correlation

    shift, _, _ = phase_cross_correlation(
        np.abs(truth), np.abs(recon), upsample_factor=20, normalization=None
    )
    return shift


def apply_shift(img: np.ndarray, shift: np.ndarray) -> np.ndarray:
    from scipy.ndimage import fourier_shift

    return np.fft.ifftn(fourier_shift(np.fft.fftn(img), shift))


def remove_phase_plane(truth: np.ndarray, recon: np.ndarray) -> np.ndarray:
    """`recon` with the best-fitting plane of its phase difference to `truth` removed."""
    diff = np.angle(recon * np.conj(truth))
    weights = np.abs(truth).ravel()
    yy, xx = np.mgrid[: truth.shape[0], : truth.shape[1]]
    design = np.stack([np.ones(truth.size), xx.ravel(), yy.ravel()], axis=1)
    # Remove the constant first so the plane fit does not straddle the +-pi wrap.
    offset = np.angle(np.sum(recon * np.conj(truth)))
    diff = np.angle(np.exp(1j * (diff - offset)))
    coef, *_ = np.linalg.lstsq(design * weights[:, None], diff.ravel() * weights, rcond=None)
    plane = (design @ coef).reshape(truth.shape) + offset
    return recon * np.exp(-1j * plane)


def amplitude_scale(truth: np.ndarray, recon: np.ndarray) -> float:
    """The least-squares s minimising || |truth| - s |recon| ||."""
    r = np.abs(recon)
    return float((np.abs(truth) * r).sum() / max(float((r * r).sum()), 1e-12))


def align(
    truth: np.ndarray, recon: np.ndarray, box: tuple[slice, slice]
) -> tuple[np.ndarray, np.ndarray]:
    """Truth and reconstruction cropped to `box`, with the ambiguities removed."""
    shifted = apply_shift(recon, register_shift(truth[box], recon[box]))
    t, r = truth[box], shifted[box]
    r = remove_phase_plane(t, r)
    return t, r * amplitude_scale(t, r)


def frc_curve(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fourier ring correlation of two complex images: (frequency / Nyquist, FRC) per ring."""
    fa, fb = np.fft.fftshift(np.fft.fft2(a)), np.fft.fftshift(np.fft.fft2(b))
    h, w = a.shape
    yy, xx = np.mgrid[:h, :w]
    r = np.hypot((yy - h // 2) / h, (xx - w // 2) / w)  # cycles per pixel
    rings = np.minimum((r * 2 * min(h, w) / 2).astype(int), min(h, w) // 2)
    nrings = min(h, w) // 2
    num = np.bincount(rings.ravel(), (fa * np.conj(fb)).ravel().real, nrings + 1)
    da = np.bincount(rings.ravel(), (np.abs(fa) ** 2).ravel(), nrings + 1)
    db = np.bincount(rings.ravel(), (np.abs(fb) ** 2).ravel(), nrings + 1)
    frc = num[:nrings] / np.sqrt(np.maximum(da[:nrings] * db[:nrings], 1e-30))
    return np.arange(nrings) / nrings, frc


def frc_resolution(a: np.ndarray, b: np.ndarray, threshold: float = 0.5) -> float:
    """The spatial frequency (fraction of Nyquist) where FRC first drops below `threshold`.

    1.0 when it never does (perfect agreement up to Nyquist).
    """
    freq, frc = frc_curve(a, b)
    below = np.flatnonzero(frc[1:] < threshold)
    return float(freq[below[0] + 1]) if below.size else 1.0


def _image_metrics(truth: np.ndarray, recon: np.ndarray) -> dict[str, float]:
    from skimage.metrics import structural_similarity

    data_range = float(truth.max() - truth.min()) or 1.0
    # PSNR by its formula: scikit-image's imports scipy.stats, 0.85 s of every scored run.
    mse = float(np.mean((truth.astype(np.float64) - recon) ** 2))
    return {
        "ssim": float(structural_similarity(truth, recon, data_range=data_range)),
        "psnr": float(10 * np.log10(data_range**2 / mse)) if mse > 0 else float("inf"),
        "mae": float(np.abs(truth - recon).mean()),
        "pearson": float(np.corrcoef(truth.ravel(), recon.ravel())[0, 1])
        if recon.std() > 0
        else 0.0,
    }


def score(
    truth: np.ndarray, recon: np.ndarray, box: tuple[slice, slice], threshold: float = 0.5
) -> dict[str, Any]:
    """All metrics for one reconstruction against the truth over `box`."""
    t, r = align(truth, recon, box)
    phase_r = np.angle(r)
    return {
        "amplitude": _image_metrics(np.abs(t), np.abs(r)),
        "phase": _image_metrics(np.angle(t), phase_r),
        "frc50": frc_resolution(t, r, threshold),
    }


def scanned_box(xs: np.ndarray, ys: np.ndarray, n: int, size: int) -> tuple[slice, slice]:
    """Rows and columns the central N/2 of some scan position covered."""
    half = n // 4
    y0, y1 = int(np.ceil(ys.min())) - half, int(np.floor(ys.max())) + half
    x0, x1 = int(np.ceil(xs.min())) - half, int(np.floor(xs.max())) + half
    return slice(max(y0, 0), min(y1, size)), slice(max(x0, 0), min(x1, size))
