"""Synthetic ptychography: an object, a probe, scan positions and Poisson-noisy diffraction.

Everything is drawn from one numpy Generator, so a seed fixes the whole dataset.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from framework_ptycho.dataset import PtychoData


def lines_object(size: int, rng: np.random.Generator, n_lines: int = 60) -> np.ndarray:
    """Random blurred line segments: amplitude in [0.5, 1], phase in [-1, 1] rad."""
    canvas = np.zeros((size, size))
    for _ in range(n_lines):
        x0, y0 = rng.uniform(0, size, 2)
        angle = rng.uniform(0, np.pi)
        length = rng.uniform(size / 8, size / 2)
        t = np.linspace(-length / 2, length / 2, int(length * 2))
        xs = np.clip(np.round(x0 + t * np.cos(angle)).astype(int), 0, size - 1)
        ys = np.clip(np.round(y0 + t * np.sin(angle)).astype(int), 0, size - 1)
        canvas[ys, xs] += rng.uniform(0.5, 1.0)
    amp_field = ndimage.gaussian_filter(canvas, 1.0)
    phase_field = ndimage.gaussian_filter(np.roll(canvas, (3, -5), axis=(0, 1)), 1.5)
    return _compose(amp_field, phase_field)


def smooth_object(size: int, rng: np.random.Generator) -> np.ndarray:
    """A smooth random field (Gaussian-filtered noise) for amplitude and phase."""
    amp_field = ndimage.gaussian_filter(rng.standard_normal((size, size)), size / 24)
    phase_field = ndimage.gaussian_filter(rng.standard_normal((size, size)), size / 24)
    return _compose(amp_field, phase_field)


def _unit(field: np.ndarray) -> np.ndarray:
    lo, hi = field.min(), field.max()
    return (field - lo) / (hi - lo) if hi > lo else np.zeros_like(field)


def _compose(amp_field: np.ndarray, phase_field: np.ndarray) -> np.ndarray:
    amplitude = 0.5 + 0.5 * _unit(amp_field)
    phase = 2.0 * _unit(phase_field) - 1.0
    return (amplitude * np.exp(1j * phase)).astype(np.complex64)


def disk_probe(n: int, radius: float, defocus: float = 5.0, blur: float = 1.5) -> np.ndarray:
    """A blurred disk of the given radius at the centre pixel n//2, with some aberration.

    Defocus (`defocus` radians of quadratic phase at the disk edge) spreads the far field
    over the detector as a real, slightly defocused probe does; a flat disk's far field is
    a few-pixel Airy spot, which leaves the object's signal in the faint speckle alone and
    makes the back-propagated estimate the PINN starts from uninformative. An odd (coma-like) term breaks the point
    symmetry that would otherwise let a single pattern's twin image fit the data equally.
    """
    yy, xx = np.mgrid[:n, :n] - n // 2
    r2 = xx**2 + yy**2
    amplitude = ndimage.gaussian_filter((r2 <= radius**2).astype(float), blur)
    phase = defocus * r2 / radius**2 + 1.0 * (xx**3 + 0.5 * yy**3) / radius**3
    return (amplitude * np.exp(1j * phase)).astype(np.complex64)


def scan_positions(
    size: int, n: int, step: float, scan: str, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Positions covering the object with patches fully inside it (grid or uniform random)."""
    lo, hi = n / 2, size - n / 2
    axis = np.arange(lo, hi + 1e-9, step)
    gx, gy = np.meshgrid(axis, axis)
    xs, ys = gx.ravel(), gy.ravel()
    if scan == "random":
        xs = rng.uniform(lo, hi, xs.size)
        ys = rng.uniform(lo, hi, ys.size)
    return xs.astype(np.float64), ys.astype(np.float64)


def noisy_diffraction(
    patches: np.ndarray, probe: np.ndarray, nphotons: float, rng: np.random.Generator
) -> np.ndarray:
    """sqrt(Poisson(|FFT(s O P)|^2)) / s, with s set so the mean photons per pattern is `nphotons`."""
    import torch

    from framework_ptycho.physics import fft2c

    intensity = fft2c(torch.from_numpy(patches * probe)).abs().numpy() ** 2
    scale2 = nphotons / intensity.sum(axis=(1, 2)).mean()
    counts = rng.poisson(intensity * scale2)
    return (np.sqrt(counts) / np.sqrt(scale2)).astype(np.float32)


def simulate(
    *,
    n: int,
    object_size: int,
    object_kind: str,
    overlap: float,
    probe_radius: float,
    scan: str,
    nphotons: float,
    test_fraction: float,
    seed: int,
    probe_defocus: float = 5.0,
    train_objects: int = 1,
) -> tuple[PtychoData, PtychoData, np.ndarray]:
    """A train and a test dataset (split along y) of one object, and the object itself.

    With ``train_objects`` > 1, that many - 1 further objects of the same kind, scanned
    the same way, are added to TRAIN whole. Their positions are moved along x by
    multiples of ``object_size + 2n``, so no group of neighbours spans two objects; the
    train file then carries no ``objectGuess`` (it would not match those positions).
    """
    import torch

    from framework_ptycho.physics import extract_patches

    rng = np.random.default_rng(seed)
    probe = disk_probe(n, probe_radius, probe_defocus)
    step = max(1.0, 2 * probe_radius * (1 - overlap))

    def scanned() -> tuple[np.ndarray, ...]:
        obj = (
            lines_object(object_size, rng)
            if object_kind == "lines"
            else smooth_object(object_size, rng)
        )
        xs, ys = scan_positions(object_size, n, step, scan, rng)
        patches = extract_patches(
            torch.from_numpy(obj), torch.from_numpy(xs), torch.from_numpy(ys), n
        ).numpy()
        return obj, xs, ys, patches, noisy_diffraction(patches, probe, nphotons, rng)

    obj, xs, ys, patches, diffraction = scanned()
    is_test = ys >= np.quantile(ys, 1 - test_fraction)
    test_index, train_index = np.flatnonzero(is_test), np.flatnonzero(~is_test)
    test = PtychoData(
        diffraction=diffraction[test_index],
        probe=probe,
        xcoords=xs[test_index],
        ycoords=ys[test_index],
        obj=obj,
        patches=patches[test_index].astype(np.complex64),
        scan_index=test_index.astype(np.int64),
    )
    parts = [(diffraction[train_index], xs[train_index], ys[train_index], patches[train_index])]
    for k in range(1, train_objects):
        _, more_xs, more_ys, more_patches, more_diffraction = scanned()
        parts.append((more_diffraction, more_xs + k * (object_size + 2 * n), more_ys, more_patches))
    joined = [np.concatenate(arrays) for arrays in zip(*parts, strict=True)]
    count = len(joined[0])
    # One object's scan_index numbers its whole scan; further objects' patterns follow on.
    scan_index = np.concatenate([train_index, len(xs) + np.arange(count - len(train_index))])
    train = PtychoData(
        diffraction=joined[0],
        probe=probe,
        xcoords=joined[1],
        ycoords=joined[2],
        obj=obj if train_objects == 1 else None,
        patches=joined[3].astype(np.complex64),
        scan_index=scan_index.astype(np.int64),
    )
    return train, test, obj
