"""What several steps share: the run's file names, the test data, reconstruction output."""

from __future__ import annotations

from typing import Any

import numpy as np
from framework import StepContext

from framework_ptycho.dataset import PtychoData, load_npz, object_side, save_npz

TRAIN_FILE, TEST_FILE, TRUTH_FILE = "data/train.npz", "data/test.npz", "data/ground_truth.npz"
BUNDLE = "model/bundle.zip"


def record_splits(ctx: StepContext[Any], train: PtychoData, test: PtychoData) -> None:
    ctx.splits.record(
        {
            "TRAIN": [f"train:{i}" for i in range(len(train))],
            "TEST": [f"test:{i}" for i in range(len(test))],
        }
    )


def write_npz(ctx: StepContext[Any], rel: str, data: PtychoData) -> None:
    with ctx.output(rel) as tmp:
        save_npz(tmp, data)


def autocast_for(ctx: StepContext[Any], device: str) -> Any:
    import functools

    import torch
    from framework import autocast_dtype

    dtype = autocast_dtype(ctx.execution)
    if dtype is None:
        return None
    return functools.partial(torch.autocast, device_type=device.split(":")[0], dtype=dtype)


def network_pass(
    ctx: StepContext[Any],
    bundle: Any,
    data: PtychoData,
    size: int,
    intensity_scale: float,
    options: Any = None,
) -> Any:
    """The bundle's network on `data`'s patterns, stitched into a (size, size) object on
    the run's device and precision (`inference.reconstruct`'s result); `options` (the
    inference fields) default to the step's config."""
    import torch
    from framework import autocast_dtype

    from framework_ptycho import inference

    cfg, device = options or ctx.config, ctx.device
    model = inference.load_model(ctx.models, bundle, data.probe, device)
    index = inference.choose_groups(data, bundle.gridsize, cfg, ctx.execution.seed)
    return inference.reconstruct(
        model,
        data,
        index,
        size=size,
        intensity_scale=intensity_scale,
        options=cfg,
        device=device,
        autocast=autocast_for(ctx, device),
        dtype=autocast_dtype(ctx.execution) or torch.float32,
    )


def load_test(ctx: StepContext[Any]) -> tuple[PtychoData, int]:
    test = ctx.splits.read("TEST", load_npz, ctx.input(TEST_FILE))
    ctx.splits.record({"TEST": [f"test:{i}" for i in range(len(test))]})
    with np.load(ctx.input(TRUTH_FILE), allow_pickle=False) as truth:
        obj = truth["object"]
    size = obj.shape[0] if obj.size else object_side(test)
    return test, size


def write_reconstruction(
    ctx: StepContext[Any],
    folder: str,
    obj: np.ndarray,
    test: PtychoData,
    seconds: float,
    **extra: Any,
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
