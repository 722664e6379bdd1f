"""Data sources and split contracts."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from framework import UsageError
from framework_classifier import data, sources

from tests.conftest import expect_error, read_manifest
from tests.plugins.classifier.conftest import write_image_folder


def test_faces_source_is_100_faces_then_100_non_faces():
    faces = sources.faces()
    assert faces.images.shape == (200, 25, 25, 3)
    assert faces.labels[:100, 0].all() and not faces.labels[100:, 0].any()
    assert faces.class_names == ["face", "non_face"]


def test_digits_source_has_ten_classes():
    digits = sources.digits()
    assert digits.images.shape == (1797, 8, 8, 3)
    assert digits.labels.sum(axis=0).min() > 170


def test_digits_without_scikit_learn_says_what_to_install(cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    result = cli("run", "train_baseline_head", "--dataset", "digits", "--quiet")
    expect_error(result, 2, "scikit-learn", "pip install scikit-learn")


def test_synthetic_images_depend_only_on_the_seed():
    a, b, c = (
        sources.synthetic(60, seed=1),
        sources.synthetic(60, seed=1),
        sources.synthetic(60, seed=2),
    )
    assert np.array_equal(a.images, b.images) and a.ids == b.ids
    assert not np.array_equal(a.images, c.images)


def _assignment(seed):
    source = sources.faces()
    return source, data.stratified_assignment(source.ids, source.labels[:, :1], seed)


def test_splits_are_disjoint_and_cover_every_sample():
    source, assignment = _assignment(0)
    members = [i for idx in assignment.values() for i in idx]
    assert sorted(members) == list(range(len(source.ids)))


def test_every_split_holds_both_classes_in_proportion():
    source, assignment = _assignment(0)
    for name, fraction in zip(data.SPLITS, data.FRACTIONS, strict=True):
        positives = source.labels[assignment[name], 0].sum()
        assert positives == pytest.approx(100 * fraction, abs=1), name


def test_split_assignment_is_deterministic_per_seed():
    assert _assignment(0)[1] == _assignment(0)[1]
    assert _assignment(0)[1] != _assignment(1)[1]


def test_split_file_assigns_the_folder_images(cli, tmp_path):
    root = write_image_folder(tmp_path / "images", {"cat": 8, "dog": 8})
    rows = ["path,split"]
    for k, name in enumerate(f"{c}/img_{i:02d}.png" for c in ("cat", "dog") for i in range(8)):
        rows.append(f"{name},{('TRAIN', 'TRAIN', 'VAL', 'VAL_CALIB')[k % 4]}")
    (tmp_path / "splits.csv").write_text("\n".join(rows) + "\n")
    result = cli(
        "run", "train_baseline_head", "--dataset", "folder", "--data-dir", str(root),
        "--split-file", str(tmp_path / "splits.csv"), "--run-id", "f", "--quiet",
    )  # fmt: skip
    assert result.exit_code == 0, result
    counts = {k: v["count"] for k, v in read_manifest(tmp_path / "runs" / "f")["splits"].items()}
    assert counts == {"TRAIN": 8, "VAL": 4, "VAL_CALIB": 4, "TEST": 0}


def test_split_file_naming_an_unknown_image_is_refused(cli, tmp_path):
    root = write_image_folder(tmp_path / "images", {"cat": 4, "dog": 4})
    (tmp_path / "splits.csv").write_text("path,split\ncat/missing.png,TRAIN\n")
    result = cli(
        "run", "train_baseline_head", "--dataset", "folder", "--data-dir", str(root),
        "--split-file", str(tmp_path / "splits.csv"), "--quiet",
    )  # fmt: skip
    expect_error(result, 2, "splits.csv:2", "cat/missing.png")


def test_folder_labels_csv_gives_multilabel_targets(tmp_path):
    root = write_image_folder(tmp_path / "images", {"a": 3, "b": 3})
    lines = ["path,red,round"] + [f"{c}/img_{i:02d}.png,{i % 2},1" for c in "ab" for i in range(3)]
    (root / "labels.csv").write_text("\n".join(lines) + "\n")
    source = sources.folder(str(root), 16)
    assert source.class_names == ["red", "round"]
    assert source.labels.tolist()[:2] == [[0.0, 1.0], [1.0, 1.0]]


def test_folder_with_a_single_class_has_no_negative_class(tmp_path):
    root = write_image_folder(tmp_path / "images", {"cat": 4})
    with pytest.raises(UsageError, match="one class folder"):
        sources.folder(str(root), 16)


SPY_PLUGIN = """
import attrs
from framework import Step, hookimpl
from framework_classifier.config import TrainConfig

def peek(ctx):
    from framework_classifier import data
    data.prepare(ctx, 32).read("VAL_CALIB")

@hookimpl
def register_steps(register):
    register(Step(id="spy.peek", run=__name__ + ":peek",
                  config="framework_classifier.config:TrainConfig", splits=["TRAIN"]))
"""


def test_a_step_reading_an_undeclared_split_fails_the_contract(cli, plugin_site):
    plugin_site.add("spy", SPY_PLUGIN)
    result = cli("run", "spy.peek", "--synthetic", "--quiet")
    expect_error(result, 1, "read split VAL_CALIB, which it did not declare")
