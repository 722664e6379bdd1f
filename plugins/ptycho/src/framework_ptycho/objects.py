"""Families of simulated objects: what a test object can be that the network never saw.

Every family returns a complex (size, size) object drawn from one numpy Generator (a
seed fixes it). ``lines`` and ``smooth`` keep their original ranges (amplitude in
[0.5, 1], phase in [-1, 1] rad); the newer families draw their contrast per object,
amplitude in [AMPLITUDE_FLOOR, 1] and phase within +-PHASE_LIMIT rad:

- ``natural``: amplitude and phase from two different pictures that ship inside the
  scikit-image package (no download), each a random crop, turned by a random angle,
  with a random gamma;
- ``blobs``: cell-like bodies (soft ellipses with a denser nucleus and some texture);
- ``polygons``: random flat polygons over a textured background, edges slightly soft.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage
from scipy.special import expit

KINDS = ("lines", "smooth", "natural", "blobs", "polygons")
AMPLITUDE_FLOOR = 0.3
PHASE_LIMIT = 1.3
# scikit-image's bundled pictures that load without the network (those needing pooch are
# left out); each is used in grey levels.
PICTURES = (
    "astronaut",
    "brick",
    "cell",
    "camera",
    "chelsea",
    "clock",
    "coffee",
    "coins",
    "grass",
    "gravel",
    "hubble_deep_field",
    "immunohistochemistry",
    "moon",
    "page",
    "retina",
    "rocket",
    "text",
)


def _unit(field: np.ndarray) -> np.ndarray:
    lo, hi = field.min(), field.max()
    return (field - lo) / (hi - lo) if hi > lo else np.zeros_like(field)


def compose(
    amp_field: np.ndarray, phase_field: np.ndarray, floor: float = 0.5, phase: float = 1.0
) -> np.ndarray:
    """Amplitude in [floor, 1] and phase in [-phase, phase] from two real fields."""
    amplitude = floor + (1 - floor) * _unit(amp_field)
    angle = phase * (2.0 * _unit(phase_field) - 1.0)
    return (amplitude * np.exp(1j * angle)).astype(np.complex64)


def _random_contrast(amp: np.ndarray, phase: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return compose(amp, phase, rng.uniform(AMPLITUDE_FLOOR, 0.7), rng.uniform(0.5, PHASE_LIMIT))


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
    return compose(amp_field, phase_field)


def smooth_object(size: int, rng: np.random.Generator) -> np.ndarray:
    """A smooth random field (Gaussian-filtered noise) for amplitude and phase."""
    amp_field = ndimage.gaussian_filter(rng.standard_normal((size, size)), size / 24)
    phase_field = ndimage.gaussian_filter(rng.standard_normal((size, size)), size / 24)
    return compose(amp_field, phase_field)


def picture(name: str) -> np.ndarray:
    """A bundled scikit-image picture in grey levels, float in [0, 1]."""
    from skimage import data
    from skimage.color import rgb2gray
    from skimage.util import img_as_float

    image = img_as_float(getattr(data, name)())
    if image.ndim == 3:
        image = rgb2gray(image[..., :3])
    return image


def _view(image: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A random crop, turned by a random angle, resized to size x size, with a random gamma."""
    from skimage.transform import resize

    side = int(min(image.shape) * rng.uniform(0.5, 1.0))
    # Crop 1.5x wider than needed (or all there is), turn, then keep the centre so no
    # corner that the rotation filled with a constant reaches the object.
    wide = min(int(side * 1.5), *image.shape)
    top = rng.integers(0, image.shape[0] - wide + 1)
    left = rng.integers(0, image.shape[1] - wide + 1)
    crop = image[top : top + wide, left : left + wide]
    turned = ndimage.rotate(crop, rng.uniform(0, 360), reshape=False, order=1, mode="reflect")
    keep = max(8, min(side, int(wide / 1.42)))
    lo = (wide - keep) // 2
    centre = turned[lo : lo + keep, lo : lo + keep]
    if rng.random() < 0.5:
        centre = centre[:, ::-1]
    resized = resize(centre, (size, size), order=1, anti_aliasing=True)
    return np.clip(resized, 0, 1) ** rng.uniform(0.6, 1.6)


def natural_object(size: int, rng: np.random.Generator) -> np.ndarray:
    """Amplitude and phase from two different bundled pictures (random crop, angle, gamma)."""
    first, second = rng.choice(len(PICTURES), 2, replace=False)
    amp = _view(picture(PICTURES[first]), size, rng)
    phase = _view(picture(PICTURES[second]), size, rng)
    return _random_contrast(amp, phase, rng)


def blobs_object(size: int, rng: np.random.Generator) -> np.ndarray:
    """Cell-like bodies: soft ellipses, each with a denser nucleus and a fine texture."""
    yy, xx = np.mgrid[:size, :size].astype(np.float64)
    body = np.zeros((size, size))
    count = int(rng.integers(8, 20) * (size / 192) ** 2) + 3
    for _ in range(count):
        cx, cy = rng.uniform(0, size, 2)
        a, b = rng.uniform(size / 24, size / 8, 2)
        theta = rng.uniform(0, np.pi)
        u = ((xx - cx) * np.cos(theta) + (yy - cy) * np.sin(theta)) / a
        v = (-(xx - cx) * np.sin(theta) + (yy - cy) * np.cos(theta)) / b
        r2 = u**2 + v**2
        body += rng.uniform(0.5, 1.0) * expit((1 - r2) * 8)  # soft membrane edge
        nx, ny = rng.uniform(-0.3, 0.3, 2)
        body += rng.uniform(0.3, 0.8) * expit((0.12 - (u - nx) ** 2 - (v - ny) ** 2) * 30)
    texture = ndimage.gaussian_filter(rng.standard_normal((size, size)), 1.5)
    thickness = body * (1 + 0.15 * texture)
    # Amplitude falls and phase rises with thickness, with some independent absorption.
    absorption = thickness + 0.5 * ndimage.gaussian_filter(rng.standard_normal((size, size)), 4)
    return _random_contrast(-absorption, thickness, rng)


def polygons_object(size: int, rng: np.random.Generator) -> np.ndarray:
    """Random flat polygons (3 to 8 corners) on a textured background, edges softened."""
    from skimage.draw import polygon

    fields = []
    for _ in range(2):
        canvas = ndimage.gaussian_filter(rng.standard_normal((size, size)), size / 16) * 0.3
        for _ in range(int(rng.integers(10, 25))):
            corners = int(rng.integers(3, 9))
            cx, cy = rng.uniform(0, size, 2)
            radius = rng.uniform(size / 20, size / 6)
            angles = np.sort(rng.uniform(0, 2 * np.pi, corners))
            radii = radius * rng.uniform(0.5, 1.0, corners)
            rows, cols = polygon(
                cy + radii * np.sin(angles), cx + radii * np.cos(angles), (size, size)
            )
            canvas[rows, cols] = rng.uniform(-1, 1)
        fields.append(ndimage.gaussian_filter(canvas, 0.8))
    return _random_contrast(fields[0], fields[1], rng)


MAKERS: dict[str, Callable[[int, np.random.Generator], np.ndarray]] = {
    "lines": lines_object,
    "smooth": smooth_object,
    "natural": natural_object,
    "blobs": blobs_object,
    "polygons": polygons_object,
}


def make_object(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """One object of family `kind` (see KINDS)."""
    if kind not in MAKERS:
        raise ValueError(f"unknown object kind {kind!r}: choose from {', '.join(KINDS)}")
    return MAKERS[kind](size, rng)
