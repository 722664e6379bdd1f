"""The plugin-facing contract: the pluggy hook specifications and the types they carry.

Registration hooks call their `register` once per thing and must stay cheap (no torch, no
plugin internals): `framework list-steps` calls them. Lifecycle hooks see a run (`RunInfo`)
as it happens. `framework` exports the types, so a plugin's hook implementations type check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, Protocol

import pluggy

if TYPE_CHECKING:
    from pathlib import Path

    import click
    from click.shell_completion import CompletionItem

    from framework.execution import ExecutionSettings, RankInfo
    from framework.progress import ProgressBar
    from framework.steps import ConfigBridge, RunLauncher, Step, SweepPreset

PROJECT = "framework"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- the `register` each registration hook receives (its docstring shows the call) --------
StepRegister = Callable[["Step"], None]
ModelRegister = Callable[[str, str], None]  # name, "pkg.module:factory"
ExecutorRegister = Callable[[str, str], None]  # name, "pkg.module:ExecutorClass"
CliRegister = Callable[["click.Command | click.Option | RunLauncher"], None]
BridgeRegister = Callable[["ConfigBridge"], None]
SweepRegister = Callable[["SweepPreset"], None]
SchemaRegister = Callable[[str, str], None]  # "name.schema.json", "pkg.module:function"


# -- what a run looks like from a lifecycle hook -------------------------------------

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


# -- registration hooks ---------------------------------------------------------------


@hookspec
def register_steps(register: StepRegister) -> None:
    """Call ``register(Step(...))`` for each step this plugin provides."""


@hookspec
def register_models(register: ModelRegister) -> None:
    """Call ``register(name, "pkg.module:factory")`` for each model steps may build by name."""


@hookspec
def register_cli_options(register: CliRegister) -> None:
    """Call ``register(click.Command)`` to add a command, or ``register(click.Option)`` to add an option to ``framework run`` (with a ``RunLauncher`` that takes such a run over)."""


@hookspec
def register_config_bridges(register: BridgeRegister) -> None:
    """Call ``register(ConfigBridge(...))`` to copy a typed config into a legacy flat dict."""


@hookspec
def register_executors(register: ExecutorRegister) -> None:
    """Call ``register(name, "pkg.module:ExecutorClass")`` for each place jobs can run."""


@hookspec
def register_sweeps(register: SweepRegister) -> None:
    """Call ``register(SweepPreset(...))`` for each named parameter matrix (a study)."""


@hookspec
def register_schemas(register: SchemaRegister) -> None:
    """Call ``register("name.schema.json", "pkg.module:function")`` for each JSON Schema file
    `framework schema` writes besides the core's; the function returns the schema."""


# -- lifecycle hooks ------------------------------------------------------------------


@hookspec
def before_run(run: RunInfo) -> None:
    """A run is about to start; `run` holds its id, dir, plan and resolved config."""


@hookspec
def before_step(run: RunInfo, step: Step) -> None:
    """`step` (a Step spec) is about to execute (not called for skipped steps)."""


@hookspec
def after_step(run: RunInfo, step: Step, result: StepRecord) -> None:
    """`step` finished, was skipped or was reused; `result` is its manifest record."""


@hookspec
def on_step_error(run: RunInfo, step: Step, error: BaseException) -> None:
    """`step` raised `error`; the run stops after this hook."""


@hookspec
def after_run(run: RunInfo, status: RunStatus) -> None:
    """The run ended with `status` (completed, failed or interrupted)."""


@hookspec
def on_metrics(run: RunInfo, step: Step, metrics: Metrics) -> None:
    """A step logged metrics (loss, accuracy, ...) at some point of its progress."""


@hookspec
def on_event(run: RunInfo, event: Event) -> None:
    """Any structured event (the ones above and those steps emit), as written to events.jsonl."""


@hookspec(firstresult=True)
def step_terminal(run: RunInfo, step: Step) -> Terminal | None:
    """Where `step`'s own output (``ctx.progress``, ``print``, ``table``) is shown; None passes."""


# -- the shell ------------------------------------------------------------------------


@hookspec(firstresult=True)
def complete_shell(
    ctx: click.Context, param: click.Parameter | None, incomplete: str
) -> list[CompletionItem] | None:
    """A shell completes `param` of ``ctx.command`` (None: an option name); None passes."""


if TYPE_CHECKING:  # checked by mypy only: the runner's Run is what hooks are promised
    from framework.runner import Run

    _RUN_IS_RUN_INFO: type[RunInfo] = Run
