"""Ptychography NPZ files (PtychoPINN-compatible): load safely, validate, normalize, save.

Keys: ``diffraction`` (n, H, W) float amplitude (legacy ``diff3d`` and the (H, W, n)
layout are converted), ``probeGuess`` (H, W) complex, ``xcoords``/``ycoords`` (n,) in
object pixels, optional ``objectGuess`` (M, M) complex, ``scan_index`` (n,) and ``Y``
(n, H, W) complex ground-truth patches.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import numpy as np
from framework import ArtifactError


@attrs.define
class PtychoData:
    """One dataset in memory: amplitudes (n, N, N), probe, positions, optional truth."""

    diffraction: np.ndarray
    probe: np.ndarray
    xcoords: np.ndarray
    ycoords: np.ndarray
    obj: np.ndarray | None = None
    patches: np.ndarray | None = None
    scan_index: np.ndarray | None = None

    @property
    def n(self) -> int:
        return int(self.diffraction.shape[-1])

    def __len__(self) -> int:
        return int(self.diffraction.shape[0])


def intensity_scale(diffraction: np.ndarray) -> float:
    """The scalar that makes the mean total intensity per pattern (N/2)^2."""
    n = diffraction.shape[-1]
    energy = float((diffraction.astype(np.float64) ** 2).sum(axis=(1, 2)).mean())
    return float(np.sqrt((n / 2) ** 2 / energy)) if energy > 0 else 1.0


def photons_per_pattern(diffraction: np.ndarray) -> float | None:
    """The scan's dose read from its amplitudes alone; None when they do not tell it.

    Amplitudes are sqrt(counts) times one scale, so the smallest nonzero intensity is one
    photon and the mean total intensity over it counts the photons per pattern. Squared
    amplitudes that are not whole multiples of one count (a detector's gain and
    background, other processing) or all zero carry no such unit."""
    if not _whole_counts(diffraction[: min(len(diffraction), 256)].astype(np.float64) ** 2):
        return None
    # Block by block, so a large scan is never copied whole in float64.
    total, smallest = 0.0, np.inf
    for start in range(0, len(diffraction), 256):
        block = diffraction[start : start + 256].astype(np.float64)
        total += float(np.einsum("ijk,ijk->", block, block))
        nonzero = block[block > 0]
        smallest = min(smallest, float(nonzero.min()) ** 2) if nonzero.size else smallest
    return total / len(diffraction) / smallest


def _fail(path: Path, what: str, fix: str) -> ArtifactError:
    return ArtifactError(f"{path}: {what}", hint=fix)


def _read(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise ArtifactError(f"data file {path} does not exist", hint="check the path")
    with path.open("rb") as head:
        magic = head.read(6)
    if not magic.startswith((b"PK", b"\x93NUMPY", b"\x80")):  # zip, .npy, pickle
        raise _fail(path, "is not an NPZ file", "write it with np.savez")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise _fail(
                path,
                "holds pickled (object) arrays, which are refused for safety",
                "save plain numeric arrays with np.savez",
            ) from None
        raise _fail(path, f"is not a readable NPZ file ({exc})", "write it with np.savez") from None
    except (OSError, EOFError) as exc:
        raise _fail(path, f"is not a readable NPZ file ({exc})", "write it with np.savez") from None


def _diffraction(path: Path, arrays: dict[str, np.ndarray]) -> np.ndarray:
    key = "diffraction" if "diffraction" in arrays else "diff3d" if "diff3d" in arrays else None
    if key is None:
        raise _fail(path, "has no 'diffraction' (or legacy 'diff3d') array", "add the key")
    diff = arrays[key]
    if diff.ndim != 3:
        raise _fail(path, f"'{key}' has shape {diff.shape}; expected (n, N, N)", "reshape it")
    if not np.issubdtype(diff.dtype, np.floating) and not np.issubdtype(diff.dtype, np.integer):
        raise _fail(path, f"'{key}' has dtype {diff.dtype}; expected real float32", "store |F|")
    if diff.shape[1] != diff.shape[2] and diff.shape[0] == diff.shape[1]:
        diff = np.moveaxis(diff, -1, 0)  # the (H, W, n) layout
    if diff.shape[1] != diff.shape[2] or diff.shape[1] not in (64, 128):
        raise _fail(
            path,
            f"'{key}' has patterns of {diff.shape[1:]}; expected N x N with N in 64, 128",
            "crop or bin the patterns",
        )
    if not np.isfinite(diff).all() or (diff < 0).any():
        raise _fail(path, f"'{key}' holds negative or non-finite values", "store amplitudes >= 0")
    return diff.astype(np.float32)


def _whole_counts(values: np.ndarray) -> bool:
    """Are the values whole multiples of their smallest nonzero one, as photon counts
    times a scale are? Judged on the low counts, where float32 is exact enough."""
    nonzero = values[values > 0]
    if nonzero.size == 0:
        return False
    ratio = nonzero / nonzero.min()
    low = ratio[ratio < 1000]
    return bool(np.any(low > 1.5) and np.all(np.abs(low - np.round(low)) < 1e-3))


def _looks_like_intensity(diff: np.ndarray, probe: np.ndarray) -> bool:
    """Is the diffraction intensity (counts) rather than amplitude (their square root)?

    Integer-valued data, or data that are whole multiples of one count, are intensity;
    data whose squares are whole multiples of one count are amplitude. Otherwise (a
    detector's gain or background), a scale-free test of shape: the mean measured
    intensity follows |FFT(probe)|^2 at low angles, so if the data are amplitudes their
    square matches it better than the data do. The shape test alone misjudges amplitudes
    at about 1e3 photons per pattern, where most pixels hold 0 or 1 count.
    """
    sample = diff[: min(len(diff), 256)].astype(np.float64)
    if (np.all(sample == np.round(sample)) and sample.max() > 1) or _whole_counts(sample):
        return True
    if _whole_counts(sample**2):
        return False
    far = np.abs(np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(probe), norm="ortho"))) ** 2
    far /= far.sum()

    def distance(pattern: np.ndarray) -> float:
        return float(np.abs(pattern / max(pattern.sum(), 1e-30) - far).sum())

    return distance(sample.mean(axis=0)) < distance((sample**2).mean(axis=0))


def _unshifted(diff: np.ndarray) -> bool:
    """Is the zero frequency at the patterns' corners (FFT order) rather than their
    centre? The mean pattern then holds more power in its four corner blocks (N/4
    square) than in its central N/2 square; centred patterns hold 1e3-1e30 times less
    there on every simulated family and dose."""
    mean = (diff[: min(len(diff), 256)].astype(np.float64) ** 2).mean(axis=0)
    n, q = mean.shape[0], mean.shape[0] // 4
    centre = mean[q : n - q, q : n - q].sum()
    corners = sum(
        mean[r, c].sum()
        for r in (slice(0, q), slice(n - q, n))
        for c in (slice(0, q), slice(n - q, n))
    )
    return bool(corners > centre)


def _array(
    path: Path, arrays: dict[str, np.ndarray], key: str, shape: tuple, kind: str
) -> np.ndarray:
    if key not in arrays:
        raise _fail(path, f"has no '{key}' array", f"add '{key}' {shape}")
    value = arrays[key]
    if value.shape != shape:
        raise _fail(path, f"'{key}' has shape {value.shape}; expected {shape}", "fix its shape")
    ok = (
        np.issubdtype(value.dtype, np.complexfloating)
        if kind == "complex"
        else np.issubdtype(value.dtype, np.number)
        and not np.issubdtype(value.dtype, np.complexfloating)
    )
    if not ok:
        raise _fail(
            path, f"'{key}' has dtype {value.dtype}; expected {kind}", f"store it as {kind}"
        )
    return value


MAX_FRAME = 16384  # object pixels per side; a wider scan is almost surely in other units


def _check_positions(path: Path, xs: np.ndarray, ys: np.ndarray, n: int, obj: Any) -> None:
    """Refuse positions that are not finite, not in object pixels, or (with an
    ``objectGuess``) put a pattern's N x N window outside the object."""
    if not (np.isfinite(xs).all() and np.isfinite(ys).all()):
        raise _fail(path, "'xcoords' or 'ycoords' holds non-finite values", "fix the positions")
    span = max(np.ptp(xs), np.ptp(ys)) if len(xs) else 0.0
    if len(xs) > 1 and span < 1:
        raise _fail(
            path,
            f"the scan positions span {span:.3g} object pixels, less than one",
            "give xcoords/ycoords in object pixels (metres divided by the pixel size)",
        )
    if span + n > MAX_FRAME:
        raise _fail(
            path,
            f"the scan positions span {span:.3g} object pixels, an object over "
            f"{MAX_FRAME} pixels wide",
            "give xcoords/ycoords in object pixels (metres divided by the pixel size)",
        )
    if obj is None:
        return
    low = min(xs.min(), ys.min()) - n / 2
    high = max(xs.max(), ys.max()) + n / 2
    rows, cols = obj.shape
    if low < 0 or xs.max() + n / 2 > cols or ys.max() + n / 2 > rows:
        raise _fail(
            path,
            f"some patterns' {n} x {n} windows (positions {low + n / 2:.1f} to "
            f"{high - n / 2:.1f}) reach outside 'objectGuess' ({rows} x {cols})",
            "give xcoords/ycoords as window centres in objectGuess's pixels "
            f"(from {n // 2} to its side less {n // 2})",
        )


def load_npz(path: str | Path) -> PtychoData:
    """Load and validate a PtychoPINN-style file (never unpickles anything)."""
    path = Path(path)
    arrays = _read(path)
    diff = _diffraction(path, arrays)
    count, n = diff.shape[0], diff.shape[-1]
    probe = _array(path, arrays, "probeGuess", (n, n), "complex").astype(np.complex64)
    xs = _array(path, arrays, "xcoords", (count,), "real").astype(np.float64)
    ys = _array(path, arrays, "ycoords", (count,), "real").astype(np.float64)
    if _looks_like_intensity(diff, probe):
        raise _fail(
            path,
            "'diffraction' looks like intensity (photon counts), not amplitude",
            "store np.sqrt(counts) as float32",
        )
    if _unshifted(diff):
        raise _fail(
            path,
            "'diffraction' has its zero frequency at the patterns' corners, not their centre",
            "store np.fft.fftshift(patterns, axes=(1, 2))",
        )
    obj = None
    if "objectGuess" in arrays:
        raw = arrays["objectGuess"]
        obj = _array(path, arrays, "objectGuess", raw.shape, "complex").astype(np.complex64)
        if obj.ndim != 2:
            raise _fail(path, f"'objectGuess' has shape {obj.shape}; expected (M, M)", "fix it")
    _check_positions(path, xs, ys, n, obj)
    patches = None
    if "Y" in arrays:
        y = arrays["Y"]
        y = (
            np.moveaxis(y, -1, 0)
            if y.ndim == 3 and y.shape[-1] == count and y.shape[0] != count
            else y
        )
        arrays["Y"] = y[..., 0] if y.ndim == 4 else y
        patches = _array(path, arrays, "Y", (count, n, n), "complex").astype(np.complex64)
    scan_index = None
    if "scan_index" in arrays:
        scan_index = _array(path, arrays, "scan_index", (count,), "real").astype(np.int64)
    return PtychoData(diff, probe, xs, ys, obj, patches, scan_index)


def framed(data: PtychoData) -> tuple[PtychoData, np.ndarray]:
    """`data` in a frame where every pattern's window starts at pixel 0 or above, and the
    (x, y) pixels added to its positions to get there (zero with an ``objectGuess``,
    whose frame the loader checked).

    Without an ``objectGuess`` a file's positions may be centred on 0 (or start anywhere
    below N/2); they are moved up by whole pixels, so sub-pixel positions keep their
    fractions."""
    if data.obj is not None:
        return data, np.zeros(2)
    half = data.n / 2
    shift = np.array([max(0.0, np.ceil(half - c.min())) for c in (data.xcoords, data.ycoords)])
    moved = attrs.evolve(data, xcoords=data.xcoords + shift[0], ycoords=data.ycoords + shift[1])
    return moved, shift


def object_side(data: PtychoData) -> int:
    """The side of a square object frame that holds every pattern's window (no truth)."""
    return int(np.ceil(max(data.xcoords.max(), data.ycoords.max()))) + data.n


def save_npz(path: str | Path, data: PtychoData) -> None:
    """Write `data` with the PtychoPINN key names (a plain, pickle-free npz)."""
    arrays = {
        "diffraction": data.diffraction.astype(np.float32),
        "probeGuess": data.probe.astype(np.complex64),
        "xcoords": data.xcoords.astype(np.float64),
        "ycoords": data.ycoords.astype(np.float64),
    }
    if data.obj is not None:
        arrays["objectGuess"] = data.obj.astype(np.complex64)
    if data.patches is not None:
        arrays["Y"] = data.patches.astype(np.complex64)
    if data.scan_index is not None:
        arrays["scan_index"] = data.scan_index.astype(np.int64)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
