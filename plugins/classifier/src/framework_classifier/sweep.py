"""Threshold sweep: every distinct score is a candidate, `score >= threshold` is positive.

One sort of the scores gives, for all candidates at once, the true and false positive
counts (cumulative sums read at the start of each run of equal scores); every metric
follows from those counts with vectorised numpy. float32 scores (what the export step
writes) are sorted as integer keys that carry the label in their lowest bit, so one
`np.sort` orders scores and labels together; other dtypes use one argsort.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OBJECTIVES = ("f1", "youden", "min-precision", "min-recall")
SIGN32 = np.uint32(0x80000000)


class SweepError(ValueError):
    """The scores or labels cannot be swept, or no threshold meets the objective."""


@dataclass
class Curve:
    """Counts at each candidate threshold, thresholds ascending."""

    thresholds: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    positives: int
    negatives: int

    @property
    def n(self) -> int:
        return self.positives + self.negatives

    @property
    def predicted_positive(self) -> np.ndarray:
        return self.tp + self.fp

    @property
    def precision(self) -> np.ndarray:
        return self.tp / self.predicted_positive  # never 0: each threshold is a score

    @property
    def recall(self) -> np.ndarray:
        return self.tp / self.positives

    tpr = recall

    @property
    def fpr(self) -> np.ndarray:
        return self.fp / self.negatives

    @property
    def f1(self) -> np.ndarray:
        return 2 * self.tp / (self.predicted_positive + self.positives)

    @property
    def accuracy(self) -> np.ndarray:
        return (self.tp + self.negatives - self.fp) / self.n


def _float32_keys(scores: np.ndarray) -> np.ndarray:
    """uint32 keys whose unsigned order is the float order (-0.0 counted as 0.0)."""
    bits = (scores + np.float32(0.0)).view(np.uint32)
    return np.where(bits & SIGN32, ~bits, bits | SIGN32)


def _keys_to_float32(keys: np.ndarray) -> np.ndarray:
    keys = keys.astype(np.uint32)
    return np.where(keys & SIGN32, keys & ~SIGN32, ~keys).view(np.float32)


def _check(scores: np.ndarray, labels: np.ndarray) -> None:
    if scores.ndim != 1 or labels.shape != scores.shape:
        raise SweepError(f"scores {scores.shape} and labels {labels.shape} must be 1-D and equal")
    if scores.size == 0:
        raise SweepError("there are no scores to sweep")
    if not np.isfinite(scores).all():
        raise SweepError("scores contain NaN or infinite values")


def sorted_scores_and_labels(
    scores: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(sort keys ascending, labels in the same order) from a single sort."""
    if scores.dtype in (np.float32, np.float16):
        keys = (_float32_keys(scores.astype(np.float32)).astype(np.uint64) << np.uint64(1)) | labels
        keys.sort()
        return keys >> np.uint64(1), (keys & np.uint64(1)).astype(np.int8)
    values = scores.astype(np.float64) + 0.0
    order = np.argsort(values)
    return values[order], labels[order].astype(np.int8)


def curve(scores: np.ndarray, labels: np.ndarray) -> Curve:
    """Counts for every distinct score used as threshold; O(n log n), one sort."""
    scores = np.asarray(scores)
    labels = np.asarray(labels).astype(bool).astype(np.uint64)
    _check(scores, labels)
    keys, ordered = sorted_scores_and_labels(scores, labels)
    n = keys.size
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    positives_upto = np.cumsum(ordered, dtype=np.int64)
    positives = int(positives_upto[-1])
    before = np.where(starts > 0, positives_upto[starts - 1], 0)
    tp = positives - before
    fp = (n - starts) - tp
    thresholds = keys[starts]
    thresholds = (_keys_to_float32(thresholds) if keys.dtype == np.uint64 else thresholds).astype(
        np.float64
    )
    return Curve(thresholds, tp, fp, positives, n - positives)


def _last_argmax(values: np.ndarray) -> int:
    """Index of the maximum; among ties the highest threshold (the last index)."""
    return int(values.size - 1 - np.argmax(values[::-1]))


def choose(c: Curve, objective: str, target: float = 0.9) -> int:
    """Index of the threshold that best meets `objective` (ties: the higher threshold)."""
    if c.positives == 0 or c.negatives == 0:
        which = "positive" if c.positives == 0 else "negative"
        raise SweepError(f"the calibration labels hold no {which} sample")
    if objective == "f1":
        return _last_argmax(c.f1)
    if objective == "youden":
        return _last_argmax(c.tpr - c.fpr)
    if objective in ("min-precision", "min-recall"):
        floor, gain = (
            (c.precision, c.recall) if objective == "min-precision" else (c.recall, c.precision)
        )
        ok = floor >= target
        if not ok.any():
            what = objective.removeprefix("min-")
            raise SweepError(
                f"no threshold reaches {what} >= {target} (best {what}: {floor.max():.4f})"
            )
        return _last_argmax(np.where(ok, gain, -1.0))
    raise SweepError(f"unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)}")


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (ties count one half), from the same single-sort curve."""
    c = curve(scores, labels)
    if c.positives == 0 or c.negatives == 0:
        return float("nan")
    fpr = np.concatenate(([0.0], c.fpr[::-1]))
    tpr = np.concatenate(([0.0], c.tpr[::-1]))
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Probabilities from logits without overflow warnings."""
    return np.exp(-np.logaddexp(0.0, -np.asarray(x, dtype=np.float64)))
