"""framework: one runner for ML pipelines. The names here are the plugin-facing API:
plugins import only from this module; everything else is internal and may change."""

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
from framework.hookspecs import (  # the types hook arguments carry, and the marker
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
    hookimpl,
)
from framework.steps import ConfigBridge, RunLauncher, Step, SweepPreset

if TYPE_CHECKING:  # what `__getattr__` below imports on first use, for type checkers
    from framework import distributed
    from framework.builtin.executors.batch import Batch, JobResult, JobUpdate, Resources, run_jobs
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
    from framework.request import Flag, RunRequest
    from framework.safeload import UnreadableFileError, torch_load

# Imported on first use, so that `framework list-steps` (and a plugin's hook module
# that needs only Step and hookimpl) does not pay for the config and execution code.
# Module -> the names it exports; "name:attribute" exports the attribute under that name.
_LAZY_FROM = {
    "framework.config": "field flatten_config",
    "framework.context": "StepContext",
    "framework.execution": "ExecutionSettings RankInfo autocast_dtype resolve_device",
    "framework.request": "RunRequest Flag",
    "framework.safeload": "torch_load UnreadableFileError",
    # Running many jobs, and writing an executor (the built-in `executors` plugin):
    "framework.builtin.executors.batch": "run_jobs Batch JobResult JobUpdate Resources",
    "framework.builtin.executors.follow": "follow_jobs job_result job_lost job_not_run "
    "job_cancelled",
    "framework.builtin.executors.worker": "request_to_dict run_in_worker",
    # Sweeps from code (the built-in `sweep` plugin): what `framework sweep` does.
    "framework.builtin.sweep.planning": "SweepSpec preset_spec plan_sweep",
    "framework.builtin.sweep.execution": "SweepOptions run_sweep sweep_failure:failure_message",
}
_LAZY = {  # name -> (module, attribute)
    name: (module, attribute or name)
    for module, names in _LAZY_FROM.items()
    for name, _, attribute in (word.partition(":") for word in names.split())
}


def __getattr__(name: str) -> Any:
    if name == "distributed":  # a module exported whole (helpers for multi-process steps)
        return importlib.import_module("framework.distributed")
    if name not in _LAZY:
        raise AttributeError(f"module 'framework' has no attribute {name!r}")
    module, attribute = _LAZY[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__version__ = "0.1.0"

__all__ = [  # the public API: the names imported above and those imported on first use
    "ArtifactError", "Batch", "BridgeRegister", "CliRegister", "ConfigBridge", "ConfigError",
    "Event", "ExecutionSettings", "ExecutorRegister", "Flag", "FrameworkError", "JobResult",
    "JobUpdate", "Metrics", "ModelRegister", "RankInfo", "Resources", "RunInfo", "RunLauncher",
    "RunRequest", "RunStatus", "SchemaRegister", "SplitContractError", "Step", "StepContext",
    "StepRecord", "StepRegister", "SweepOptions", "SweepPreset", "SweepRegister", "SweepSpec",
    "UnreadableFileError", "UsageError", "__version__", "autocast_dtype", "distributed", "field",
    "flatten_config", "follow_jobs", "hookimpl", "job_cancelled", "job_lost", "job_not_run",
    "job_result", "plan_sweep", "preset_spec", "request_to_dict", "resolve_device",
    "run_in_worker", "run_jobs", "run_sweep", "sweep_failure", "torch_load",
]  # fmt: skip
