"""Synthetic ptychography: an object, a probe, scan positions and Poisson-noisy diffraction.

Everything is drawn from one numpy Generator, so a seed fixes the whole dataset.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from framework_ptycho.dataset import PtychoData
from framework_ptycho.objects import lines_object, make_object, smooth_object

__all__ = ["disk_probe", "lines_object", "noisy_diffraction", "simulate", "smooth_object"]


def disk_probe(
    n: int,
    radius: float,
    defocus: float = 5.0,
    blur: float = 1.5,
    aberration: np.ndarray | None = None,
) -> np.ndarray:
    """A blurred disk of the given radius at the centre pixel n//2, with some aberration.

    Defocus (`defocus` radians of quadratic phase at the disk edge) spreads the far field
    over the detector as a real, slightly defocused probe does; a flat disk's far field is
    a few-pixel Airy spot, which leaves the object's signal in the faint speckle alone and
    makes the back-propagated estimate the PINN starts from uninformative. An odd (coma-like) term breaks the point
    symmetry that would otherwise let a single pattern's twin image fit the data equally.
    `aberration` (5,) adds radians at the disk edge of two astigmatisms, two comas and a
    trefoil (see `random_aberration`).
    """
    yy, xx = np.mgrid[:n, :n] - n // 2
    r2 = xx**2 + yy**2
    amplitude = ndimage.gaussian_filter((r2 <= radius**2).astype(float), blur)
    phase = defocus * r2 / radius**2 + 1.0 * (xx**3 + 0.5 * yy**3) / radius**3
    if aberration is not None:
        u, v = xx / radius, yy / radius
        terms = (u**2 - v**2, 2 * u * v, u * (u**2 + v**2), v * (u**2 + v**2), u**3 - 3 * u * v**2)
        phase = phase + sum(c * t for c, t in zip(aberration, terms, strict=True))
    return (amplitude * np.exp(1j * phase)).astype(np.complex64)


def random_aberration(strength: float, rng: np.random.Generator) -> np.ndarray | None:
    """Five aberration coefficients, each normal with standard deviation `strength` rad."""
    return rng.normal(0.0, strength, 5) if strength > 0 else None


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
    train_kinds: Sequence[str] | None = None,
    probe_aberration: float = 0.0,
) -> tuple[PtychoData, PtychoData, np.ndarray]:
    """A train and a test dataset, and the test object (of family `object_kind`).

    TEST is the test object's last scan rows (largest y). When the train families
    (`train_kinds`, default the test's own) include the test's, TRAIN starts with that
    object's other rows; otherwise nothing of the test object reaches TRAIN. Further
    objects, ``train_objects`` in all, cycle through the train families and are added
    to TRAIN whole. Their positions are moved along x by multiples of
    ``object_size + 2n``, so no group of neighbours spans two objects; the train file
    then carries no ``objectGuess`` (it would not match those positions). One probe
    (with a random aberration of `probe_aberration` rad) serves the whole dataset.
    """
    import torch

    from framework_ptycho.physics import extract_patches

    rng = np.random.default_rng(seed)
    kinds = list(train_kinds) if train_kinds else [object_kind]
    probe = disk_probe(
        n, probe_radius, probe_defocus, aberration=random_aberration(probe_aberration, rng)
    )
    step = max(1.0, 2 * probe_radius * (1 - overlap))

    def scanned(kind: str) -> tuple[np.ndarray, ...]:
        obj = make_object(kind, object_size, rng)
        xs, ys = scan_positions(object_size, n, step, scan, rng)
        patches = extract_patches(
            torch.from_numpy(obj), torch.from_numpy(xs), torch.from_numpy(ys), n
        ).numpy()
        return obj, xs, ys, patches, noisy_diffraction(patches, probe, nphotons, rng)

    obj, xs, ys, patches, diffraction = scanned(object_kind)
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
    shares = object_kind in kinds
    parts, first = [], 0
    if shares:
        parts.append(
            (diffraction[train_index], xs[train_index], ys[train_index], patches[train_index])
        )
        first, kinds = (
            1,
            [*kinds[kinds.index(object_kind) + 1 :], *kinds[: kinds.index(object_kind) + 1]],
        )
    for k in range(first, train_objects):
        _, more_xs, more_ys, more_patches, more_diffraction = scanned(
            kinds[(k - first) % len(kinds)]
        )
        parts.append((more_diffraction, more_xs + k * (object_size + 2 * n), more_ys, more_patches))
    joined = [np.concatenate(arrays) for arrays in zip(*parts, strict=True)]
    count = len(joined[0])
    # One object's scan_index numbers its whole scan; further objects' patterns follow on.
    own = train_index if shares else np.zeros(0, np.int64)
    scan_index = np.concatenate([own, len(xs) + np.arange(count - len(own))])
    train = PtychoData(
        diffraction=joined[0],
        probe=probe,
        xcoords=joined[1],
        ycoords=joined[2],
        obj=obj if train_objects == 1 and shares else None,
        patches=joined[3].astype(np.complex64),
        scan_index=scan_index.astype(np.int64),
    )
    return train, test, obj
