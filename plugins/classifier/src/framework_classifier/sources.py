"""Where images come from: generated, shipped in a PyPI package, or a user's folder.

Every source returns a `Source`: deterministic sample ids, images as float32 arrays
(N, H, W, 3) in [0, 1], and a 0/1 label matrix (N, C) with one column per class
(one-hot for single-label data, several ones per row for multi-label data).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from framework import ConfigError, UsageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
LABELS_CSV = "labels.csv"
SYNTHETIC_CLASSES = ("disk", "bar", "tint")


@dataclass
class Source:
    ids: list[str]
    images: np.ndarray  # (N, H, W, 3) float32 in [0, 1]
    labels: np.ndarray  # (N, C) float32 0/1
    class_names: list[str]
    default_positive: str


def _gray_to_rgb(images: np.ndarray) -> np.ndarray:
    return np.repeat(images.astype(np.float32)[..., None], 3, axis=-1)


def synthetic(n: int, seed: int, size: int = 32) -> Source:
    """Noise images carrying up to three independent, learnable attributes.

    disk: a bright disk somewhere; bar: a dark horizontal bar; tint: a red cast. Each is
    present with probability 1/2, so the same images serve binary and multi-label tasks.
    """
    rng = np.random.default_rng(seed)
    labels = (rng.random((n, len(SYNTHETIC_CLASSES))) < 0.5).astype(np.float32)
    images = 0.5 + 0.15 * rng.standard_normal((n, size, size, 3)).astype(np.float32)
    yy, xx = np.mgrid[0:size, 0:size]
    for i in range(n):
        if labels[i, 0]:
            cy, cx = rng.integers(6, size - 6, size=2)
            images[i][(yy - cy) ** 2 + (xx - cx) ** 2 <= 16] += 0.45
        if labels[i, 1]:
            row = rng.integers(2, size - 5)
            images[i, row : row + 3, 2:-2] -= 0.4
        if labels[i, 2]:
            images[i, :, :, 0] += 0.2
    ids = [f"synthetic-{i:05d}" for i in range(n)]
    return Source(ids, np.clip(images, 0.0, 1.0), labels, list(SYNTHETIC_CLASSES), "disk")


def faces() -> Source:
    """scikit-image's LFW subset: 100 faces, then 100 non-faces, 25x25 grey (offline)."""
    from skimage.data import lfw_subset

    images = lfw_subset()
    labels = np.zeros((len(images), 2), dtype=np.float32)
    labels[:100, 0] = 1.0
    labels[100:, 1] = 1.0
    ids = [f"lfw-{i:03d}" for i in range(len(images))]
    return Source(ids, _gray_to_rgb(images), labels, ["face", "non_face"], "face")


def digits() -> Source:
    """scikit-learn's 1797 digits, 8x8 grey, classes '0'..'9' (scikit-learn is optional)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise UsageError(
            "the digits dataset needs scikit-learn, which is not installed",
            hint="pip install scikit-learn, or choose --dataset faces",
        ) from None
    bunch = load_digits()
    images = bunch.images / 16.0
    labels = np.eye(10, dtype=np.float32)[bunch.target]
    ids = [f"digits-{i:04d}" for i in range(len(images))]
    return Source(ids, _gray_to_rgb(images), labels, [str(c) for c in range(10)], "0")


def _read_image(path: Path, size: int) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as image:
            rgb = image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    except Exception as exc:  # PIL raises many types for bad files
        raise UsageError(
            f"cannot read image {path}: {exc}", hint="fix or remove the file"
        ) from None
    return np.asarray(rgb, dtype=np.float32) / 255.0


def _folder_files(root: Path) -> tuple[list[str], list[str]]:
    """(class names, sample ids 'class/file') of a <class>/*.png|jpg tree, sorted."""
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise UsageError(
            f"--data-dir {root} has no class folders",
            hint="lay images out as <data-dir>/<class>/*.png|jpg",
        )
    ids = []
    for name in classes:
        files = sorted(
            f"{name}/{p.name}"
            for p in (root / name).iterdir()
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        )
        if not files:
            raise UsageError(
                f"class '{name}' in {root} has no .png or .jpg images",
                hint="add images or remove the empty folder",
            )
        ids.extend(files)
    return classes, ids


def _labels_csv(path: Path, ids: list[str]) -> tuple[np.ndarray, list[str]]:
    """Multi-label targets from <data-dir>/labels.csv: 'path,<class>,...' with 0/1 cells."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    if not rows or len(rows[0]) < 2 or rows[0][0] != "path":
        raise UsageError(f"{path}: the header must be 'path,<class>,<class>,...'")
    names = rows[0][1:]
    by_id = {}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(rows[0]) or any(v not in ("0", "1") for v in row[1:]):
            raise UsageError(f"{path}:{line}: expected a path and {len(names)} cells of 0 or 1")
        by_id[row[0]] = [float(v) for v in row[1:]]
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise UsageError(f"{path} has no row for {missing[0]} ({len(missing)} images unlisted)")
    return np.asarray([by_id[i] for i in ids], dtype=np.float32), names


def check_folder(data_dir: str | None) -> Path:
    """The data folder, which must exist."""
    if not data_dir:
        raise ConfigError("--dataset folder needs --data-dir DIR")
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise UsageError(
            f"--data-dir {root} does not exist or is not a directory",
            hint="give the folder that holds one sub-folder of images per class",
        )
    return root


def folder(data_dir: str | None, size: int) -> Source:
    """A user's images, <data-dir>/<class>/*.png|jpg, resized to `size` on load.

    With a labels.csv beside the class folders, its columns are the (multi-)labels.
    """
    root = check_folder(data_dir)
    classes, ids = _folder_files(root)
    images = np.stack([_read_image(root / i, size) for i in ids])
    if (root / LABELS_CSV).is_file():
        labels, classes = _labels_csv(root / LABELS_CSV, ids)
    else:
        if len(classes) < 2:
            raise UsageError(
                f"--data-dir {root} has one class folder ('{classes[0]}'): a classifier needs two",
                hint="add a folder of negative examples, or a labels.csv for multi-label data",
            )
        index = {name: k for k, name in enumerate(classes)}
        labels = np.eye(len(classes), dtype=np.float32)[[index[i.split("/")[0]] for i in ids]]
    return Source(ids, images, labels, classes, classes[1] if len(classes) > 1 else classes[0])
