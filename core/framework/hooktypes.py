"""The types a hook's arguments carry, so a plugin's hook implementations type check.

One `register` callable type per registration hook, and what lifecycle hooks see of a
run. Typing only: nothing here runs, and importing it costs nothing at start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Protocol, Union

if TYPE_CHECKING:
    from pathlib import Path

    import click

    from framework.execution import ExecutionSettings, RankInfo
    from framework.progress import ProgressBar
    from framework.registrations import ConfigBridge, RunLauncher, SweepPreset
    from framework.steps import Step

# -- registration: what each hook's `register` accepts --------------------------------


class StepRegister(Protocol):
    """``register(Step(...))``, in ``register_steps``."""

    def __call__(self, step: Step, /) -> None: ...


class ModelRegister(Protocol):
    """``register("hello.line", "framework_hello.model:build")``, in ``register_models``."""

    def __call__(self, name: str, path: str, /) -> None: ...


class ExecutorRegister(Protocol):
    """``register("slurm", "pkg.module:SlurmExecutor")``, in ``register_executors``."""

    def __call__(self, name: str, path: str, /) -> None: ...


CliItem = Union["click.Command", "click.Option", "RunLauncher"]


class CliRegister(Protocol):
    """``register(command)``, ``register(option)`` or ``register(RunLauncher(...))``,
    in ``register_cli_options``."""

    def __call__(self, item: CliItem, /) -> None: ...


class BridgeRegister(Protocol):
    """``register(ConfigBridge(...))``, in ``register_config_bridges``."""

    def __call__(self, bridge: ConfigBridge, /) -> None: ...


class SweepRegister(Protocol):
    """``register(SweepPreset(...))``, in ``register_sweeps``."""

    def __call__(self, preset: SweepPreset, /) -> None: ...


class SchemaRegister(Protocol):
    """``register("sweep_manifest.schema.json", "pkg.module:function")``, in ``register_schemas``."""

    def __call__(self, name: str, path: str, /) -> None: ...


# -- lifecycle: what a run looks like from a hook -------------------------------------

RunStatus = Literal["completed", "failed", "interrupted"]
StepRecord = dict[str, Any]  # a step's entry in the manifest (status, hashes, outputs, ...)
Metrics = dict[str, Any]  # JSON-safe values by name, with "step" when the step gave one
Event = dict[str, Any]  # ts, run_id, step, event, fields: one line of events.jsonl


class RunInfo(Protocol):
    """The run in progress, as every lifecycle hook receives it (``run``)."""

    run_id: str
    run_dir: Path
    target: str  # the step asked for
    plan: list[str]  # the step ids to run, in order
    configs: dict[str, Any]  # step id -> its typed config
    execution: ExecutionSettings
    manifest: dict[str, Any]  # the manifest as it stands (rank 0 writes it)
    rank: RankInfo
    options: dict[str, Any]  # values of the options plugins added to `framework run`

    def emit(self, event: str, step: str | None = None, /, **fields: Any) -> None:
        """Send a structured event to every ``on_event`` hook (events.jsonl among them)."""


class ProgressView(Protocol):
    """How one progress bar is drawn; told of every change of its count."""

    def update(self, restart: bool = False) -> None: ...

    def close(self) -> None: ...


class Terminal(Protocol):
    """Where a step's own output is shown (``ctx.progress``, ``ctx.print``, ``ctx.table``),
    as the ``step_terminal`` hook gives it."""

    def view(self, bar: ProgressBar[Any], /) -> ProgressView: ...

    def print(self, text: str, /) -> None: ...

    def table(self, rows: list[dict[str, Any]], title: str, /) -> None: ...


if TYPE_CHECKING:  # checked by mypy only: the runner's Run is what hooks are promised
    from framework.runner import Run

    _RUN_IS_RUN_INFO: type[RunInfo] = Run
