"""Built-in plugin: experiment trackers (MLflow, TensorBoard) fed by the lifecycle hooks.

``--tracker mlflow,tensorboard`` (the execution setting ``tracker``: also a config
``execution:`` key and ``FRAMEWORK_TRACKER``) picks them; nothing is imported until a
run selects one, so ``framework list-steps`` never pays for mlflow or tensorboard. Only
rank 0 tracks. Each tracker works on a thread of its own (see background.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from framework.hookspecs import hookimpl

if TYPE_CHECKING:
    from framework.hookspecs import CliRegister, Metrics, RunInfo, RunStatus
    from framework.steps import Step

TRACKERS = {
    "mlflow": "framework.builtin.trackers.mlflow:MlflowTracker",
    "tensorboard": "framework.builtin.trackers.tensorboard:TensorBoardTracker",
}
CLOSE_TIMEOUT_S = 60.0  # at the end of a run, the most a tracker may take to catch up
_active: dict[str, list[Any]] = {}  # run dir -> its trackers (Background), rank 0 only


@hookimpl
def register_cli_options(register: CliRegister) -> None:
    import click

    register(
        click.Option(
            ["--logger-backend"],
            type=click.Choice([*TRACKERS, "none"], case_sensitive=False),
            hidden=True,
            help="Deprecated: use --tracker.",
        )
    )
    register(
        click.Option(
            ["--disable-mlflow"], is_flag=True, default=None, hidden=True, help="Deprecated."
        )
    )


def selected(run: RunInfo) -> list[str]:
    """The trackers this run asked for, deprecated spellings included (each warns once)."""
    from framework.builtin.trackers.background import warn

    names = list(run.execution.tracker)
    backend = run.options.get("logger_backend")
    if backend:
        warn(f"--logger-backend is deprecated; use --tracker {backend.lower()}")
        names = [backend.lower()]
    if run.options.get("disable_mlflow"):
        warn("--disable-mlflow is deprecated; use --tracker none")
        names = ["none"]
    return [] if "none" in names else list(dict.fromkeys(names))


@hookimpl
def before_run(run: RunInfo) -> None:
    if not run.rank.is_main:
        return
    names = selected(run)
    if not names:
        return
    from functools import partial

    from framework.builtin.trackers.background import Background
    from framework.builtin.trackers.info import RunInfo

    info = RunInfo.of(run)
    workers = []
    for name in names:
        worker = Background(partial(_make, name, info), name)
        worker.submit("start")
        workers.append(worker)
    _active[str(run.run_dir)] = workers


def _make(name: str, info: Any) -> Any:
    from framework.entrypoints import import_object

    return import_object(TRACKERS[name])(info)


@hookimpl
def on_metrics(run: RunInfo, step: Step, metrics: Metrics) -> None:
    workers = _active.get(str(run.run_dir))
    if not workers:
        return
    from framework.builtin.trackers.info import numeric

    values = numeric(metrics)
    if not values:
        return
    record = (step.name, values, int(metrics.get("step", 0)))
    for worker in workers:
        worker.submit("log_metrics", [record])


@hookimpl
def after_run(run: RunInfo, status: RunStatus) -> None:
    workers = _active.pop(str(run.run_dir), None)
    if not workers:
        return
    from framework.builtin.trackers.info import run_files

    files = run_files(run.run_dir)
    for worker in workers:
        worker.submit("log_files", files)
        worker.submit("finish", status)
    for worker in workers:
        worker.close(CLOSE_TIMEOUT_S)
