"""Hook implementations: the three steps and the backbones (specs and import paths only)."""

from framework import ModelRegister, Step, StepRegister, hookimpl

SPLITS_TRAIN = ["TRAIN", "VAL"]
CHECKPOINT = "phase1/model_best.pth"
CHECKPOINT_SAFETENSORS = "phase1/model_best.safetensors"
LOGITS = "phase1/val_calib_logits.pt"
LABELS = "phase1/val_calib_labels.pt"
CALIB_INFO = "phase1/val_calib_info.json"


@hookimpl
def register_steps(register: StepRegister) -> None:
    register(
        Step(
            id="classifier.train_baseline_head",
            description="Train a head on frozen backbone features (TRAIN), keep the best on VAL",
            run="framework_classifier.steps:train_baseline_head",
            config="framework_classifier.config:TrainConfig",
            outputs=[CHECKPOINT, CHECKPOINT_SAFETENSORS, "phase1/train_history.csv"],
            splits=SPLITS_TRAIN,
            version="1",
        )
    )
    register(
        Step(
            id="classifier.export_calib_logits",
            description="Run the best head on the held-out VAL_CALIB split and save its logits",
            run="framework_classifier.steps:export_calib_logits",
            config="framework_classifier.config:ExportConfig",
            requires=["train_baseline_head"],
            inputs=[CHECKPOINT],
            outputs=[LOGITS, LABELS, CALIB_INFO],
            splits=["VAL_CALIB"],
            version="1",
        )
    )
    register(
        Step(
            id="classifier.sweep_thresholds",
            description="Choose the decision threshold(s) from the calibration logits",
            run="framework_classifier.steps:sweep_thresholds",
            config="framework_classifier.config:SweepConfig",
            requires=["export_calib_logits"],
            inputs=[LOGITS, LABELS, CALIB_INFO],
            outputs=[
                "phase2/thresholds.json",
                "phase2/thresholds_metrics.csv",
                "phase2/pr_curve.png",
                "phase2/roc_curve.png",
            ],
            version="1",
        )
    )


@hookimpl
def register_models(register: ModelRegister) -> None:
    register("classifier.tiny_cnn", "framework_classifier.backbones.tiny:build")
    register("classifier.dinov3_vits16", "framework_classifier.backbones.dinov3:build")
    register("classifier.efficientnet_lite0", "framework_classifier.backbones.efficientnet:build")
