"""ptycho.infer: the trained bundle on the TEST patterns, stitched into the object."""

from __future__ import annotations

from typing import Any

from framework import StepContext

from framework_ptycho.config import InferConfig
from framework_ptycho.steps.common import BUNDLE, load_test, network_pass, write_reconstruction


def restore_config(ctx: StepContext[Any], bundle: Any) -> dict[str, Any]:
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


def infer(ctx: StepContext[InferConfig]) -> None:
    """Reconstruct the test data with the trained bundle and stitch the full object."""
    from framework_ptycho.bundle import load_bundle

    bundle = load_bundle(ctx.input(BUNDLE))
    restore_config(ctx, bundle)
    test, size = load_test(ctx)
    if test.n != bundle.n:
        ctx.fail(
            f"test patterns are {test.n}x{test.n} but the model was trained on {bundle.n}x{bundle.n}"
        )
    result = network_pass(ctx, bundle, test, size, bundle.intensity_scale)
    write_reconstruction(ctx, "", result.obj, test, result.seconds, coverage=result.coverage)
    ctx.log_metrics(
        inference_seconds=result.seconds,
        inference_cold_seconds=result.cold_seconds,
        patterns=len(test),
        groups=result.groups,
    )
