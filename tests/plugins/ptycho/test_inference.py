"""Inference: the cropped decoder, per-pattern features, covering groups, bf16."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from framework_ptycho import physics
from framework_ptycho.forward import PhysicsModel
from framework_ptycho.grouping import cover_groups
from framework_ptycho.model import PtychoUNet
from framework_ptycho.physics import crop_centre, pad_centre

from tests.plugins.ptycho.conftest import AMPLITUDE_FLOOR, reconstruct


@pytest.mark.parametrize(("n", "channels"), [(64, 4), (64, 1), (128, 4)])
def test_decoding_only_the_centre_equals_decoding_everything_then_cropping(n, channels):
    torch.manual_seed(0)
    net = PtychoUNet(channels=channels, n_filters_scale=0.25).eval()
    x = torch.randn(2, 3 * channels, n, n)
    with torch.no_grad():
        skips = [net.stem(x)]
        for down in net.downs:
            skips.append(down(net.pool(skips[-1])))
        for decoder in (net.amplitude, net.phase):
            full = decoder(skips)
            assert full.shape[-1] == n  # keep=None decodes the whole map
            assert torch.equal(decoder(skips, keep=n // 2), crop_centre(full, n // 2))


def test_features_per_pattern_then_grouped_equal_features_of_the_groups():
    # infer computes the input once per pattern and gathers it per group; training
    # computes it on the group's (B, C, N, N) amplitudes. Same network input either way.
    torch.manual_seed(1)
    n, c = 64, 4
    probe = pad_centre(torch.polar(torch.ones(24, 24), torch.randn(24, 24) * 0.1), n)
    model = PhysicsModel(PtychoUNet(channels=c, n_filters_scale=0.25), probe).eval()
    amplitudes = torch.rand(10, 1, n, n)
    index = torch.tensor([[0, 1, 2, 3], [4, 2, 9, 7], [5, 6, 8, 1]])
    grouped = model.features(amplitudes[:, 0][index])
    gathered = model.features(amplitudes)[index].transpose(1, 2).flatten(1, 2)
    assert torch.equal(gathered, grouped)


@pytest.mark.parametrize("n", [64, 128])
def test_features_fold_the_centring_shifts_into_constant_factors_exactly(n):
    # The back-propagated estimate written out with the centred transforms.
    torch.manual_seed(2)
    probe = pad_centre(torch.polar(torch.rand(n // 2, n // 2), torch.randn(n // 2, n // 2)), n)
    model = PhysicsModel(PtychoUNet(channels=1, n_filters_scale=0.25), probe)
    amplitudes = torch.rand(3, 1, n, n)
    p = model.probe
    far_phase = torch.exp(1j * physics.fft2c(p).angle())
    power = p.abs() ** 2
    estimate = physics.ifft2c(amplitudes * far_phase) * p.conj() / (power + 0.1 * power.max())
    features = model.features(amplitudes)
    assert torch.equal(features[:, :1], amplitudes)
    scale = float(estimate.abs().max())
    assert torch.allclose(features[:, 1:2], estimate.real, atol=1e-5 * scale)
    assert torch.allclose(features[:, 2:], estimate.imag, atol=1e-5 * scale)


def test_cover_groups_cover_every_pattern_with_about_n_over_c_compact_groups():
    xs, ys = (
        g.ravel().astype(float) for g in np.meshgrid(np.arange(12) * 5.0, np.arange(10) * 5.0)
    )
    index, offsets = cover_groups(xs, ys, 2, 6)
    assert index.shape[1] == 4 and set(index.ravel()) == set(range(120))
    assert len(index) == 120 // 4  # 2 x 2 tiles on a grid: disjoint
    positions = np.stack([xs, ys], axis=1)[index]
    assert np.allclose(offsets, positions - positions.mean(axis=1, keepdims=True))
    assert np.abs(offsets).max() <= 10.0  # neighbours, not patterns from across the scan
    again, _ = cover_groups(xs, ys, 2, 6)
    assert np.array_equal(index, again)  # no randomness


def _network_run(root, scan_file, *options):
    """ptycho.reconstruct with the shipped network alone: its events and amplitude/phase
    Pearson against the truth. The shipped weights, not the session's few-epoch network:
    that one collapses to a nearly flat image on some seeds and CPUs, and then bf16
    rounding alone decorrelates two flat images."""
    result = reconstruct(root, scan_file, *options)
    assert result.exit_code == 0, result.stderr
    run = root / "rec"
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    scores = json.loads((run / "metrics.json").read_text())["pinn"]
    return events, {key: scores[key]["pearson"] for key in ("amplitude", "phase")}


@pytest.fixture(scope="module")
def full_inference(tmp_path_factory, scan_file):
    return _network_run(tmp_path_factory.mktemp("full"), scan_file)


@pytest.mark.parametrize("options", [["--inference-groups", "cover"], ["--precision", "bf16"]])
def test_faster_inference_options_reconstruct_nearly_as_well(
    full_inference, scan_file, tmp_path, options
):
    events, pearson = _network_run(tmp_path, scan_file, *options)
    logged = [e["fields"] for e in events if e["event"] == "metrics" and "groups" in e["fields"]]
    patterns, groups = logged[-1]["patterns"], logged[-1]["groups"]
    assert groups < patterns / 2 if "cover" in options else groups == patterns
    _, full = full_inference
    assert full["amplitude"] > AMPLITUDE_FLOOR  # the comparison is between good images
    for key in ("amplitude", "phase"):
        assert pearson[key] == pytest.approx(full[key], abs=0.1)
