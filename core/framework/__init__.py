"""framework: one runner for ML pipelines. The names here are the plugin-facing API.

Plugins import only from this module; everything else is internal and may change.
"""

from framework.config import field, flatten_config
from framework.context import StepContext
from framework.errors import (
    ArtifactError,
    ConfigError,
    FrameworkError,
    SplitContractError,
    UsageError,
)
from framework.execution import ExecutionSettings, RankInfo, autocast_dtype, resolve_device
from framework.hookspecs import hookimpl
from framework.plugins import ConfigBridge, SweepPreset
from framework.steps import Step

__version__ = "0.1.0"

__all__ = [
    "ArtifactError",
    "ConfigBridge",
    "ConfigError",
    "ExecutionSettings",
    "FrameworkError",
    "RankInfo",
    "SplitContractError",
    "Step",
    "StepContext",
    "SweepPreset",
    "UsageError",
    "__version__",
    "autocast_dtype",
    "field",
    "flatten_config",
    "hookimpl",
    "resolve_device",
]
