"""The hooks: cheap, naming the step's code by import path."""

from __future__ import annotations

from framework import Metrics, RunInfo, Step, StepRegister, hookimpl


@hookimpl
def register_steps(register: StepRegister) -> None:
    register(
        Step(
            id="readme.count",
            description="Count the words of a text",
            run="fwreadme.steps:count",
            config="fwreadme.config:CountConfig",
            outputs=["counts.json"],
        )
    )


@hookimpl
def on_metrics(run: RunInfo, step: Step, metrics: Metrics) -> None:
    """Tell the run's event log that this plugin saw the step's metrics."""
    run.emit("readme_saw_metrics", step.id, names=sorted(metrics))
