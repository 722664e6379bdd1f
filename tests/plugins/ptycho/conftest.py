"""Shared fixtures: one tiny simulated dataset and one trained run for the whole session.

Sizes are the smallest the issue allows (N = 64) with few patterns, a narrow U-Net and
few epochs, so the directory runs in well under the time budget on two CPU cores.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import invoke


def simulate_small(**overrides):
    """`simulate` on a 128 x 128 object with N = 64 (a few dozen patterns): data for unit tests."""
    from framework_ptycho.simulate import simulate

    options = dict(
        n=64,
        object_size=128,
        object_kind="lines",
        overlap=0.75,
        probe_radius=16,
        scan="grid",
        nphotons=1e4,
        test_fraction=0.25,
        seed=0,
    )
    return simulate(**{**options, **overrides})


# A small object scanned with high overlap (for runs that fail or stop early).
TINY = ["--object-size", "128", "--overlap", "0.75", "--quiet"]
# The shared trained run: the smallest data and net on which the PINN learns within a
# few seconds of CPU (256 patterns, 190 for training; 81 patterns did not suffice).
SHARED_DATA = ["--object-size", "160", "--overlap", "0.8", "--quiet"]
TRAIN = [
    "--gridsize",
    "2",
    "--n-filters-scale",
    "0.25",
    "--max-epochs",
    "10",
    "--batch-size",
    "4",
    "--learning-rate",
    "3e-3",
    "--iterations",
    "20",
]

# The amplitude's correlation with the truth: far below a good reconstruction's, far
# above what a blank object (0) or random weights score (at most 0.29 over three seeds,
# two widths and two scans). Not SSIM: on this low-contrast object a flat image already
# scores an amplitude SSIM of 0.3-0.4, so SSIM cannot tell trained weights from random.
AMPLITUDE_FLOOR = 0.45


@pytest.fixture(scope="session")
def shared_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("ptycho-runs")


@pytest.fixture(scope="session")
def trained_run(shared_root) -> Path:
    """simulate -> train -> infer, epie -> evaluate, once for the session."""
    result = invoke(
        "run",
        "ptycho.evaluate",
        "--artifact-root",
        str(shared_root),
        "--run-id",
        "shared",
        *SHARED_DATA,
        *TRAIN,
    )
    assert result.exit_code == 0, result.stderr
    return shared_root / "shared"


@pytest.fixture(scope="session")
def metrics(trained_run) -> dict:
    return json.loads((trained_run / "metrics.json").read_text())


@pytest.fixture(scope="session")
def simulated(trained_run):
    """The session's train and test datasets (PtychoData) and the true object."""
    from framework_ptycho.dataset import load_npz

    train = load_npz(trained_run / "data" / "train.npz")
    test = load_npz(trained_run / "data" / "test.npz")
    with np.load(trained_run / "data" / "ground_truth.npz") as truth:
        obj = truth["object"]
    return train, test, obj


@pytest.fixture(scope="session")
def scan_file(tmp_path_factory):
    """A small scan of a family the pretrained bundle never trained on (blobs)."""
    from framework_ptycho.corpus import simulate_scan
    from framework_ptycho.dataset import save_npz

    scan = simulate_scan(
        "blobs",
        np.random.default_rng(99),
        object_size=128,
        settings={"probe_radius": 0.25, "probe_defocus": 5.0, "overlap": 0.8, "nphotons": 1e4},
    )
    path = tmp_path_factory.mktemp("scan") / "scan.npz"
    save_npz(path, scan.data)
    return path


def reconstruct(tmp_path, data_file, *extra):
    return invoke(
        "run",
        "ptycho.reconstruct",
        "--data-file",
        str(data_file),
        "--artifact-root",
        str(tmp_path),
        "--run-id",
        "rec",
        "--quiet",
        *extra,
    )


def write_npz(path: Path, **arrays) -> Path:
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    return path
