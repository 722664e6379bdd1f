"""A step's view of the data: targets for the task, disjoint splits, guarded reads.

Every step builds the same splits from the same settings and seed and records their
membership; the images of a split are handed out only through `ctx.splits.read`, so a
step that reads a split it did not declare fails with a split-contract error.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from framework import ConfigError, StepContext, UsageError

from framework_classifier import sources
from framework_classifier.config import DataConfig

SPLITS = ("TRAIN", "VAL", "VAL_CALIB", "TEST")
FRACTIONS = (0.6, 0.15, 0.15, 0.1)


@dataclass
class Task:
    kind: str  # "binary" or "multilabel"
    output_names: list[str]  # one per logit
    positive_class: str | None


@dataclass
class Split:
    name: str
    ids: list[str]
    images: np.ndarray  # (n, H, W, 3) float32
    targets: np.ndarray  # (n, K) float32 0/1


def check_settings(cfg: Any) -> None:
    """Refuse contradictory or missing data settings before any expensive work."""
    folder = cfg.dataset == "folder" and not cfg.synthetic
    if cfg.split_file and not folder:
        raise ConfigError("--split-file applies to --dataset folder only")
    if cfg.data_dir and not folder:
        raise ConfigError("--data-dir is read only with --dataset folder (and without --synthetic)")
    if folder:
        sources.check_folder(cfg.data_dir)
    if cfg.split_file and not Path(cfg.split_file).expanduser().is_file():
        raise UsageError(f"--split-file {cfg.split_file} does not exist")


def load_source(cfg: Any, seed: int, size: int) -> sources.Source:
    check_settings(cfg)
    if cfg.synthetic:
        return sources.synthetic(cfg.synthetic_samples, seed)
    if cfg.dataset == "faces":
        return sources.faces()
    if cfg.dataset == "digits":
        return sources.digits()
    return sources.folder(cfg.data_dir, size)


def task_targets(cfg: Any, source: sources.Source) -> tuple[Task, np.ndarray]:
    """The head's target matrix: the positive-class column, or every class column."""
    if cfg.task == "multilabel":
        if cfg.positive_class is not None:
            raise ConfigError("--positive-class applies to --task binary only")
        return Task("multilabel", list(source.class_names), None), source.labels
    positive = cfg.positive_class or source.default_positive
    if positive not in source.class_names:
        raise ConfigError(
            f"--positive-class {positive!r} is not a class of this dataset",
            hint="classes: " + ", ".join(source.class_names),
        )
    column = source.class_names.index(positive)
    return Task("binary", [positive], positive), source.labels[:, column : column + 1]


def stratified_assignment(ids: list[str], targets: np.ndarray, seed: int) -> dict[str, list[int]]:
    """Indices of each split: every label pattern is cut 60/15/15/10 after a seeded shuffle."""
    rng = np.random.default_rng(seed)
    keys = ["".join("1" if v else "0" for v in row) for row in targets]
    out: dict[str, list[int]] = {name: [] for name in SPLITS}
    bounds = np.cumsum(FRACTIONS)
    for key in sorted(set(keys)):
        members = np.asarray([i for i, k in enumerate(keys) if k == key])
        members = members[rng.permutation(len(members))]
        cuts = np.round(bounds * len(members)).astype(int)
        for name, lo, hi in zip(SPLITS, np.r_[0, cuts[:-1]], cuts, strict=True):
            out[name].extend(int(i) for i in members[lo:hi])
    return {name: sorted(idx, key=lambda i: ids[i]) for name, idx in out.items()}


def file_assignment(path: str, ids: list[str]) -> dict[str, list[int]]:
    """Indices of each split from a 'path,split' CSV listing every image once."""
    file = Path(path).expanduser()
    position = {sample: i for i, sample in enumerate(ids)}
    out: dict[str, list[int]] = {name: [] for name in SPLITS}
    with file.open(newline="", encoding="utf-8") as fh:
        for line, row in enumerate(csv.reader(fh), start=1):
            if line == 1 and row == ["path", "split"]:
                continue
            if len(row) != 2 or row[1] not in out:
                raise UsageError(
                    f"{file}:{line}: expected 'path,split' with split one of {', '.join(SPLITS)}"
                )
            if row[0] not in position:
                raise UsageError(f"{file}:{line}: no image '{row[0]}' in the data folder")
            out[row[1]].append(position[row[0]])
    listed = sum(len(v) for v in out.values())
    if listed != len(ids):
        raise UsageError(f"{file} assigns {listed} of the {len(ids)} images; list each once")
    return out


class SplitData:
    """The dataset cut into splits; images of a split only through the step's guard."""

    def __init__(
        self, ctx: StepContext[DataConfig], source: sources.Source, task: Task, targets: np.ndarray
    ) -> None:
        self._ctx = ctx
        self.source = source
        self.task = task
        self.targets = targets
        cfg = ctx.config
        seed = ctx.execution.seed
        self.assignment = (
            file_assignment(cfg.split_file, source.ids)
            if cfg.split_file
            else stratified_assignment(source.ids, targets, seed)
        )
        for name in ("TRAIN", "VAL", "VAL_CALIB"):
            if not self.assignment[name]:
                raise UsageError(f"split {name} is empty: the dataset is too small to split")
        ctx.splits.record(
            {name: [source.ids[i] for i in idx] for name, idx in self.assignment.items()}
        )

    def read(self, name: str) -> Split:
        """The images and targets of split `name`, if this step declared it."""
        split = self._ctx.splits.read(name, self._subset, name)
        self._ctx.event("split_read", split=name, count=len(split.ids))
        return split

    def _subset(self, name: str) -> Split:
        idx = np.asarray(self.assignment[name], dtype=int)
        return Split(
            name,
            [self.source.ids[i] for i in idx],
            self.source.images[idx],
            self.targets[idx],
        )


def prepare(ctx: StepContext[DataConfig], load_size: int) -> SplitData:
    """Load the configured source, build the task's targets, record the splits."""
    cfg = ctx.config
    source = load_source(cfg, ctx.execution.seed, load_size)
    task, targets = task_targets(cfg, source)
    return SplitData(ctx, source, task, targets)
