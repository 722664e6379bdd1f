"""ptycho.train: fit the PINN on data/train.npz; the bundle, checkpoints and history."""

from __future__ import annotations

from typing import Any

import numpy as np
from framework import StepContext

from framework_ptycho.config import TrainConfig
from framework_ptycho.dataset import PtychoData, load_npz
from framework_ptycho.steps.common import BUNDLE, TRAIN_FILE, autocast_for


def _state(model: Any) -> dict[str, Any]:
    """Plain contiguous CPU copies (the model trains channels-last; files hold the usual layout)."""
    import torch

    return {
        k: v.detach().cpu().contiguous(memory_format=torch.contiguous_format).clone()
        for k, v in model.state_dict().items()
    }


class Checkpoints:
    """``checkpoints/last.safetensors`` every epoch; the top-k by val loss kept as best-*."""

    def __init__(self, ctx: StepContext[TrainConfig], top_k: int) -> None:
        self.ctx, self.top_k = ctx, top_k
        self.best: list[tuple[float, str]] = []

    def save(self, rel: str, model: Any, epoch: int, val_loss: float) -> None:
        from safetensors.torch import save_file

        if not self.ctx.rank.is_main:  # the other ranks hold the same weights: rank 0 saves
            return
        with self.ctx.output(rel) as tmp:
            save_file(
                _state(model), str(tmp), metadata={"epoch": str(epoch), "val_loss": repr(val_loss)}
            )

    def epoch(self, result: Any, model: Any) -> bool:
        self.save("checkpoints/last.safetensors", model, result.epoch, result.val_loss)
        improved = not self.best or result.val_loss < min(v for v, _ in self.best)
        if len(self.best) < self.top_k or result.val_loss < max(v for v, _ in self.best):
            rel = f"checkpoints/best-epoch{result.epoch:03d}.safetensors"
            self.save(rel, model, result.epoch, result.val_loss)
            self.best.append((result.val_loss, rel))
            self.best.sort()
            for _, dropped in self.best[self.top_k :] if self.ctx.rank.is_main else []:
                (self.ctx.run_dir / dropped).unlink(missing_ok=True)
            self.best = self.best[: self.top_k]
        return improved


def _train_groups(ctx: StepContext[TrainConfig], data: PtychoData, scale: float) -> tuple[Any, Any]:
    from framework_ptycho.grouping import make_groups
    from framework_ptycho.training import grouped

    cfg = ctx.config
    rng = np.random.default_rng(ctx.execution.seed)
    # Validation holds out scan rows (the largest y), not random groups: neighbouring
    # groups share patterns, so a random split would score the network on the very
    # patterns, noise included, that it fits, and reward memorising them.
    is_val = data.ycoords >= np.quantile(data.ycoords, 1 - cfg.val_fraction)
    diffraction = data.diffraction * scale
    sets = []
    for rows, part in (("training rows", ~is_val), ("validation rows", is_val)):
        chosen = np.flatnonzero(part)
        share = len(chosen) / len(data)
        wanted = None if cfg.n_groups is None else max(1, round(cfg.n_groups * share))
        try:
            index, offsets = make_groups(
                data.xcoords[chosen],
                data.ycoords[chosen],
                cfg.gridsize,
                cfg.k_neighbours,
                wanted,
                rng,
            )
        except ValueError as exc:
            ctx.fail(f"{rows}: {exc} (change --val-fraction or use more patterns)")
        sets.append(grouped(diffraction, chosen[index], offsets))
    return sets[0], sets[1]


def train(ctx: StepContext[TrainConfig]) -> None:
    """Fit the PINN on data/train.npz; write the bundle, checkpoints and loss history."""
    import attrs
    import torch

    from framework_ptycho.bridge import BRIDGE_NAME, with_data
    from framework_ptycho.bundle import Bundle, save_bundle
    from framework_ptycho.dataset import intensity_scale
    from framework_ptycho.forward import PhysicsModel
    from framework_ptycho.training import fit

    cfg = ctx.config
    data = ctx.splits.read("TRAIN", load_npz, ctx.input(TRAIN_FILE))
    scale = intensity_scale(data.diffraction)
    train_set, val_set = _train_groups(ctx, data, scale)
    device = ctx.device
    net = ctx.models.build(cfg.model, channels=cfg.gridsize**2, n_filters_scale=cfg.n_filters_scale)
    model = PhysicsModel(net, torch.from_numpy(data.probe)).to(device)
    if cfg.init_bundle != "none":
        _start_from(model, cfg, data)
    checkpoints = Checkpoints(ctx, cfg.checkpoint_save_top_k)
    best: dict[str, Any] = {}

    def on_epoch(result: Any, m: Any) -> bool:
        ctx.log_metrics(
            step=result.epoch, train_loss=result.train_loss, val_loss=result.val_loss, lr=result.lr
        )
        improved = checkpoints.epoch(result, m)
        if improved:
            best.update(state=_state(m), epoch=result.epoch, val_loss=result.val_loss)
        return improved

    history = fit(
        model,
        train_set,
        val_set,
        cfg,
        device=device,
        seed=ctx.execution.seed,
        on_epoch=on_epoch,
        autocast=autocast_for(ctx, device),
        rank=ctx.rank,
        progress=lambda batches, count, epoch: ctx.progress(
            batches, total=count, description=f"train epoch {epoch + 1}/{cfg.max_epochs}"
        ),
    )
    model.load_state_dict(best["state"])
    params = with_data(ctx.legacy.get(BRIDGE_NAME, {}), data.n, scale)
    bundle = Bundle(
        train_config=_plain(attrs.asdict(cfg)),
        legacy_params=params,
        intensity_scale=scale,
        n=data.n,
        gridsize=cfg.gridsize,
        state_dict=_state(model),
    )
    with ctx.output(BUNDLE) as tmp:
        save_bundle(tmp, bundle)
    lines = ["epoch,train_loss,val_loss,lr"] + [
        f"{h.epoch},{h.train_loss:.8g},{h.val_loss:.8g},{h.lr:.3g}" for h in history
    ]
    ctx.write_text("train/history.csv", "\n".join(lines) + "\n")
    ctx.log_metrics(
        best_epoch=best["epoch"], best_val_loss=best["val_loss"], epochs_run=len(history)
    )


def _start_from(model: Any, cfg: TrainConfig, data: PtychoData) -> None:
    """Load --init-bundle's weights into `model`; the probe stays this data's own."""
    from framework import UsageError

    from framework_ptycho.pretrained import named_bundle

    bundle = named_bundle(cfg.init_bundle, "--init-bundle", "random weights")
    theirs = bundle.train_config
    shape = (bundle.n, bundle.gridsize, theirs.get("model"), theirs.get("n_filters_scale"))
    ours = (data.n, cfg.gridsize, cfg.model, cfg.n_filters_scale)
    if shape != ours:
        raise UsageError(
            f"--init-bundle {cfg.init_bundle}: its network (N, gridsize, model, width) is "
            f"{shape}, this run's is {ours}",
            hint=f"train with --gridsize {bundle.gridsize} --model {theirs.get('model')} "
            f"--n-filters-scale {theirs.get('n_filters_scale')} on {bundle.n}x{bundle.n} "
            "patterns, or --init-bundle none",
        )
    model.load_state_dict({**bundle.state_dict, "probe": model.probe})


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if hasattr(v, "__fspath__") else v) for k, v in values.items()}
