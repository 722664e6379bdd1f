"""Evaluation: ambiguity removal and metrics, checked against independent computations."""

from __future__ import annotations

import numpy as np
import pytest
from framework_ptycho.metrics import align, frc_resolution, score
from framework_ptycho.simulate import smooth_object
from scipy import ndimage, stats
from skimage.metrics import peak_signal_noise_ratio


@pytest.fixture(scope="module")
def truth():
    return smooth_object(96, np.random.default_rng(1)).astype(np.complex128)


BOX = (slice(16, 80), slice(16, 80))


def test_alignment_removes_phase_offset_ramp_scale_and_translation(truth):
    yy, xx = np.mgrid[:96, :96]
    moved = ndimage.shift(truth.real, (1.5, -2.25)) + 1j * ndimage.shift(truth.imag, (1.5, -2.25))
    distorted = 0.6 * moved * np.exp(1j * (0.8 + 0.02 * xx - 0.01 * yy))
    t, r = align(truth, distorted, BOX)
    assert np.abs(np.abs(t) - np.abs(r)).mean() < 0.01
    assert np.abs(np.angle(r * np.conj(t))).mean() < 0.02


def test_identical_objects_score_perfectly(truth):
    result = score(truth, truth.copy(), BOX)
    assert result["amplitude"]["ssim"] == pytest.approx(1.0)
    assert result["phase"]["pearson"] == pytest.approx(1.0)
    assert result["frc50"] == 1.0


def test_pearson_matches_scipy(truth):
    noisy = truth + 0.05 * np.random.default_rng(0).standard_normal(truth.shape)
    t, r = align(truth, noisy, BOX)
    expected = stats.pearsonr(np.abs(t).ravel(), np.abs(r).ravel())[0]
    assert score(truth, noisy, BOX)["amplitude"]["pearson"] == pytest.approx(expected, rel=1e-9)


def test_psnr_matches_its_definition(truth):
    noisy = truth + 0.05 * np.random.default_rng(2).standard_normal(truth.shape)
    t, r = align(truth, noisy, BOX)
    a, b = np.abs(t), np.abs(r)
    expected = 10 * np.log10((a.max() - a.min()) ** 2 / np.mean((a - b) ** 2))
    psnr = score(truth, noisy, BOX)["amplitude"]["psnr"]
    assert psnr == pytest.approx(expected, rel=1e-9)
    assert psnr == pytest.approx(peak_signal_noise_ratio(a, b, data_range=a.max() - a.min()))


def test_frc50_drops_when_fine_detail_is_blurred_away(truth):
    detailed = truth + 0.3 * np.exp(1j * np.random.default_rng(3).uniform(0, 6.28, truth.shape))
    blurred = ndimage.gaussian_filter(detailed.real, 2) + 1j * ndimage.gaussian_filter(
        detailed.imag, 2
    )
    assert frc_resolution(detailed, blurred) < 0.6 < frc_resolution(detailed, detailed)


def test_evaluate_writes_pinn_and_baseline_side_by_side(metrics, trained_run):
    for name in ("pinn", "baseline"):
        assert {"amplitude", "phase", "frc50", "seconds"} <= set(metrics[name])
        assert {"ssim", "psnr", "mae", "pearson"} <= set(metrics[name]["phase"])
    assert metrics["baseline"]["engine"] == "builtin-epie"
    assert metrics["speedup"] == pytest.approx(
        metrics["baseline"]["seconds"] / metrics["pinn"]["seconds"]
    )
    assert (trained_run / "comparison.png").read_bytes()[:4] == b"\x89PNG"


def test_baseline_beats_chance_on_the_shared_data(metrics):
    assert metrics["baseline"]["amplitude"]["pearson"] > 0.5
