"""Step callables: each receives a framework.StepContext and writes through it."""

from __future__ import annotations

import csv
import io

from framework import StepContext

from framework_hello.config import DataConfig, EvaluateConfig, TrainConfig
from framework_hello.data import make_points

Point = tuple[str, float, float]  # (sample id, x, y)


def _data(ctx: StepContext[DataConfig], split: str) -> list[Point]:
    cfg = ctx.config
    splits = make_points(cfg.n_samples, cfg.noise, ctx.execution.seed)
    ctx.splits.record({name: [pid for pid, _, _ in rows] for name, rows in splits.items()})
    return ctx.splits.read(split, lambda: splits[split])


def train(ctx: StepContext[TrainConfig]) -> None:
    cfg = ctx.config
    rows = _data(ctx, "TRAIN")
    xs = [x for _, x, _ in rows]
    ys = [y for _, _, y in rows]
    model = ctx.models.build(cfg.model)
    losses = []
    for epoch in ctx.progress(range(cfg.epochs), total=cfg.epochs, description="fitting"):
        loss = model.step(xs, ys, cfg.learning_rate)
        losses.append(loss)
        if epoch % 10 == 0 or epoch == cfg.epochs - 1:
            ctx.log_metrics(step=epoch, loss=loss)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["epoch", "loss"])
    writer.writerows((i, f"{loss:.10g}") for i, loss in enumerate(losses))
    ctx.write_text("train/loss.csv", out.getvalue())
    ctx.write_json("model/weights.json", {"model": cfg.model, "state": model.state()})


def evaluate(ctx: StepContext[EvaluateConfig]) -> None:
    saved = ctx.read_json("model/weights.json")
    model = ctx.models.build(saved["model"], **saved["state"])
    rows = _data(ctx, "TEST")
    errors = [model.predict(x) - y for _, x, y in rows]
    mse = sum(e * e for e in errors) / len(errors)
    metrics = {
        "mse": mse,
        "mae": sum(abs(e) for e in errors) / len(errors),
        "n": len(errors),
        **saved["state"],
    }
    ctx.log_metrics(**metrics)
    ctx.write_json("metrics.json", metrics)
