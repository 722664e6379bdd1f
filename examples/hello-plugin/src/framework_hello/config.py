"""Typed configs: every field becomes a `framework run` option and a JSON Schema entry."""

import attrs
from framework import field


@attrs.define
class DataConfig:
    """Fields shared by both steps: one `--n-samples` flag sets them in each."""

    n_samples: int = field(200, min=10, help="number of synthetic points (80% TRAIN, 20% TEST)")
    noise: float = field(0.1, min=0.0, help="standard deviation of the noise added to y")


@attrs.define
class TrainConfig(DataConfig):
    model: str = field("hello.line", help="registered model to fit")
    epochs: int = field(100, min=1, help="passes of full-batch gradient descent")
    learning_rate: float = field(0.1, min=0.0, max=10.0, help="gradient descent step size")


@attrs.define
class EvaluateConfig(DataConfig):
    pass
