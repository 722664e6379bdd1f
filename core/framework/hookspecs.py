"""The pluggy hook specifications: the whole plugin-facing contract.

Registration hooks receive a `register` callable and call it once per thing; they
must stay cheap (no torch, no plugin internals), since `framework list-steps` calls
them. Lifecycle hooks see a run as it happens.
"""

from __future__ import annotations

from typing import Any

import pluggy

PROJECT = "framework"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- registration ---------------------------------------------------------------------


@hookspec
def register_steps(register: Any) -> None:
    """Call ``register(Step(...))`` for each step this plugin provides."""


@hookspec
def register_models(register: Any) -> None:
    """Call ``register(name, "pkg.module:factory")`` for each model steps may build by name."""


@hookspec
def register_cli_options(register: Any) -> None:
    """Call ``register(click.Command)`` to add a command, or ``register(click.Option)`` to add an option to ``framework run`` (with a ``RunLauncher`` that takes such a run over)."""


@hookspec
def register_config_bridges(register: Any) -> None:
    """Call ``register(ConfigBridge(...))`` to copy a typed config into a legacy flat dict."""


@hookspec
def register_executors(register: Any) -> None:
    """Call ``register(name, "pkg.module:ExecutorClass")`` for each place jobs can run."""


@hookspec
def register_sweeps(register: Any) -> None:
    """Call ``register(SweepPreset(...))`` for each named parameter matrix (a study)."""


# -- lifecycle ------------------------------------------------------------------------


@hookspec
def before_run(run: Any) -> None:
    """A run is about to start; `run` holds its id, dir, plan and resolved config."""


@hookspec
def before_step(run: Any, step: Any) -> None:
    """`step` (a Step spec) is about to execute (not called for skipped steps)."""


@hookspec
def after_step(run: Any, step: Any, result: Any) -> None:
    """`step` finished, was skipped or was reused; `result` is its manifest record."""


@hookspec
def on_step_error(run: Any, step: Any, error: BaseException) -> None:
    """`step` raised `error`; the run stops after this hook."""


@hookspec
def after_run(run: Any, status: str) -> None:
    """The run ended with `status` (completed, failed or interrupted)."""


@hookspec
def on_metrics(run: Any, step: Any, metrics: dict[str, Any]) -> None:
    """A step logged metrics (loss, accuracy, ...) at some point of its progress."""


@hookspec
def on_event(run: Any, event: dict[str, Any]) -> None:
    """Any structured event (the ones above and those steps emit), as written to events.jsonl."""
