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
    from framework.builtin.executors.batch import (
        Batch,
        JobResult,
        JobUpdate,
        Resources,
        run_jobs,
    )
    from framework.builtin.executors.follow import (
        follow_jobs,
        job_cancelled,
        job_lost,
        job_not_run,
        job_result,
    )
    from framework.builtin.executors.worker import request_to_dict, run_in_worker
    from framework.builtin.sweep.execution import SweepOptions, run_sweep
    from framework.builtin.sweep.execution import failure_message as sweep_failure
    from framework.builtin.sweep.planning import SweepSpec, plan_sweep, preset_spec
    from framework.config import field, flatten_config
    from framework.context import StepContext
    from framework.execution import ExecutionSettings, RankInfo, autocast_dtype, resolve_device
    from framework.hooktypes import (
        BridgeRegister,
        CliRegister,
        Event,
        ExecutorRegister,
        Metrics,
        ModelRegister,
        RunInfo,
        RunStatus,
        SchemaRegister,
        StepRecord,
        StepRegister,
        SweepRegister,
    )
    from framework.registrations import ConfigBridge, RunLauncher, SweepPreset
    from framework.request import Flag, RunRequest
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
    "RunLauncher": "framework.registrations",
    "RunRequest": "framework.request",
    "Flag": "framework.request",
    "torch_load": "framework.safeload",
    "UnreadableFileError": "framework.safeload",
    # The types hook arguments carry (for annotating a plugin's hook implementations):
    "BridgeRegister": "framework.hooktypes",
    "CliRegister": "framework.hooktypes",
    "Event": "framework.hooktypes",
    "ExecutorRegister": "framework.hooktypes",
    "Metrics": "framework.hooktypes",
    "ModelRegister": "framework.hooktypes",
    "RunInfo": "framework.hooktypes",
    "RunStatus": "framework.hooktypes",
    "SchemaRegister": "framework.hooktypes",
    "StepRecord": "framework.hooktypes",
    "StepRegister": "framework.hooktypes",
    "SweepRegister": "framework.hooktypes",
    # Running many jobs, and writing an executor (the built-in `executors` plugin):
    "run_jobs": "framework.builtin.executors.batch",
    "Batch": "framework.builtin.executors.batch",
    "JobResult": "framework.builtin.executors.batch",
    "JobUpdate": "framework.builtin.executors.batch",
    "Resources": "framework.builtin.executors.batch",
    "follow_jobs": "framework.builtin.executors.follow",
    "job_result": "framework.builtin.executors.follow",
    "job_lost": "framework.builtin.executors.follow",
    "job_not_run": "framework.builtin.executors.follow",
    "job_cancelled": "framework.builtin.executors.follow",
    "request_to_dict": "framework.builtin.executors.worker",
    "run_in_worker": "framework.builtin.executors.worker",
    # Sweeps from code (the built-in `sweep` plugin): what `framework sweep` does.
    "SweepSpec": "framework.builtin.sweep.planning",
    "preset_spec": "framework.builtin.sweep.planning",
    "plan_sweep": "framework.builtin.sweep.planning",
    "SweepOptions": "framework.builtin.sweep.execution",
    "run_sweep": "framework.builtin.sweep.execution",
    "sweep_failure": "framework.builtin.sweep.execution:failure_message",
}
# Modules exported whole: `distributed` holds the helpers for steps run in several
# processes (DDP wrapping, sharding, metric reduction), each the identity with one.
_LAZY_MODULES = {"distributed"}


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        return importlib.import_module(f"framework.{name}")
    if name not in _LAZY:
        raise AttributeError(f"module 'framework' has no attribute {name!r}")
    module, _, attribute = _LAZY[name].partition(":")
    value = getattr(importlib.import_module(module), attribute or name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | _LAZY_MODULES)


__version__ = "0.1.0"

__all__ = [
    "ArtifactError",
    "Batch",
    "BridgeRegister",
    "CliRegister",
    "ConfigBridge",
    "ConfigError",
    "Event",
    "ExecutionSettings",
    "ExecutorRegister",
    "Flag",
    "FrameworkError",
    "JobResult",
    "JobUpdate",
    "Metrics",
    "ModelRegister",
    "RankInfo",
    "Resources",
    "RunInfo",
    "RunLauncher",
    "RunRequest",
    "RunStatus",
    "SchemaRegister",
    "SplitContractError",
    "Step",
    "StepContext",
    "StepRecord",
    "StepRegister",
    "SweepOptions",
    "SweepPreset",
    "SweepRegister",
    "SweepSpec",
    "UnreadableFileError",
    "UsageError",
    "__version__",
    "autocast_dtype",
    "distributed",
    "field",
    "flatten_config",
    "follow_jobs",
    "hookimpl",
    "job_cancelled",
    "job_lost",
    "job_not_run",
    "job_result",
    "plan_sweep",
    "preset_spec",
    "request_to_dict",
    "resolve_device",
    "run_in_worker",
    "run_jobs",
    "run_sweep",
    "sweep_failure",
    "torch_load",
]
