"""Hook implementations: what this plugin adds. Cheap to import: specs and paths only."""

from framework import ModelRegister, Step, StepRegister, hookimpl


@hookimpl
def register_steps(register: StepRegister) -> None:
    register(
        Step(
            id="hello.train",
            description="Fit a model to synthetic points by gradient descent",
            run="framework_hello.steps:train",
            config="framework_hello.config:TrainConfig",
            outputs=["model/weights.json", "train/loss.csv"],
            splits=["TRAIN"],
            version="1",
        )
    )
    register(
        Step(
            id="hello.evaluate",
            description="Score the fitted model on the held-out TEST split",
            run="framework_hello.steps:evaluate",
            config="framework_hello.config:EvaluateConfig",
            requires=["train"],  # a bare name means a step of this plugin
            inputs=["model/weights.json"],
            outputs=["metrics.json"],
            splits=["TEST"],
            version="1",
        )
    )


@hookimpl
def register_models(register: ModelRegister) -> None:
    register("hello.line", "framework_hello.models:Line")
    register("hello.constant", "framework_hello.models:Constant")
