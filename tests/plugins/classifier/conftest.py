"""Shared runs of the classifier pipeline: each is computed once and read by many tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import invoke

# Enough epochs and a learning rate at which the tiny head learns in a second or two.
LEARN = ("--epochs", "8", "--learning-rate", "0.01")


def run_pipeline(root: Path, run_id: str, *args: str) -> Path:
    result = invoke(
        "run",
        "sweep_thresholds",
        "--run-id",
        run_id,
        "--artifact-root",
        str(root),
        "--quiet",
        *args,
    )
    assert result.exit_code == 0, result
    return root / run_id


@pytest.fixture(scope="session")
def runs_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("classifier-runs")


@pytest.fixture(scope="session")
def synthetic_run(runs_root) -> Path:
    """The whole pipeline on generated images with the tiny backbone."""
    return run_pipeline(runs_root, "synthetic", "--synthetic", *LEARN)


@pytest.fixture(scope="session")
def multilabel_run(runs_root) -> Path:
    return run_pipeline(runs_root, "multilabel", "--synthetic", "--task", "multilabel", *LEARN)


@pytest.fixture(scope="session")
def faces_run(runs_root) -> Path:
    """The default real task: faces vs non-faces from scikit-image's LFW subset."""
    return run_pipeline(runs_root, "faces", "--epochs", "20", "--learning-rate", "0.01")


def write_image_folder(root: Path, classes: dict[str, int], size: int = 12) -> Path:
    """<root>/<class>/img_NN.png with `count` small PNGs per class (class-dependent brightness)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for k, (name, count) in enumerate(classes.items()):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            pixels = np.clip(rng.normal(80 + 90 * k, 30, (size, size, 3)), 0, 255)
            Image.fromarray(pixels.astype("uint8")).save(folder / f"img_{i:02d}.png")
    return root
