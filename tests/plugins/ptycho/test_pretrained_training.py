"""The script that trains the shipped network: its truth targets and a tiny run of it."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO

SCRIPT = REPO / "plugins" / "ptycho" / "scripts" / "train_pretrained.py"


def _scan(dose: float):
    from framework_ptycho.corpus import simulate_scan

    return simulate_scan("blobs", np.random.default_rng(3), object_size=96, dose=dose).data


def test_truth_patches_are_the_object_the_normalized_data_describe():
    """Put through the forward model with the normalized probe, the scaled truth gives
    the normalized data back (nearly noiseless here), so a network that predicts it
    predicts in the frame the physics loss trains in."""
    import torch
    from framework_ptycho.corpus import truth_patches
    from framework_ptycho.dataset import intensity_scale
    from framework_ptycho.forward import normalized_probe
    from framework_ptycho.physics import crop_centre, diffraction_amplitude

    data = _scan(1e9)
    truth = truth_patches(data)
    assert truth.shape == (len(data), 32, 32)
    centre = crop_centre(torch.from_numpy(data.patches), 32).numpy()
    factor = truth / centre
    assert np.allclose(factor, factor.flat[0], rtol=1e-4)  # one real factor for the scan
    assert abs(factor.flat[0].imag) < 1e-6 * abs(factor.flat[0])
    probe = normalized_probe(torch.from_numpy(data.probe).to(torch.complex64))
    far = diffraction_amplitude(torch.from_numpy(data.patches) * float(factor.flat[0].real), probe)
    normalized = data.diffraction * intensity_scale(data.diffraction)
    error = np.abs(far.numpy() - normalized).sum() / normalized.sum()
    assert error < 0.01
    # Counting noise barely moves the factor: the same scan at 1e3 photons a pattern.
    noisy = truth_patches(_scan(1e3)) / centre
    assert abs(noisy.flat[0].real / factor.flat[0].real - 1) < 0.03


def test_training_script_lowers_its_loss_and_writes_a_loadable_bundle(tmp_path):
    args = "--scans 2 --val-scans 1 --epochs 3 --max-minutes 2 --object-size 96"
    args += f" --truth-weight 1 --out {tmp_path}"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), *args.split()],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    from framework_ptycho.bundle import load_bundle

    bundle = load_bundle(tmp_path / "pretrained.zip")
    record = bundle.extra["training.json"]
    assert record == json.loads((tmp_path / "training.json").read_text())
    assert record["truth_weight"] == 1.0 and record["device"] == "cpu"
    losses = [epoch["train_loss"] for epoch in record["history"]]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert {row["kind"] for row in record["held_out_metrics"]} >= {"blobs", "natural"}


def test_training_script_renews_its_scans_when_asked(tmp_path):
    args = "--scans 2 --val-scans 1 --epochs 3 --max-minutes 2 --object-size 96"
    args += f" --renew-every 2 --truth-weight 0.5 --truth-loss ssim --out {tmp_path}"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), *args.split()], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    record = json.loads((tmp_path / "training.json").read_text())
    # New training scans from the third epoch on; the validation scans stay, and the
    # network keeps learning on them across the change.
    assert record["renew_every"] == 2 and [e["draw"] for e in record["history"]] == [0, 0, 1]
    assert record["truth_loss"] == "ssim"
    assert record["history"][-1]["val_loss"] < record["history"][0]["val_loss"]


def _losses():
    """The script's truth losses (a module beside it, not in an installed package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "truth_losses", SCRIPT.with_name("truth_losses.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_structure_loss_is_skimage_ssim_and_blind_to_a_constant_phase():
    import torch
    from skimage.metrics import structural_similarity

    script = _losses()
    rng = np.random.default_rng(0)
    a = rng.random((3, 32, 32))
    b = a + 0.2 * rng.standard_normal((3, 32, 32))
    span = np.ptp(a, axis=(1, 2))
    ours = script.ssim(torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(span))
    theirs = [structural_similarity(a[i], b[i], data_range=span[i]) for i in range(3)]
    # skimage's variances divide by n - 1 over the 7 x 7 window, ours by n.
    assert np.allclose(ours.numpy(), theirs, atol=2e-3)

    # The truth itself, under a constant phase offset, scores 0 whatever the offset;
    # a flat image with the truth's mean scores far worse than a noisy copy.
    truth = torch.from_numpy(
        ((1 + 0.2 * a) * np.exp(1j * 0.5 * rng.random((3, 32, 32))))[:, None]
    ).to(torch.complex64)
    obj = torch.nn.functional.pad(truth * np.exp(1j * 2.0), (16, 16, 16, 16))
    one = torch.ones(())
    assert float(script.structure_error(obj, truth, one)) < 1e-4
    flat = torch.full_like(obj, complex(float(truth.abs().mean()), 0.0))
    noisy = obj * torch.from_numpy(1 + 0.05 * rng.standard_normal(obj.shape)).to(obj.dtype)
    assert float(script.structure_error(flat, truth, one)) > 1.5
    assert float(script.structure_error(noisy, truth, one)) < 0.5


def test_the_script_trains_for_128_patterns_and_reconstruct_serves_them(tmp_path):
    """No N = 128 network ships (CPU time); the script makes one, loaded by path."""
    from framework_ptycho.bundle import load_bundle
    from framework_ptycho.dataset import save_npz

    from tests.plugins.ptycho.conftest import reconstruct, simulate_small

    args = "--n 128 --scans 2 --val-scans 1 --epochs 2 --max-minutes 2 --object-size 160"
    args += f" --out {tmp_path}"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), *args.split()], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    bundle = load_bundle(tmp_path / "pretrained.zip")
    record = bundle.extra["training.json"]
    assert bundle.n == 128 and record["n"] == 128
    assert record["history"][-1]["train_loss"] < record["history"][0]["train_loss"]

    _, test, _ = simulate_small(n=128, object_size=256, probe_radius=32, overlap=0.5)
    save_npz(tmp_path / "big.npz", test)
    result = reconstruct(
        tmp_path, tmp_path / "big.npz", "--bundle", str(tmp_path / "pretrained.zip")
    )
    assert result.exit_code == 0, result.stderr
    with np.load(tmp_path / "rec" / "reconstruction.npz", allow_pickle=False) as rec:
        assert rec["object"].shape == (256, 256) and rec["pinn_object"].shape == (256, 256)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        ("--n 128 --object-size 128", "--object-size 128: give at least N + 32 (160)"),
        ("--n 128 --init pretrained", "a network for N = 64"),  # before any scan is made
        ("--init missing.zip", "--init missing.zip: no such file and no shipped bundle"),
    ],
)
def test_the_script_refuses_what_it_cannot_train_in_one_line(tmp_path, args, said):
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), *args.split(), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and said in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "pretrained.zip").exists()
