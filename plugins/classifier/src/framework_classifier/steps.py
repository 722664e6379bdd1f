"""The three step callables; each receives a framework.StepContext."""

from __future__ import annotations

import csv
import hashlib
import io
from typing import Any

import numpy as np
import torch
from framework import ArtifactError, StepContext, UnreadableFileError, UsageError, torch_load

from framework_classifier import checkpoint, data, plots, sweep
from framework_classifier.config import BackboneConfig, ExportConfig, SweepConfig, TrainConfig
from framework_classifier.features import backbone_name, build_backbone, extract
from framework_classifier.heads import build_head
from framework_classifier.plugin import (
    CALIB_INFO,
    CHECKPOINT,
    CHECKPOINT_SAFETENSORS,
    LABELS,
    LOGITS,
)
from framework_classifier.training import EpochRecord, fit

HEADLINE = ("threshold", "probability", "precision", "recall", "f1", "fpr", "auroc", "support")
CSV_COLUMNS = (
    "class", "threshold", "probability", "tp", "fp", "predicted_positive",
    "precision", "recall", "f1", "fpr", "tpr", "accuracy", "support",
)  # fmt: skip


def _features(
    ctx: StepContext[BackboneConfig], backbone: torch.nn.Module, split: data.Split
) -> torch.Tensor:
    return extract(
        backbone, split.images, ctx.config.batch_size, ctx, description=f"features {split.name}"
    )


# -- classifier.train_baseline_head -----------------------------------------------------


def train_baseline_head(ctx: StepContext[TrainConfig]) -> None:
    """Features of TRAIN and VAL computed once, then `epochs` passes of the head over them."""
    cfg = ctx.config
    data.check_settings(cfg)
    backbone = build_backbone(ctx)
    splits = data.prepare(ctx, backbone.input_size)
    train, val = splits.read("TRAIN"), splits.read("VAL")
    train_x, val_x = _features(ctx, backbone, train), _features(ctx, backbone, val)
    head = build_head(cfg.head, train_x.shape[1], len(splits.task.output_names), ctx.execution.seed)

    def log(r: EpochRecord) -> None:
        ctx.log_metrics(
            step=r.epoch, train_loss=r.train_loss, val_loss=r.val_loss, val_auroc=r.val_auroc
        )

    result = fit(
        head,
        (train_x, torch.from_numpy(train.targets)),
        (val_x, torch.from_numpy(val.targets)),
        epochs=cfg.epochs,
        learning_rate=cfg.learning_rate,
        batch_size=cfg.batch_size,
        seed=ctx.execution.seed,
        on_epoch=log,
        track=lambda epochs: ctx.progress(epochs, description="head", unit="epoch"),
    )
    ctx.log_metrics(best_epoch=result.best.epoch, best_val_auroc=result.best.val_auroc)
    meta = {
        "backbone": backbone_name(ctx, cfg.backbone),
        "backbone_weights": backbone.weights_source,
        "image_size": int(backbone.input_size),
        "head": cfg.head,
        "in_features": int(train_x.shape[1]),
        "task": splits.task.kind,
        "outputs": splits.task.output_names,
        "positive_class": splits.task.positive_class,
        "best_epoch": result.best.epoch,
        "val_auroc": None if np.isnan(result.best.val_auroc) else result.best.val_auroc,
    }
    checkpoint.save(ctx, CHECKPOINT, CHECKPOINT_SAFETENSORS, result.best_state, meta)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["epoch", "train_loss", "val_loss", "val_auroc"])
    for r in result.history:
        writer.writerow([r.epoch, f"{r.train_loss:.8g}", f"{r.val_loss:.8g}", f"{r.val_auroc:.8g}"])
    ctx.write_text("phase1/train_history.csv", out.getvalue())


# -- classifier.export_calib_logits ------------------------------------------------------


def load_head(ctx: StepContext[ExportConfig], path: Any) -> tuple[torch.nn.Module, dict]:
    """The trained head of a checkpoint, checked against this step's backbone setting."""
    state, meta = checkpoint.load(path)
    cfg = ctx.config
    if meta["backbone"] != backbone_name(ctx, cfg.backbone):
        raise UsageError(
            f"checkpoint {path} was trained on backbone {meta['backbone']}, not {cfg.backbone}",
            hint="give both steps the same --backbone",
        )
    head = build_head(meta["head"], meta["in_features"], len(meta["outputs"]), 0)
    try:
        head.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ArtifactError(f"checkpoint {path} does not fit its head: {exc}") from None
    return head.eval(), meta


def export_calib_logits(ctx: StepContext[ExportConfig]) -> None:
    """Logits of the best head on VAL_CALIB, the only split this step reads."""
    path = ctx.input(CHECKPOINT)
    head, meta = load_head(ctx, path)
    data.check_settings(ctx.config)
    backbone = build_backbone(ctx)
    trained_on = (meta["backbone_weights"], meta["image_size"])
    if trained_on != (backbone.weights_source, backbone.input_size):
        raise UsageError(
            f"checkpoint {path} was trained on features of {trained_on[0]} at {trained_on[1]} px, "
            f"this step computes them with {backbone.weights_source} at {backbone.input_size} px",
            hint="give both steps the same --backbone-weights and --image-size",
        )
    splits = data.prepare(ctx, backbone.input_size)
    if splits.task.output_names != meta["outputs"]:
        raise UsageError(
            f"checkpoint {path} predicts {meta['outputs']}, this data has {splits.task.output_names}",
            hint="give both steps the same data settings",
        )
    calib = splits.read("VAL_CALIB")
    with torch.no_grad():
        logits = head(_features(ctx, backbone, calib))
    with ctx.output(LOGITS) as tmp:
        torch.save(logits.contiguous(), tmp)
    with ctx.output(LABELS) as tmp:
        torch.save(torch.from_numpy(calib.targets).to(torch.int64), tmp)
    ctx.write_json(
        CALIB_INFO,
        {
            "split": "VAL_CALIB",
            "count": len(calib.ids),
            "sample_ids": calib.ids,
            "task": meta["task"],
            "outputs": meta["outputs"],
            "positive_class": meta["positive_class"],
            "backbone": meta["backbone"],
            "checkpoint_sha256": _sha256(path.read_bytes()),
        },
    )
    ctx.log_metrics(count=len(calib.ids))


# -- classifier.sweep_thresholds -------------------------------------------------------


def _sha256(blob: bytes) -> str:
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def _load_tensor(ctx: StepContext[object], rel: str) -> np.ndarray:
    path = ctx.input(rel)
    try:
        tensor = torch_load(path)
    except UnreadableFileError as exc:
        raise ArtifactError(str(exc)) from None
    if not isinstance(tensor, torch.Tensor) or tensor.ndim != 2:
        raise ArtifactError(f"{path} must hold a 2-D tensor (samples x outputs)")
    return tensor.numpy()


def _metrics_row(name: str, c: sweep.Curve, i: int) -> dict[str, Any]:
    return {
        "threshold": float(c.thresholds[i]),
        "probability": float(sweep.sigmoid(c.thresholds[i])),
        "precision": float(c.precision[i]),
        "recall": float(c.recall[i]),
        "f1": float(c.f1[i]),
        "fpr": float(c.fpr[i]),
        "tpr": float(c.tpr[i]),
        "accuracy": float(c.accuracy[i]),
        "tp": int(c.tp[i]),
        "fp": int(c.fp[i]),
        "support": c.positives,
        "n": c.n,
    }


def _csv(curves: dict[str, sweep.Curve]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for name, c in curves.items():
        columns = [
            c.thresholds, sweep.sigmoid(c.thresholds), c.tp, c.fp, c.predicted_positive,
            c.precision, c.recall, c.f1, c.fpr, c.tpr, c.accuracy,
        ]  # fmt: skip
        for values in zip(*columns, strict=True):
            writer.writerow([name, *(f"{v:.10g}" for v in values), c.positives])
    return out.getvalue()


def sweep_thresholds(ctx: StepContext[SweepConfig]) -> None:
    """One threshold per output from the VAL_CALIB logits; reads no data split."""
    cfg = ctx.config
    logits, labels = _load_tensor(ctx, LOGITS), _load_tensor(ctx, LABELS)
    info = ctx.read_json(CALIB_INFO)
    names = info["outputs"]
    if logits.shape != labels.shape or logits.shape[1] != len(names):
        raise ArtifactError(
            f"logits {logits.shape}, labels {labels.shape} and outputs {names} do not agree",
            hint="re-run classifier.export_calib_logits",
        )
    curves, chosen, aucs = {}, {}, {}
    for k, name in enumerate(names):
        try:
            curves[name] = sweep.curve(logits[:, k], labels[:, k])
            chosen[name] = sweep.choose(curves[name], cfg.objective, cfg.target)
        except sweep.SweepError as exc:
            ctx.fail(f"class {name}: {exc}")
        aucs[name] = sweep.roc_auc(logits[:, k], labels[:, k])
    per_class = {
        name: {**_metrics_row(name, c, chosen[name]), "auroc": aucs[name]}
        for name, c in curves.items()
    }
    inputs = {rel: _sha256(ctx.input(rel).read_bytes()) for rel in (LOGITS, LABELS)}
    result = {
        "objective": cfg.objective,
        "target": cfg.target if cfg.objective.startswith("min-") else None,
        "task": info["task"],
        "score": "logit",
        "rule": "positive when logit >= threshold (probability = sigmoid(threshold))",
        "split": info["split"],
        "classes": per_class,
        "data_hash": _sha256("".join(inputs.values()).encode()),
        "inputs": inputs,
    }
    if info["task"] == "binary":
        result["positive_class"] = info["positive_class"]
        result["threshold"] = per_class[names[0]]["threshold"]
    ctx.write_json("phase2/thresholds.json", result)
    ctx.write_text("phase2/thresholds_metrics.csv", _csv(curves))
    with ctx.output("phase2/pr_curve.png") as tmp:
        plots.pr_curve(tmp, curves, chosen)
    with ctx.output("phase2/roc_curve.png") as tmp:
        plots.roc_curve(tmp, curves, chosen, aucs)
    _show_headline(ctx, per_class, ["phase2/pr_curve.png", "phase2/roc_curve.png"])
    for name, row in per_class.items():
        ctx.log_metrics(
            **{f"{name}_{k}": row[k] for k in ("threshold", "f1", "precision", "recall")}
        )


def _show_headline(
    ctx: StepContext[SweepConfig], per_class: dict[str, dict[str, Any]], figures: list[Any]
) -> None:
    """The chosen threshold of each class and its metrics, then where the figures are."""
    cfg = ctx.config
    goal = f"{cfg.objective} {cfg.target}" if cfg.objective.startswith("min-") else cfg.objective
    ctx.table(
        [{"class": name, **{k: row[k] for k in HEADLINE}} for name, row in per_class.items()],
        title=f"thresholds chosen on VAL_CALIB ({goal})",
    )
    ctx.print("figures: " + ", ".join(str(ctx.run_dir / rel) for rel in figures))
