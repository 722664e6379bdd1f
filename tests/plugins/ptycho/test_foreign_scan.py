"""bench/foreign_scan.py: scans from a simulator written apart from the plugin.

Its numpy forward model must agree with the plugin's torch one (the same object, probe
and positions give the same far field), or the bench would judge the model on data it
cannot explain; and the bench still runs as a user's `ptycho.reconstruct` does."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from tests.benches import run_bench
from tests.conftest import REPO

sys.path.insert(0, str(REPO / "bench"))
import foreign_scan

sys.path.remove(str(REPO / "bench"))


@pytest.mark.parametrize("kind", ["grains", "star"])
def test_the_independent_simulator_agrees_with_the_plugins_forward_model(kind, tmp_path):
    import torch
    from framework_ptycho.corpus import probe_radius
    from framework_ptycho.physics import diffraction_amplitude, extract_patches

    path = tmp_path / "scan.npz"
    foreign_scan.scan(kind, seed=3, photons=1e12, path=path)  # Poisson noise negligible
    with np.load(path, allow_pickle=False) as f:
        scan = {k: f[k] for k in f.files}
    obj = torch.from_numpy(scan["objectGuess"])
    xs, ys = torch.from_numpy(scan["xcoords"]), torch.from_numpy(scan["ycoords"])
    patches = extract_patches(obj, xs, ys, foreign_scan.N)
    ours = diffraction_amplitude(patches, torch.from_numpy(scan["probeGuess"])).numpy()
    theirs = scan["diffraction"]
    scale = (ours * theirs).sum() / (ours**2).sum()  # amplitudes are in photon units there
    assert np.abs(scale * ours - theirs).max() < 1e-3 * theirs.max()
    assert 0.2 <= probe_radius(scan["probeGuess"]) <= 0.3  # the bundle serves it


def test_the_bench_reconstructs_a_foreign_scan_as_a_user_would(tmp_path):
    (row,) = run_bench("foreign_scan.py", "--quick", tmp_path=tmp_path)["details"]["rows"]
    assert row["engine"] == "none"
    pinn = row["metrics"]["pinn"]
    assert {"ssim", "psnr"} <= set(pinn["amplitude"]) and {"ssim", "psnr"} <= set(pinn["phase"])
    assert pinn["seconds"] > 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_low_dose_amplitude_file_loads_and_its_counts_are_refused(seed, tmp_path):
    from framework import ArtifactError
    from framework_ptycho.dataset import load_npz

    # At 1e3 photons most pixels hold 0 or 1 count, so amplitude and intensity have
    # nearly the same shape; these seeds were once refused as intensity.
    path = tmp_path / "scan.npz"
    foreign_scan.scan("grains", seed=seed, photons=1e3, path=path)
    assert load_npz(path).diffraction.shape[1:] == (64, 64)
    with np.load(path, allow_pickle=False) as f:
        arrays = dict(f)
    arrays["diffraction"] = (arrays["diffraction"].astype(np.float64) ** 2 * 7.3).astype(np.float32)
    np.savez(tmp_path / "counts.npz", **arrays)
    with pytest.raises(ArtifactError, match="looks like intensity"):
        load_npz(tmp_path / "counts.npz")


@pytest.mark.parametrize("dose", [1e3, 1e4, 1e5])
def test_the_dose_is_read_from_the_data_alone(dose, tmp_path):
    from framework_ptycho.corpus import simulate_scan
    from framework_ptycho.dataset import load_npz, photons_per_pattern
    from framework_ptycho.denoise import dose_level
    from framework_ptycho.engines import default_iterations

    # Ours (normalized amplitudes) and the other simulator's files both carry the dose
    # only in their counting statistics; the level is log10(photons) - 4.
    ours = simulate_scan("blobs", np.random.default_rng(5), object_size=96, dose=dose).data
    foreign_scan.scan("grains", 5, dose, tmp_path / "scan.npz")
    for data in (ours, load_npz(tmp_path / "scan.npz")):
        assert dose_level(data.diffraction) == pytest.approx(np.log10(dose) - 4, abs=0.02)
        assert photons_per_pattern(data.diffraction) == pytest.approx(dose, rel=0.05)
        # builtin-lsqml's default passes follow it: 20, 40, 80 at 1e3, 1e4, 1e5.
        passes = default_iterations("builtin-lsqml", photons_per_pattern(data.diffraction))
        assert passes == 40 * 2 ** round(np.log10(dose) - 4)
        # A gain keeps the unit of one count; a background removes it: no dose, 40 passes.
        gained = 3.7 * data.diffraction
        assert photons_per_pattern(gained) == pytest.approx(dose, rel=0.05)
        background = np.sqrt(data.diffraction**2 + 0.013)
        assert photons_per_pattern(background) is None
        assert default_iterations("builtin-lsqml", None) == 40
        assert dose_level(background) == 0.0


def test_rows_name_the_refinement_and_the_denoiser():
    assert foreign_scan.label("none", 0) == "PINN"
    assert foreign_scan.label("builtin-lsqml", 40) == "PINN+builtin-lsqml-40"
    named = foreign_scan.label("builtin-lsqml+denoised object", 40)
    assert named == "PINN+builtin-lsqml-40+denoised object"
    assert foreign_scan.label("ones+builtin-lsqml", 100) == "builtin-lsqml-100 from ones"
