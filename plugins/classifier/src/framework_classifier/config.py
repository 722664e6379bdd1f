"""Typed configs of the three steps; every field is a `framework run` option.

Data and backbone fields are shared by name, so one `--dataset` or `--backbone` flag
sets both the training and the export step, and their split memberships agree.
"""

from __future__ import annotations

import attrs
from framework import field

DATASETS = ("faces", "digits", "folder")
TASKS = ("binary", "multilabel")
HEADS = ("linear", "mlp")
OBJECTIVES = ("f1", "youden", "min-precision", "min-recall")


@attrs.define
class DataConfig:
    """Where the images come from and how they are labelled."""

    dataset: str = field(
        "faces",
        choices=DATASETS,
        help="faces: scikit-image's LFW subset (faces vs non-faces); digits: scikit-learn's "
        "8x8 digits; folder: your images in --data-dir",
    )
    synthetic: bool = field(
        False, help="use generated images with a learnable signal instead of --dataset"
    )
    synthetic_samples: int = field(480, min=40, help="how many images --synthetic generates")
    data_dir: str | None = field(
        None, dependency=True, help="folder of <class>/*.png|jpg images (with --dataset folder)"
    )
    split_file: str | None = field(
        None,
        dependency=True,
        help="CSV 'path,split' assigning each image of --data-dir to TRAIN, VAL, VAL_CALIB or "
        "TEST (default: a seeded stratified split)",
    )
    task: str = field(
        "binary",
        choices=TASKS,
        help="binary: one positive class; multilabel: one sigmoid output and threshold per class",
    )
    positive_class: str | None = field(
        None,
        help="the positive class of a binary task (default: face, 0, disk for --synthetic, or a folder's second class)",
    )
    image_size: int = field(
        0, min=0, max=1024, help="side length fed to the backbone (0: the backbone's own size)"
    )


@attrs.define
class BackboneConfig(DataConfig):
    backbone: str = field(
        "tiny_cnn",
        help="registered backbone: tiny_cnn, dinov3_vits16, efficientnet_lite0 (frozen)",
    )
    backbone_weights: str | None = field(
        None,
        dependency=True,
        help="backbone weights file (.pth or .safetensors), e.g. an official DINOv3 checkpoint",
    )
    batch_size: int = field(32, min=1, help="images per forward pass (and per head update)")


@attrs.define
class TrainConfig(BackboneConfig):
    epochs: int = field(1, min=1, help="passes over the cached TRAIN features")
    learning_rate: float = field(1e-4, min=0.0, max=10.0, help="AdamW learning rate of the head")
    head: str = field("linear", choices=HEADS, help="linear, or mlp (one hidden layer of 256)")


@attrs.define
class ExportConfig(BackboneConfig):
    pass


@attrs.define
class SweepConfig:
    objective: str = field(
        "f1",
        choices=OBJECTIVES,
        help="f1: best F1; youden: best TPR-FPR; min-precision / min-recall: best recall / "
        "precision among thresholds reaching --target",
    )
    target: float = field(
        0.9,
        min=0.0,
        max=1.0,
        help="the precision or recall a min-precision / min-recall sweep must reach",
    )
