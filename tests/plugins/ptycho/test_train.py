"""Training, checkpoints, the model bundle, the legacy bridge and inference."""

from __future__ import annotations

import csv
import json
import shutil
import zipfile

import pytest
import torch
from framework import ArtifactError
from framework_ptycho.bundle import Bundle, load_bundle, save_bundle

from tests.conftest import expect_error, invoke, read_events, read_manifest
from tests.plugins.ptycho.conftest import SHARED_DATA, TINY, TRAIN

QUICK = ["--object-size", "128", "--overlap", "0.4", "--n-filters-scale", "0.25", "--quiet"]


def history(run):
    with open(run / "train" / "history.csv") as fh:
        return list(csv.DictReader(fh))


def test_training_and_validation_losses_fall(trained_run):
    # Over twelve seed, thread and epoch settings both fell by 0.06-0.20. The image is
    # checked below, from the shipped weights: this few-epoch network from scratch
    # collapses to a nearly flat object on some seeds and CPUs (amplitude Pearson 0.56
    # at seed 0 here, -0.02 and 0.04 at seeds 1 and 2, 0.18 at seed 0 on another CPU).
    rows = history(trained_run)
    train, val = ([float(r[key]) for r in rows] for key in ("train_loss", "val_loss"))
    assert train[-1] < train[0] - 0.03
    assert min(val[1:]) < val[0] - 0.03


def test_validation_groups_come_from_held_out_scan_rows():
    # Neighbouring groups share patterns: validation must not see any training pattern.
    from types import SimpleNamespace

    import numpy as np
    from framework_ptycho.dataset import PtychoData
    from framework_ptycho.steps.train import _train_groups

    xs, ys = (
        g.ravel().astype(float) for g in np.meshgrid(np.arange(10) * 6.0, np.arange(10) * 6.0)
    )
    ids = np.arange(100, dtype=np.float32) + 1
    data = PtychoData(
        diffraction=np.broadcast_to(ids[:, None, None], (100, 8, 8)).copy(),
        probe=np.ones((8, 8), np.complex64),
        xcoords=xs,
        ycoords=ys,
    )
    ctx = SimpleNamespace(
        config=SimpleNamespace(val_fraction=0.2, n_groups=300, gridsize=2, k_neighbours=6),
        execution=SimpleNamespace(seed=0),
    )
    fit, val = _train_groups(ctx, data, 1.0)
    fit_ids = set(fit.amplitudes[:, :, 0, 0].round().long().ravel().tolist())
    val_ids = set(val.amplitudes[:, :, 0, 0].round().long().ravel().tolist())
    assert not fit_ids & val_ids
    assert max(ys[np.array(sorted(fit_ids)) - 1]) < min(ys[np.array(sorted(val_ids)) - 1])
    assert val_ids == set(range(81, 101))  # the two rows of largest y
    assert len(fit) + len(val) == 300 and len(val) == 60  # --n-groups shared by rows


def test_training_from_the_shipped_network_keeps_a_clear_image(trained_run, tmp_path):
    # From the shipped weights, 3 epochs: amplitude / phase Pearson 0.47-0.50 / 0.81-0.82
    # at seeds 1 and 2 (where the network from scratch collapses); a flat object scores 0.
    shutil.copytree(trained_run, tmp_path / "shared")
    options = dict(zip(TRAIN[::2], TRAIN[1::2], strict=True))
    options.update({"--n-filters-scale": "0.5", "--max-epochs": "3", "--learning-rate": "1e-3"})
    result = invoke(
        "run", "ptycho.evaluate", "--artifact-root", str(tmp_path), "--run-id", "shared",
        *SHARED_DATA, *(item for pair in options.items() for item in pair),
        "--init-bundle", "pretrained",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    run = tmp_path / "shared"
    assert read_manifest(run)["config"]["ptycho.train"]["init_bundle"] == "pretrained"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["pinn"]["amplitude"]["pearson"] > 0.3
    assert metrics["pinn"]["phase"]["pearson"] > 0.5


def test_an_init_bundle_of_another_shape_is_one_clear_error(cli):
    result = cli("run", "ptycho.train", "--init-bundle", "pretrained", *TINY)
    expect_error(result, 2, "--init-bundle pretrained", "--n-filters-scale 0.5")


def test_checkpoints_keep_the_last_and_the_top_k_best(trained_run):
    names = sorted(p.name for p in (trained_run / "checkpoints").iterdir())
    assert "last.safetensors" in names
    assert 1 <= len([n for n in names if n.startswith("best-")]) <= 2


def test_bundle_round_trip_keeps_weights_config_and_scale(tmp_path):
    state = {"w": torch.arange(6.0).reshape(2, 3), "b": torch.ones(2)}
    bundle = Bundle({"gridsize": 2}, {"N": 64, "gridsize": 2}, 0.25, 64, 2, state)
    save_bundle(tmp_path / "b.zip", bundle)
    back = load_bundle(tmp_path / "b.zip")
    assert back.train_config == {"gridsize": 2} and back.legacy_params == {"N": 64, "gridsize": 2}
    assert back.intensity_scale == 0.25 and back.n == 64 and back.gridsize == 2
    assert all(torch.equal(back.state_dict[k], v) for k, v in state.items())


def test_bundle_with_tampered_weights_is_refused(tmp_path):
    save_bundle(tmp_path / "b.zip", Bundle({}, {}, 1.0, 64, 1, {"w": torch.ones(2)}))
    with zipfile.ZipFile(tmp_path / "b.zip") as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members["weights.safetensors"] = members["weights.safetensors"].replace(
        b"\x00\x00\x80?", b"\x00\x00\x00@"
    )
    with zipfile.ZipFile(tmp_path / "c.zip", "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    with pytest.raises(ArtifactError, match="sha256"):
        load_bundle(tmp_path / "c.zip")


def test_bundle_holds_the_config_snapshot_and_the_legacy_params(trained_run):
    bundle = load_bundle(trained_run / "model" / "bundle.zip")
    assert bundle.train_config["gridsize"] == 2 and bundle.gridsize == 2
    assert bundle.legacy_params["N"] == 64 and bundle.legacy_params["gridsize"] == 2
    assert bundle.legacy_params["intensity_scale"] == pytest.approx(bundle.intensity_scale)


def test_bridge_is_applied_exactly_once_per_job(cli, monkeypatch):
    from framework_ptycho import bridge

    calls = []
    real = bridge.to_params
    monkeypatch.setattr(bridge, "to_params", lambda cfg: calls.append(cfg) or real(cfg))
    result = cli("run", "ptycho.train", "--run-id", "b", "--max-epochs", "1", *QUICK)
    assert result.exit_code == 0, result.stderr
    assert len(calls) == 1
    manifest = read_manifest("runs/b")
    assert manifest["bridges"]["ptycho.train"]["params"]["values"]["nepochs"] == 1


def test_inference_restores_the_config_from_the_bundle_then_bridges(trained_run):
    events = [e for e in read_events(trained_run) if e["event"] == "bridge_restored"]
    assert len(events) == 1 and events[0]["step"] == "ptycho.infer"
    assert "intensity_scale" in events[0]["fields"]["keys"]


def test_inference_writes_the_reconstruction_and_its_pngs(trained_run):
    import numpy as np

    with np.load(trained_run / "reconstruction.npz") as rec:
        assert rec["object"].dtype == np.complex64 and rec["seconds"] > 0
    for name in ("reconstructed_amplitude.png", "reconstructed_phase.png"):
        assert (trained_run / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_n_images_is_an_alias_of_n_groups(cli):
    result = cli("run", "ptycho.train", "--n-images", "7", "--print-config")
    assert "n_groups: 7" in result.stdout


def test_early_stopping_ends_training_after_patience_epochs_without_improvement(cli):
    result = cli(
        "run",
        "ptycho.train",
        "--run-id",
        "e",
        "--learning-rate",
        "0",
        "--early-stop-patience",
        "2",
        "--max-epochs",
        "9",
        *QUICK,
    )
    assert result.exit_code == 0, result.stderr
    from pathlib import Path

    assert len(history(Path("runs/e"))) == 3


def test_cosine_scheduler_lowers_the_learning_rate_each_epoch(cli):
    result = cli(
        "run",
        "ptycho.train",
        "--run-id",
        "c",
        "--scheduler",
        "cosine",
        "--max-epochs",
        "3",
        "--early-stop-patience",
        "0",
        *QUICK,
    )
    assert result.exit_code == 0, result.stderr
    from pathlib import Path

    rates = [float(r["lr"]) for r in history(Path("runs/c"))]
    assert rates[0] > rates[1] > rates[2]


def test_unknown_loss_is_refused_with_its_choices(cli):
    expect_error(cli("run", "ptycho.train", "--loss", "mse", *TINY), 2, "$.ptycho.train.loss")


def test_gridsize_larger_than_the_data_allows_is_one_clear_error(cli):
    result = cli(
        "run",
        "ptycho.train",
        "--gridsize",
        "3",
        "--object-size",
        "128",
        "--overlap",
        "0",
        "--quiet",
    )
    expect_error(result, 2, "gridsize 3 needs at least 9 patterns")


def test_same_seed_gives_a_byte_identical_bundle(cli):
    from pathlib import Path

    for run_id in ("s1", "s2"):
        result = cli(
            "run",
            "ptycho.train",
            "--run-id",
            run_id,
            "--force",
            "--max-epochs",
            "2",
            "--seed",
            "3",
            *QUICK,
        )
        assert result.exit_code == 0, result.stderr
    first, second = (Path(f"runs/{r}/model/bundle.zip").read_bytes() for r in ("s1", "s2"))
    assert first == second
