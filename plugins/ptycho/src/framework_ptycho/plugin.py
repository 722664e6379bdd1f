"""Hook implementations: what this plugin adds. Cheap to import: specs and paths only."""

from __future__ import annotations

from framework import (
    BridgeRegister,
    CliRegister,
    ModelRegister,
    Step,
    StepRegister,
    SweepRegister,
    hookimpl,
)

DATA = ["data/train.npz", "data/test.npz", "data/ground_truth.npz"]
RECON = ["reconstruction.npz", "reconstructed_amplitude.png", "reconstructed_phase.png"]


@hookimpl
def register_steps(register: StepRegister) -> None:
    register(
        Step(
            id="ptycho.simulate",
            description="Simulate ptychography data (or validate your NPZ files) into data/",
            run="framework_ptycho.steps.data:simulate",
            config="framework_ptycho.config:SimulateConfig",
            outputs=DATA,
            splits=["TRAIN", "TEST"],
            version="4",  # 4: your files' positions framed from pixel 0
        )
    )
    register(
        Step(
            id="ptycho.train",
            description="Train the physics-informed network (PINN) on the TRAIN patterns",
            run="framework_ptycho.steps.train:train",
            config="framework_ptycho.config:TrainConfig",
            requires=["simulate"],
            inputs=["data/train.npz"],
            outputs=["model/bundle.zip", "train/history.csv", "checkpoints/*"],
            splits=["TRAIN"],
            version="3",  # 3: validation holds out scan rows, not random groups
        )
    )
    register(
        Step(
            id="ptycho.infer",
            description="Reconstruct the TEST object with the trained PINN bundle",
            run="framework_ptycho.steps.infer:infer",
            config="framework_ptycho.config:InferConfig",
            requires=["train"],
            inputs=["model/bundle.zip", "data/test.npz", "data/ground_truth.npz"],
            outputs=RECON,
            splits=["TEST"],
            version="2",
        )
    )
    register(
        Step(
            id="ptycho.epie",
            description="Reconstruct the TEST object iteratively (ePIE/rPIE, or pty-chi engines)",
            run="framework_ptycho.steps.iterative:epie",
            config="framework_ptycho.config:EpieConfig",
            requires=["simulate"],
            inputs=["data/test.npz", "data/ground_truth.npz"],
            outputs=[f"epie/{name}" for name in RECON],
            splits=["TEST"],
            version="1",
        )
    )
    register(
        Step(
            id="ptycho.refine",
            description="Refine the PINN's object with an iterative engine (PINN-initialised)",
            run="framework_ptycho.steps.iterative:refine",
            config="framework_ptycho.config:RefineConfig",
            requires=["infer"],
            inputs=["data/test.npz", "data/ground_truth.npz", "reconstruction.npz"],
            outputs=[f"refine/{name}" for name in RECON],
            splits=["TEST"],
            version="2",  # 2: builtin-lsqml's default passes follow the dose
        )
    )
    register(
        Step(
            id="ptycho.reconstruct",
            description="Reconstruct your NPZ with a trained or the shipped pretrained PINN (+ refinement)",
            run="framework_ptycho.steps.reconstruct:reconstruct",
            config="framework_ptycho.config:ReconstructConfig",
            outputs=[*RECON, "metrics.json"],
            version="3",  # 2: positions framed from pixel 0 (frame_shift); --bundle none; the
            # denoised amplitude keeps the refined mean; 3: builtin-lsqml's default passes
            # follow the dose, covering groups before a refinement
        )
    )
    register(
        Step(
            id="ptycho.evaluate",
            description="Score PINN, PINN + refinement and baseline against the true object (SSIM, PSNR, MAE, FRC50)",
            run="framework_ptycho.steps.evaluate:evaluate",
            config="framework_ptycho.config:EvaluateConfig",
            requires=["infer", "epie", "refine"],
            inputs=[
                "data/test.npz",
                "data/ground_truth.npz",
                "reconstruction.npz",
                "epie/reconstruction.npz",
                "refine/reconstruction.npz",
            ],
            outputs=["metrics.json", "comparison.png"],
            splits=["TEST"],
            version="2",  # 2: the refined PINN scored too
        )
    )


@hookimpl
def register_models(register: ModelRegister) -> None:
    register("ptycho.pinn", "framework_ptycho.model:build")


@hookimpl
def register_config_bridges(register: BridgeRegister) -> None:
    from framework import ConfigBridge

    register(
        ConfigBridge(
            name="params", steps=["ptycho.train"], function="framework_ptycho.bridge:to_params"
        )
    )


@hookimpl
def register_sweeps(register: SweepRegister) -> None:
    from framework import SweepPreset

    from framework_ptycho.presets import DOSES, VIEWS

    register(
        SweepPreset(
            name="ptycho.dose_overlap",
            step="ptycho.evaluate",
            matrix={"nphotons": DOSES, "view": VIEWS},
            description="PINN vs ePIE at 1e3/1e4/1e5 photons for baseline (g=1), dense and sparse (g=2) views; a view sets gridsize and overlap",
        )
    )


@hookimpl
def register_cli_options(register: CliRegister) -> None:
    from framework_ptycho.cli import study_command

    register(study_command)
