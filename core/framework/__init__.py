"""framework: one runner for ML pipelines. The names here are the plugin-facing API.

Plugins import only from this module; everything else is internal and may change.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from framework.errors import (
    ArtifactError,
    ConfigError,
    FrameworkError,
    SplitContractError,
    UsageError,
)
from framework.hookspecs import hookimpl
from framework.steps import Step

if TYPE_CHECKING:
    from framework import distributed
    from framework.config import field, flatten_config
    from framework.context import StepContext
    from framework.execution import ExecutionSettings, RankInfo, autocast_dtype, resolve_device
    from framework.executors import run_jobs
    from framework.registrations import ConfigBridge, SweepPreset
    from framework.runner import RunRequest
    from framework.safeload import UnreadableFileError, torch_load

# Imported on first use, so that `framework list-steps` (and a plugin's hook module
# that needs only Step and hookimpl) does not pay for the config and execution code.
_LAZY = {
    "field": "framework.config",
    "flatten_config": "framework.config",
    "StepContext": "framework.context",
    "ExecutionSettings": "framework.execution",
    "RankInfo": "framework.execution",
    "autocast_dtype": "framework.execution",
    "resolve_device": "framework.execution",
    "ConfigBridge": "framework.registrations",
    "SweepPreset": "framework.registrations",
    "RunRequest": "framework.runner",
    "run_jobs": "framework.executors",
    "torch_load": "framework.safeload",
    "UnreadableFileError": "framework.safeload",
}
# Modules exported whole: `distributed` holds the helpers for steps run in several
# processes (DDP wrapping, sharding, metric reduction), each the identity with one.
_LAZY_MODULES = {"distributed"}


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        return importlib.import_module(f"framework.{name}")
    if name not in _LAZY:
        raise AttributeError(f"module 'framework' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | _LAZY_MODULES)


__version__ = "0.1.0"

__all__ = [
    "ArtifactError",
    "ConfigBridge",
    "ConfigError",
    "ExecutionSettings",
    "FrameworkError",
    "RankInfo",
    "RunRequest",
    "SplitContractError",
    "Step",
    "StepContext",
    "SweepPreset",
    "UnreadableFileError",
    "UsageError",
    "__version__",
    "autocast_dtype",
    "distributed",
    "field",
    "flatten_config",
    "hookimpl",
    "resolve_device",
    "run_jobs",
    "torch_load",
]
