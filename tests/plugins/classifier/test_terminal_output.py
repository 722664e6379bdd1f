"""What the classifier steps show: progress of features and head, the chosen thresholds."""

from __future__ import annotations

import json
import shutil

from tests.conftest import invoke


def test_training_shows_progress_of_features_and_epochs_with_metrics(tmp_path):
    result = invoke("run", "train_baseline_head", "--synthetic", "--epochs", "2",
                    "--artifact-root", str(tmp_path), "--progress-interval-s", "0")  # fmt: skip

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("  features TRAIN: ") and "batch/s" in line for line in lines)
    assert any(line.startswith("  features VAL: ") for line in lines)
    head = [line for line in lines if line.startswith("  head: 2/2 (100%)")]
    assert head and "train_loss=" in head[-1] and "val_auroc=" in head[-1]


def test_sweep_prints_the_chosen_thresholds_and_the_figures(synthetic_run, tmp_path):
    shutil.copytree(synthetic_run, tmp_path / "synthetic")
    result = invoke("run", "sweep_thresholds", "--only", "--force", "--run-id", "synthetic",
                    "--artifact-root", str(tmp_path))  # fmt: skip

    assert result.exit_code == 0, result.stderr
    chosen = json.loads((tmp_path / "synthetic/phase2/thresholds.json").read_text())
    (name, row), *_ = chosen["classes"].items()
    assert "thresholds chosen on VAL_CALIB (f1)" in result.stdout
    table = next(line for line in result.stdout.splitlines() if line.startswith(name))
    for key in ("threshold", "precision", "recall", "f1", "auroc"):
        assert f"{row[key]:.4g}" in table.split(), key
    figures = [str(tmp_path / "synthetic/phase2" / f) for f in ("pr_curve.png", "roc_curve.png")]
    assert f"figures: {', '.join(figures)}" in result.stdout
