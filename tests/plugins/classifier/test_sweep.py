"""The threshold sweep against scikit-learn's curves and a brute-force count."""

from __future__ import annotations

import numpy as np
import pytest
from framework_classifier import sweep
from sklearn.metrics import precision_recall_curve, roc_auc_score, roc_curve

DTYPES = [np.float32, np.float64]


def random_scores(dtype, n=3000, seed=0):
    """Scores rounded to one decimal, so many are tied, with labels that correlate."""
    rng = np.random.default_rng(seed)
    labels = rng.random(n) < 0.35
    scores = np.round(rng.normal(size=n) + labels, 1).astype(dtype)
    return scores, labels


@pytest.mark.parametrize("dtype", DTYPES)
def test_precision_and_recall_equal_sklearn_precision_recall_curve(dtype):
    scores, labels = random_scores(dtype)
    c = sweep.curve(scores, labels)
    precision, recall, thresholds = precision_recall_curve(labels, scores, drop_intermediate=False)
    np.testing.assert_array_equal(c.thresholds, thresholds.astype(np.float64))
    np.testing.assert_allclose(c.precision, precision[:-1], rtol=1e-12)
    np.testing.assert_allclose(c.recall, recall[:-1], rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fpr_and_tpr_equal_sklearn_roc_curve(dtype):
    scores, labels = random_scores(dtype, seed=1)
    c = sweep.curve(scores, labels)
    fpr, tpr, thresholds = roc_curve(labels, scores, drop_intermediate=False)
    # roc_curve lists thresholds descending after a leading +inf
    np.testing.assert_array_equal(c.thresholds[::-1], thresholds[1:].astype(np.float64))
    np.testing.assert_allclose(c.fpr[::-1], fpr[1:], rtol=1e-12)
    np.testing.assert_allclose(c.tpr[::-1], tpr[1:], rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_roc_auc_equals_sklearn_with_ties(dtype):
    scores, labels = random_scores(dtype, seed=2)
    assert sweep.roc_auc(scores, labels) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


def test_counts_follow_score_at_least_threshold_by_brute_force():
    scores, labels = random_scores(np.float32, n=300, seed=3)
    c = sweep.curve(scores, labels)
    assert c.thresholds.size == np.unique(scores).size
    for t, tp, fp in zip(c.thresholds, c.tp, c.fp, strict=True):
        predicted = scores >= np.float32(t)
        assert tp == np.sum(predicted & labels) and fp == np.sum(predicted & ~labels)


def test_float32_keys_order_negatives_zeros_and_extremes():
    values = np.array([3.5, -0.0, 0.0, -2.0, 1e-30, -1e30, 1e30, -1e-30], dtype=np.float32)
    keys = sweep._float32_keys(values)
    assert np.array_equal(np.argsort(keys, kind="stable"), np.argsort(values + 0.0, kind="stable"))
    np.testing.assert_array_equal(sweep._keys_to_float32(keys), values + np.float32(0.0))


def test_negative_zero_and_zero_are_one_threshold():
    c = sweep.curve(np.array([-0.0, 0.0, 1.0], dtype=np.float32), np.array([0, 1, 1]))
    assert c.thresholds.tolist() == [0.0, 1.0]
    assert c.tp.tolist() == [2, 1] and c.fp.tolist() == [1, 0]


def test_f1_objective_picks_the_highest_f1():
    scores, labels = random_scores(np.float32, seed=4)
    c = sweep.curve(scores, labels)
    i = sweep.choose(c, "f1")
    precision, recall, _ = precision_recall_curve(labels, scores, drop_intermediate=False)
    with np.errstate(invalid="ignore"):
        f1 = 2 * precision * recall / (precision + recall)
    assert c.f1[i] == pytest.approx(np.nanmax(f1), rel=1e-12)


def test_youden_objective_picks_the_largest_tpr_minus_fpr():
    scores, labels = random_scores(np.float64, seed=5)
    c = sweep.curve(scores, labels)
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    assert (c.tpr - c.fpr)[sweep.choose(c, "youden")] == pytest.approx(np.max(tpr - fpr))


def test_min_precision_objective_maximises_recall_at_the_target():
    scores, labels = random_scores(np.float64, seed=6)
    c = sweep.curve(scores, labels)
    i = sweep.choose(c, "min-precision", 0.8)
    assert c.precision[i] >= 0.8
    assert c.recall[i] == np.max(c.recall[c.precision >= 0.8])


def test_min_recall_objective_maximises_precision_at_the_target():
    scores, labels = random_scores(np.float64, seed=7)
    c = sweep.curve(scores, labels)
    i = sweep.choose(c, "min-recall", 0.9)
    assert c.recall[i] >= 0.9
    assert c.precision[i] == np.max(c.precision[c.recall >= 0.9])


def test_unreachable_target_is_an_error_naming_the_best_value():
    c = sweep.curve(np.array([0.1, 0.2, 0.3]), np.array([1, 0, 0]))
    with pytest.raises(sweep.SweepError, match=r"precision >= 0.99 \(best precision: 0.3333"):
        sweep.choose(c, "min-precision", 0.99)


def test_labels_without_positives_cannot_be_swept():
    with pytest.raises(sweep.SweepError, match="no positive"):
        sweep.choose(sweep.curve(np.array([0.1, 0.2]), np.array([0, 0])), "f1")


def test_nan_scores_are_refused():
    with pytest.raises(sweep.SweepError, match="NaN"):
        sweep.curve(np.array([0.1, np.nan], dtype=np.float32), np.array([0, 1]))


def test_sigmoid_is_finite_for_extreme_logits():
    probs = sweep.sigmoid(np.array([-1e4, 0.0, 1e4]))
    assert probs.tolist() == [0.0, 0.5, 1.0]
