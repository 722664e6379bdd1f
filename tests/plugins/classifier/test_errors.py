"""Bad input ends in one clear line on stderr and a non-zero exit, through the CLI."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import expect_error
from tests.plugins.classifier.conftest import write_image_folder


def run(cli, tmp_path, *args):
    return cli("run", *args, "--artifact-root", str(tmp_path / "runs"), "--quiet")


def test_missing_data_dir_is_reported(cli, tmp_path):
    result = run(
        cli, tmp_path, "train_baseline_head", "--dataset", "folder", "--data-dir", "nowhere"
    )
    expect_error(result, 2, "--data-dir", "nowhere", "does not exist")


def test_folder_dataset_without_data_dir_is_a_config_error(cli, tmp_path):
    expect_error(run(cli, tmp_path, "train_baseline_head", "--dataset", "folder"), 2, "--data-dir")


def test_corrupt_image_is_named(cli, tmp_path):
    root = write_image_folder(tmp_path / "images", {"cat": 10, "dog": 10})
    (root / "dog" / "img_03.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    result = run(
        cli, tmp_path, "train_baseline_head", "--dataset", "folder", "--data-dir", str(root)
    )
    expect_error(result, 2, "cannot read image", "img_03.png")


def test_empty_class_folder_is_named(cli, tmp_path):
    root = write_image_folder(tmp_path / "images", {"cat": 10, "dog": 10})
    (root / "empty").mkdir()
    result = run(
        cli, tmp_path, "train_baseline_head", "--dataset", "folder", "--data-dir", str(root)
    )
    expect_error(result, 2, "class 'empty'", "has no .png or .jpg images")


def test_unknown_positive_class_lists_the_classes(cli, tmp_path):
    result = run(cli, tmp_path, "train_baseline_head", "--positive-class", "cat")
    expect_error(result, 2, "'cat'", "face, non_face")


def test_unknown_backbone_lists_the_registered_ones(cli, tmp_path):
    result = run(cli, tmp_path, "train_baseline_head", "--backbone", "resnet9000")
    expect_error(result, 2, "unknown backbone 'resnet9000'", "tiny_cnn")


@pytest.fixture
def trained(cli, tmp_path, synthetic_run):
    """A copy of the shared synthetic run to damage."""
    run_dir = tmp_path / "runs" / "damaged"
    shutil.copytree(synthetic_run, run_dir)
    return run_dir


def export_only(cli, tmp_path):
    return run(cli, tmp_path, "export_calib_logits", "--only", "--run-id", "damaged", "--synthetic")


def test_missing_checkpoint_refuses_export_only(cli, tmp_path, trained):
    (trained / "phase1/model_best.pth").unlink()
    line = expect_error(export_only(cli, tmp_path), 2, "--only", "phase1/model_best.pth")
    assert "classifier.train_baseline_head" in line


def test_truncated_checkpoint_is_reported(cli, tmp_path, trained):
    path = trained / "phase1/model_best.pth"
    path.write_bytes(path.read_bytes()[:200])
    # an artifact that breaks its contract fails the step: exit code 1
    expect_error(export_only(cli, tmp_path), 1, "model_best.pth", "is truncated")


def test_only_sweep_without_logits_refuses_and_names_the_producer(cli, tmp_path):
    result = run(cli, tmp_path, "sweep_thresholds", "--only", "--run-id", "empty")
    expect_error(result, 2, "val_calib_logits.pt", "classifier.export_calib_logits")


def test_empty_labels_file_fails_the_sweep_clearly(cli, tmp_path, trained):
    (trained / "phase1/val_calib_labels.pt").write_bytes(b"")
    result = run(cli, tmp_path, "sweep_thresholds", "--only", "--run-id", "damaged")
    expect_error(result, 1, "val_calib_labels.pt", "is empty")


def test_export_with_other_backbone_settings_than_training_is_refused(cli, tmp_path, trained):
    result = run(
        cli, tmp_path, "export_calib_logits", "--only", "--run-id", "damaged", "--synthetic",
        "--image-size", "64",
    )  # fmt: skip
    expect_error(result, 2, "was trained on features of", "at 32 px", "at 64 px")
