"""Hook implementations (cheap to import: specs and paths only)."""

from framework import ModelRegister, Step, StepRegister, hookimpl

DATA = ["data/train.bin", "data/val.bin", "data/tokenizer.json", "data/meta.json"]
LAST = "checkpoints/last.pt"


@hookimpl
def register_steps(register: StepRegister) -> None:
    register(
        Step(
            id="lm.prepare",
            description="Tokenize a corpus (default: the King James Bible) and split it 95/5",
            run="framework_lm.steps:prepare",
            config="framework_lm.config:PrepareConfig",
            outputs=DATA,
            version="1",
        )
    )
    register(
        Step(
            id="lm.train",
            description="Train a GPT-style language model; exact resume with --resume",
            run="framework_lm.steps:train",
            config="framework_lm.config:TrainConfig",
            requires=["prepare"],
            inputs=["data/train.bin", "data/val.bin", "data/tokenizer.json", "data/meta.json"],
            outputs=["checkpoints/step_*.pt", LAST, "loss_curve.png"],
            version="1",
        )
    )
    register(
        Step(
            id="lm.sample",
            description="Generate text from the last checkpoint (seeded)",
            run="framework_lm.steps:sample",
            config="framework_lm.config:SampleConfig",
            requires=["train"],
            inputs=[LAST, "data/tokenizer.json"],
            outputs=["samples.txt"],
            version="1",
        )
    )
    register(
        Step(
            id="lm.evaluate",
            description="Validation loss and perplexity of the last checkpoint",
            run="framework_lm.steps:evaluate",
            config="framework_lm.config:EvaluateConfig",
            requires=["train"],
            inputs=[LAST, "data/val.bin", "data/tokenizer.json", "data/meta.json"],
            outputs=["metrics.json"],
            version="1",
        )
    )


@hookimpl
def register_models(register: ModelRegister) -> None:
    register("lm.gpt", "framework_lm.model:Transformer")
