"""Built-in plugin: the human view of a run on the terminal (silent with --quiet).

Hooks: ``before_run``, ``before_step``, ``after_step``, ``after_run`` (a line each), and
``step_terminal``: where a step's progress bars, prints and tables go (`progress`).
Blocked with ``--no-plugin console``: runs then show nothing, as with --quiet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from framework.hookspecs import hookimpl

if TYPE_CHECKING:
    from framework.hookspecs import RunInfo, RunStatus, StepRecord, Terminal
    from framework.steps import Step

_console: Any = None

MARKS = {
    "completed": "[green]done[/]",
    "skipped": "[cyan]up to date[/]",
    "reused": "[cyan]reused[/]",
    "failed": "[red]failed[/]",
}


def console() -> Any:
    global _console
    if _console is None:
        from rich.console import Console

        _console = Console(highlight=False, soft_wrap=True)
    return _console


def _quiet(run: RunInfo) -> bool:
    return run.execution.quiet or not run.rank.is_main


@hookimpl
def before_run(run: RunInfo) -> None:
    if not _quiet(run):
        console().print(
            f"[bold]run {run.run_id}[/]  target {run.target}  ({len(run.plan)} step{'s' * (len(run.plan) != 1)}) -> {run.run_dir}"
        )


@hookimpl
def before_step(run: RunInfo, step: Step) -> None:
    if not _quiet(run):
        reason = run.manifest["steps"][step.id].get("reason", "")
        console().print(f"  [bold]>[/] {step.id}  [dim]running: {reason}[/]")


@hookimpl
def after_step(run: RunInfo, step: Step, result: StepRecord) -> None:
    if _quiet(run):
        return
    status = result["status"]
    detail = result.get("reason", "") if status in ("skipped", "reused") else ""
    detail = detail.removeprefix("up to date: ")
    took = (
        f" in {result['duration_s']:.2f}s"
        if status == "completed" and result.get("duration_s") is not None
        else ""
    )
    console().print(f"  {MARKS.get(status, status)} {step.id}{took}  [dim]{detail}[/]")
    if result.get("metrics"):
        from framework.manifest import format_metrics  # at run time, not at CLI start-up

        console().print(f"      [dim]{format_metrics(result['metrics'], digits=4)}[/]")


@hookimpl
def after_run(run: RunInfo, status: RunStatus) -> None:
    if not _quiet(run) and status == "completed":
        console().print(
            f"[bold green]completed[/] run {run.run_id}: {run.run_dir / 'manifest.json'}"
        )


@hookimpl
def step_terminal(run: RunInfo, step: Step) -> Terminal | None:
    if _quiet(run):
        return None
    from framework.builtin.console.progress import StepTerminal

    return StepTerminal(console(), run.execution.progress_interval_s)
