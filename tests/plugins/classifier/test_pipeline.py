"""End-to-end on synthetic data: artifacts, manifest hashes, splits, checkpoint reload."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil

import numpy as np
import pytest
import torch

from tests.conftest import read_events, read_manifest

ARTIFACTS = {
    "classifier.train_baseline_head": [
        "phase1/model_best.pth",
        "phase1/model_best.safetensors",
        "phase1/train_history.csv",
    ],
    "classifier.export_calib_logits": [
        "phase1/val_calib_logits.pt",
        "phase1/val_calib_labels.pt",
        "phase1/val_calib_info.json",
    ],
    "classifier.sweep_thresholds": [
        "phase2/thresholds.json",
        "phase2/thresholds_metrics.csv",
        "phase2/pr_curve.png",
        "phase2/roc_curve.png",
    ],
}


def test_all_artifacts_exist_and_are_not_empty(synthetic_run):
    for paths in ARTIFACTS.values():
        for rel in paths:
            assert (synthetic_run / rel).stat().st_size > 0, rel


def test_steps_ran_in_dag_order(synthetic_run):
    manifest = read_manifest(synthetic_run)
    assert manifest["plan"] == list(ARTIFACTS)
    started = [e["step"] for e in read_events(synthetic_run) if e["event"] == "step_started"]
    assert started == list(ARTIFACTS)


def test_every_artifact_is_hashed_in_the_manifest(synthetic_run):
    steps = read_manifest(synthetic_run)["steps"]
    for step_id, paths in ARTIFACTS.items():
        recorded = {o["path"]: o["hash"] for o in steps[step_id]["outputs"]}
        assert sorted(recorded) == sorted(paths)
        for rel in paths:
            digest = hashlib.sha256((synthetic_run / rel).read_bytes()).hexdigest()
            assert recorded[rel] == f"sha256:{digest}"


def test_splits_are_recorded_disjoint_and_complete(synthetic_run):
    splits = read_manifest(synthetic_run)["splits"]
    assert sorted(splits) == ["TEST", "TRAIN", "VAL", "VAL_CALIB"]
    assert sum(s["count"] for s in splits.values()) == 480  # every synthetic image, once
    assert len({s["hash"] for s in splits.values()}) == 4


def test_export_records_the_same_splits_as_training(synthetic_run):
    steps = read_manifest(synthetic_run)["steps"]
    assert (
        steps["classifier.export_calib_logits"]["splits"]
        == steps["classifier.train_baseline_head"]["splits"]
    )


def _reads(run_dir, step):
    return [
        e["fields"]["split"]
        for e in read_events(run_dir)
        if e["event"] == "split_read" and e["step"] == step
    ]


def test_training_reads_only_train_and_val(synthetic_run):
    assert _reads(synthetic_run, "classifier.train_baseline_head") == ["TRAIN", "VAL"]


def test_export_reads_only_val_calib(synthetic_run):
    assert _reads(synthetic_run, "classifier.export_calib_logits") == ["VAL_CALIB"]


def test_sweep_reads_no_split(synthetic_run):
    assert _reads(synthetic_run, "classifier.sweep_thresholds") == []


def test_exported_samples_are_val_calib_only(synthetic_run):
    from framework.splits import membership_hash

    info = json.loads((synthetic_run / "phase1/val_calib_info.json").read_text())
    recorded = read_manifest(synthetic_run)["splits"]["VAL_CALIB"]
    assert membership_hash(info["sample_ids"]) == recorded["hash"]
    assert len(info["sample_ids"]) == recorded["count"]


def _strict(text: str):
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def test_thresholds_json_is_strict_and_complete(synthetic_run):
    result = _strict((synthetic_run / "phase2/thresholds.json").read_text())
    assert result["objective"] == "f1"
    assert result["positive_class"] == "disk"
    chosen = result["classes"]["disk"]
    assert result["threshold"] == chosen["threshold"]
    assert {"precision", "recall", "f1", "fpr", "tpr", "accuracy", "support"} <= set(chosen)
    digest = hashlib.sha256((synthetic_run / "phase1/val_calib_logits.pt").read_bytes())
    assert result["inputs"]["phase1/val_calib_logits.pt"] == f"sha256:{digest.hexdigest()}"
    assert result["data_hash"].startswith("sha256:")


def test_metrics_csv_lists_every_distinct_logit(synthetic_run):
    with (synthetic_run / "phase2/thresholds_metrics.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    logits = torch.load(synthetic_run / "phase1/val_calib_logits.pt", weights_only=True)
    assert len(rows) == len(np.unique(logits.numpy()))
    for column in ("precision", "recall", "f1", "fpr", "tpr", "accuracy", "support"):
        assert column in rows[0]


def test_chosen_threshold_has_the_best_f1_in_the_csv(synthetic_run):
    with (synthetic_run / "phase2/thresholds_metrics.csv").open() as fh:
        best = max(float(r["f1"]) for r in csv.DictReader(fh))
    result = json.loads((synthetic_run / "phase2/thresholds.json").read_text())
    assert result["classes"]["disk"]["f1"] == pytest.approx(best, rel=1e-9)


def test_curve_images_are_png(synthetic_run):
    for name in ("pr_curve.png", "roc_curve.png"):
        assert (synthetic_run / "phase2" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _val_calib_images(run_dir):
    from framework_classifier import sources

    info = json.loads((run_dir / "phase1/val_calib_info.json").read_text())
    source = sources.synthetic(480, seed=0)
    index = [source.ids.index(i) for i in info["sample_ids"]]
    return source.images[index]


def test_reloaded_checkpoint_reproduces_the_exported_logits(synthetic_run):
    from framework_classifier.backbones.tiny import build
    from framework_classifier.features import extract
    from framework_classifier.heads import build_head

    blob = torch.load(synthetic_run / "phase1/model_best.pth", weights_only=True)
    meta = blob["meta"]
    head = build_head(meta["head"], meta["in_features"], len(meta["outputs"]), seed=123)
    head.load_state_dict(blob["state_dict"])
    with torch.no_grad():
        logits = head.eval()(extract(build(), _val_calib_images(synthetic_run), 32))
    exported = torch.load(synthetic_run / "phase1/val_calib_logits.pt", weights_only=True)
    torch.testing.assert_close(logits, exported, rtol=0, atol=1e-6)


def test_safetensors_holds_the_same_weights_as_the_pth(synthetic_run):
    from safetensors.torch import load_file

    pth = torch.load(synthetic_run / "phase1/model_best.pth", weights_only=True)["state_dict"]
    st = load_file(synthetic_run / "phase1/model_best.safetensors")
    assert sorted(pth) == sorted(st)
    assert all(torch.equal(pth[k], st[k]) for k in pth)


def test_only_sweep_reuses_the_completed_steps_of_the_run(cli, synthetic_run, tmp_path):
    run_dir = tmp_path / "runs" / synthetic_run.name  # a copy: other tests read the original
    shutil.copytree(synthetic_run, run_dir)
    before = read_manifest(run_dir)["steps"]
    result = cli(
        "run", "sweep_thresholds", "--only", "--run-id", run_dir.name,
        "--artifact-root", str(run_dir.parent), "--objective", "youden", "--quiet",
    )  # fmt: skip
    assert result.exit_code == 0, result
    after = read_manifest(run_dir)["steps"]
    for step in ("classifier.train_baseline_head", "classifier.export_calib_logits"):
        assert after[step]["finished_at"] == before[step]["finished_at"]
    assert after["classifier.sweep_thresholds"]["status"] == "completed"
    assert json.loads((run_dir / "phase2/thresholds.json").read_text())["objective"] == "youden"


def _export_logits(cli, root, seed):
    result = cli(
        "run", "export_calib_logits", "--synthetic", "--synthetic-samples", "80", "--epochs", "2",
        "--seed", str(seed), "--artifact-root", str(root), "--run-id", "r", "--quiet",
    )  # fmt: skip
    assert result.exit_code == 0, result
    return torch.load(root / "r/phase1/val_calib_logits.pt", weights_only=True)


def test_same_seed_reproduces_the_logits_bit_for_bit(cli, tmp_path):
    # separate artifact roots: within one root the store would reuse the first outputs
    # (the files' bytes differ: torch.save writes a random serialization id)
    assert torch.equal(
        _export_logits(cli, tmp_path / "a", 3), _export_logits(cli, tmp_path / "b", 3)
    )


def test_another_seed_gives_other_logits(cli, tmp_path):
    assert not torch.equal(
        _export_logits(cli, tmp_path / "a", 3), _export_logits(cli, tmp_path / "b", 4)
    )
