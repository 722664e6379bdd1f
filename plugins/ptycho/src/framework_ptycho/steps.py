"""Step callables: simulate (or import) -> train -> infer, epie -> evaluate.

Each receives a framework StepContext and writes only through it (atomic outputs).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import numpy as np
from framework import ArtifactError, UsageError

from framework_ptycho.dataset import PtychoData, load_npz, save_npz

TRAIN_FILE, TEST_FILE, TRUTH_FILE = "data/train.npz", "data/test.npz", "data/ground_truth.npz"
BUNDLE = "model/bundle.zip"


def _record_splits(ctx: Any, train: PtychoData, test: PtychoData) -> None:
    ctx.splits.record(
        {
            "TRAIN": [f"train:{i}" for i in range(len(train))],
            "TEST": [f"test:{i}" for i in range(len(test))],
        }
    )


def _write_npz(ctx: Any, rel: str, data: PtychoData) -> None:
    with ctx.output(rel) as tmp:
        save_npz(tmp, data)


def _user_data(ctx: Any) -> tuple[PtychoData, PtychoData, np.ndarray | None]:
    cfg = ctx.config
    if cfg.train_data_file is None or cfg.test_data_file is None:
        ctx.fail("give both --train-data-file and --test-data-file (or neither, to simulate)")
    try:
        train, test = load_npz(cfg.train_data_file), load_npz(cfg.test_data_file)
    except ArtifactError as exc:  # the user's own file: a usage mistake, not a broken run
        raise UsageError(exc.message, hint=exc.hint) from None
    if train.n != test.n:
        ctx.fail(f"train patterns are {train.n}x{train.n} but test patterns {test.n}x{test.n}")
    truth = test.obj if test.obj is not None else train.obj
    return train, test, truth


def simulate(ctx: Any) -> None:
    """Simulate a dataset (or validate the user's files) into data/*.npz."""
    from framework_ptycho.simulate import simulate as make

    cfg = ctx.config
    if cfg.train_data_file is not None or cfg.test_data_file is not None:
        if cfg.train_objects > 1:
            ctx.fail("--train-objects adds simulated objects; drop it when giving data files")
        train, test, truth = _user_data(ctx)
        source = "user files"
    else:
        if cfg.object_size < 2 * cfg.n:
            ctx.fail(f"--object-size {cfg.object_size} must be at least 2 x N = {2 * cfg.n}")
        train, test, truth = make(
            n=cfg.n,
            object_size=cfg.object_size,
            object_kind=cfg.object_kind,
            overlap=cfg.overlap,
            probe_radius=cfg.probe_radius * cfg.n,
            probe_defocus=cfg.probe_defocus,
            scan=cfg.scan,
            nphotons=cfg.nphotons,
            test_fraction=cfg.test_fraction,
            seed=ctx.execution.seed,
            train_objects=cfg.train_objects,
        )
        source = "simulated"
    if len(train) < 2 or len(test) < 1:
        ctx.fail(
            f"too few patterns ({len(train)} train, {len(test)} test): lower --overlap's step or enlarge --object-size"
        )
    _record_splits(ctx, train, test)
    _write_npz(ctx, TRAIN_FILE, train)
    _write_npz(ctx, TEST_FILE, test)
    with ctx.output(TRUTH_FILE) as tmp, open(tmp, "wb") as fh:
        has = truth is not None
        np.savez(
            fh, object=truth if has else np.zeros((0, 0), np.complex64), has_object=np.array(has)
        )
    ctx.log_metrics(train_patterns=len(train), test_patterns=len(test), n=train.n)
    ctx.event("data_ready", source=source, train=len(train), test=len(test))


# -- train ----------------------------------------------------------------------------


def _autocast(ctx: Any, device: str) -> Any:
    import functools

    import torch
    from framework import autocast_dtype

    dtype = autocast_dtype(ctx.execution)
    if dtype is None:
        return None
    return functools.partial(torch.autocast, device_type=device.split(":")[0], dtype=dtype)


def _state(model: Any) -> dict[str, Any]:
    """Plain contiguous CPU copies (the model trains channels-last; files hold the usual layout)."""
    import torch

    return {
        k: v.detach().cpu().contiguous(memory_format=torch.contiguous_format).clone()
        for k, v in model.state_dict().items()
    }


class Checkpoints:
    """``checkpoints/last.safetensors`` every epoch; the top-k by val loss kept as best-*."""

    def __init__(self, ctx: Any, top_k: int) -> None:
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


def _train_groups(ctx: Any, data: PtychoData, scale: float) -> tuple[Any, Any]:
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


def train(ctx: Any) -> None:
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
        autocast=_autocast(ctx, device),
        rank=ctx.rank,
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


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if hasattr(v, "__fspath__") else v) for k, v in values.items()}


# -- reconstruction -------------------------------------------------------------------


def _test_data(ctx: Any) -> tuple[PtychoData, int]:
    test = ctx.splits.read("TEST", load_npz, ctx.input(TEST_FILE))
    ctx.splits.record({"TEST": [f"test:{i}" for i in range(len(test))]})
    with np.load(ctx.input(TRUTH_FILE), allow_pickle=False) as truth:
        obj = truth["object"]
    size = (
        obj.shape[0]
        if obj.size
        else int(np.ceil(max(test.xcoords.max(), test.ycoords.max()))) + test.n
    )
    return test, size


def _write_reconstruction(
    ctx: Any, folder: str, obj: np.ndarray, test: PtychoData, seconds: float, **extra: Any
) -> None:
    from framework_ptycho.plots import save_image

    prefix = f"{folder}/" if folder else ""
    with ctx.output(f"{prefix}reconstruction.npz") as tmp, open(tmp, "wb") as fh:
        np.savez(
            fh,
            object=obj.astype(np.complex64),
            xcoords=test.xcoords,
            ycoords=test.ycoords,
            seconds=np.float64(seconds),
            **extra,
        )
    with ctx.output(f"{prefix}reconstructed_amplitude.png") as tmp:
        save_image(tmp, np.abs(obj), "amplitude", "gray")
    with ctx.output(f"{prefix}reconstructed_phase.png") as tmp:
        save_image(tmp, np.angle(obj), "phase", "twilight")


def restore_config(ctx: Any, bundle: Any) -> dict[str, Any]:
    """The train config from the bundle, bridged again; it must give the stored params."""
    from framework_ptycho.bridge import to_params, with_data
    from framework_ptycho.config import TrainConfig

    try:
        restored = TrainConfig(**bundle.train_config)
    except TypeError as exc:
        ctx.fail(f"the bundle's train config does not fit this plugin version: {exc}")
    params = with_data(to_params(restored), bundle.n, bundle.intensity_scale)
    if params != bundle.legacy_params:
        ctx.fail("the bundle's legacy params disagree with its train config (bundle edited?)")
    ctx.event("bridge_restored", bridge="params", keys=sorted(params))
    return params


def infer(ctx: Any) -> None:
    """Reconstruct the test data with the trained bundle and stitch the full object."""
    import torch
    from framework import autocast_dtype

    from framework_ptycho.bundle import load_bundle
    from framework_ptycho.forward import PhysicsModel
    from framework_ptycho.grouping import cover_groups, make_groups
    from framework_ptycho.physics import stitch

    cfg = ctx.config
    bundle = load_bundle(ctx.input(BUNDLE))
    restore_config(ctx, bundle)
    test, size = _test_data(ctx)
    if test.n != bundle.n:
        ctx.fail(
            f"test patterns are {test.n}x{test.n} but the model was trained on {bundle.n}x{bundle.n}"
        )
    c = bundle.gridsize**2
    net = ctx.models.build(
        bundle.train_config["model"],
        channels=c,
        n_filters_scale=bundle.train_config["n_filters_scale"],
    )
    model = PhysicsModel(net, torch.from_numpy(test.probe))
    model.load_state_dict(bundle.state_dict)
    device = ctx.device
    # Channels-last: the same numbers (to 1e-6), and the convolutions run about 2.4x as
    # fast on CPU (oneDNN); it is also the layout GPU tensor cores want.
    model.to(device, memory_format=torch.channels_last).eval()
    if c > 1 and cfg.inference_groups == "cover":
        index, _ = cover_groups(test.xcoords, test.ycoords, bundle.gridsize, cfg.k_neighbours)
    else:
        index, _ = make_groups(
            test.xcoords,
            test.ycoords,
            bundle.gridsize,
            cfg.k_neighbours,
            len(test) if c > 1 else None,
            np.random.default_rng(ctx.execution.seed),
        )
    flat = torch.from_numpy(index.reshape(-1))
    # A pattern predicted in several groups is stitched once, as the sum of its
    # predictions counted that many times: the same object, fewer patches to place.
    counts = torch.bincount(flat, minlength=len(test)).to(torch.float32)
    seen = counts > 0
    xs, ys = torch.from_numpy(test.xcoords)[seen], torch.from_numpy(test.ycoords)[seen]
    measured = torch.from_numpy(test.diffraction * bundle.intensity_scale)[:, None]
    autocast = _autocast(ctx, device)
    dtype = autocast_dtype(ctx.execution) or torch.float32
    groups, n = torch.from_numpy(index), test.n

    def reconstruct() -> tuple[torch.Tensor, torch.Tensor]:
        """Diffraction to stitched object: everything a new dataset costs."""
        patches = []
        with torch.inference_mode(), autocast() if autocast else contextlib.nullcontext():
            # The network's input, once per pattern (it is per pattern), kept as
            # (P, N, N, 3) in the compute dtype; per group one gather and one copy give
            # (G, 3C, N, N) in channels-last memory, all amplitudes first as in training.
            per_pattern = model.features(measured.to(device))
            per_pattern = per_pattern.to(dtype).permute(0, 2, 3, 1).contiguous()
            for start in range(0, len(index), cfg.inference_batch_size):
                batch = per_pattern[groups[start : start + cfg.inference_batch_size].to(device)]
                batch = batch.permute(0, 2, 3, 4, 1).reshape(len(batch), n, n, -1)
                amp, phase = model.net(batch.permute(0, 3, 1, 2))
                patches.append(torch.polar(amp.float(), phase.float()).cpu())
            if device.startswith("cuda"):
                torch.cuda.synchronize()
        summed = torch.zeros(len(test), test.n // 2, test.n // 2, dtype=torch.complex64)
        summed.index_add_(0, flat, torch.cat(patches).flatten(0, 1))
        return stitch(summed[seen], xs, ys, size, weights=counts[seen], align_phase=cfg.align_phase)

    # The first pass pays for one-off set-up (allocator, kernel selection); the second is
    # what reconstructing the next dataset with a trained network costs. Both recorded.
    started = time.perf_counter()
    reconstruct()
    cold = time.perf_counter() - started
    started = time.perf_counter()
    obj, cover = reconstruct()
    seconds = time.perf_counter() - started
    _write_reconstruction(ctx, "", obj.numpy(), test, seconds, coverage=cover.numpy())
    ctx.log_metrics(
        inference_seconds=seconds,
        inference_cold_seconds=cold,
        patterns=len(test),
        groups=len(index),
    )


def epie(ctx: Any) -> None:
    """The iterative baseline on the same test data (object starts as ones, known probe)."""
    cfg = ctx.config
    test, size = _test_data(ctx)
    problem = (test.diffraction, test.probe, test.xcoords, test.ycoords, size)
    started = time.perf_counter()
    if cfg.engine.startswith("builtin"):
        from framework_ptycho.epie import reconstruct

        obj, errors = reconstruct(
            *problem,
            iterations=cfg.iterations,
            step_size=cfg.step_size,
            variant=cfg.engine.removeprefix("builtin-"),
            seed=ctx.execution.seed,
            on_iteration=lambda it, err: ctx.log_metrics(step=it, fourier_error=err),
        )
    else:
        from framework_ptycho import ptychi_engine

        # Its log lines (about padding and position centring, harmless here) go to
        # events.jsonl as `engine_message`, not to the terminal.
        with ptychi_engine.messages_to(
            lambda level, text: ctx.event("engine_message", level=level, text=text)
        ):
            obj = ptychi_engine.reconstruct(
                cfg.engine,
                *problem,
                iterations=cfg.iterations,
                device=ctx.device,
                seed=ctx.execution.seed,
            )
        errors = []
    seconds = time.perf_counter() - started
    _write_reconstruction(
        ctx,
        "epie",
        obj,
        test,
        seconds,
        fourier_error=np.asarray(errors, np.float64),
        engine=np.array(cfg.engine),
    )
    ctx.log_metrics(reconstruction_seconds=seconds, engine=cfg.engine)


def evaluate(ctx: Any) -> None:
    """Metrics of the PINN and the baseline side by side, and a comparison figure."""
    from framework_ptycho.metrics import align, scanned_box, score
    from framework_ptycho.plots import save_comparison

    with np.load(ctx.input(TRUTH_FILE), allow_pickle=False) as truth_file:
        if not bool(truth_file["has_object"]):
            ctx.fail("no ground-truth object to compare with: give a test file with 'objectGuess'")
        truth = truth_file["object"]
    test = ctx.splits.read("TEST", load_npz, ctx.input(TEST_FILE))
    box = scanned_box(test.xcoords, test.ycoords, test.n, truth.shape[0])
    results: dict[str, Any] = {
        "region": {"rows": [box[0].start, box[0].stop], "cols": [box[1].start, box[1].stop]}
    }
    panels = {"truth": truth[box]}
    for name, rel in (("pinn", "reconstruction.npz"), ("baseline", "epie/reconstruction.npz")):
        with np.load(ctx.input(rel), allow_pickle=False) as rec:
            obj, seconds = rec["object"], float(rec["seconds"])
            engine = str(rec["engine"]) if "engine" in rec.files else "pinn"
        results[name] = {
            **score(truth, obj, box, ctx.config.frc_threshold),
            "seconds": seconds,
            "engine": engine,
        }
        panels[name] = align(truth, obj, box)[1]
    results["speedup"] = results["baseline"]["seconds"] / max(results["pinn"]["seconds"], 1e-9)
    ctx.write_json("metrics.json", results)
    with ctx.output("comparison.png") as tmp:
        save_comparison(tmp, panels)
    ctx.log_metrics(
        pinn_amp_ssim=results["pinn"]["amplitude"]["ssim"],
        baseline_amp_ssim=results["baseline"]["amplitude"]["ssim"],
        speedup=results["speedup"],
    )
