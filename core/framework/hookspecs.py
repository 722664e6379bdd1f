"""The pluggy hook specifications: the whole plugin-facing contract.

Registration hooks receive a `register` callable and call it once per thing; they
must stay cheap (no torch, no plugin internals), since `framework list-steps` calls
them. Lifecycle hooks see a run as it happens. The argument types live in
`framework.hooktypes` (exported by `framework`), so an implementation type checks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click
    from click.shell_completion import CompletionItem

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
        Terminal,
    )
    from framework.steps import Step

PROJECT = "framework"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- registration ---------------------------------------------------------------------


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


# -- lifecycle ------------------------------------------------------------------------


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
