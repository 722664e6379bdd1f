"""The head learns: validation metric clearly above chance, on synthetic and real data."""

from __future__ import annotations

import csv
import json

import torch


def _history(run_dir):
    with (run_dir / "phase1/train_history.csv").open() as fh:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def test_training_loss_falls_on_synthetic_images(synthetic_run):
    history = _history(synthetic_run)
    assert history[-1]["train_loss"] < 0.5 * history[0]["train_loss"]


def test_head_beats_chance_on_synthetic_validation(synthetic_run):
    assert max(r["val_auroc"] for r in _history(synthetic_run)) > 0.95


def test_checkpoint_is_the_epoch_with_the_best_validation_auroc(synthetic_run):
    history = _history(synthetic_run)
    meta = torch.load(synthetic_run / "phase1/model_best.pth", weights_only=True)["meta"]
    best = max(history, key=lambda r: (r["val_auroc"], -r["val_loss"]))
    assert meta["best_epoch"] == int(best["epoch"])


def test_head_separates_faces_from_non_faces(faces_run):
    assert max(r["val_auroc"] for r in _history(faces_run)) > 0.9
    chosen = json.loads((faces_run / "phase2/thresholds.json").read_text())
    assert chosen["positive_class"] == "face"
    assert chosen["classes"]["face"]["f1"] > 0.8  # on VAL_CALIB, which training never saw


def test_multilabel_run_chooses_one_threshold_per_class(multilabel_run):
    result = json.loads((multilabel_run / "phase2/thresholds.json").read_text())
    assert result["task"] == "multilabel"
    assert sorted(result["classes"]) == ["bar", "disk", "tint"]
    assert all(c["f1"] > 0.8 for c in result["classes"].values())
    logits = torch.load(multilabel_run / "phase1/val_calib_logits.pt", weights_only=True)
    assert logits.shape[1] == 3
