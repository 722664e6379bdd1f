"""Bundles by name: the pretrained model shipped inside this package, or a bundle file.

``--bundle pretrained`` names ``framework_ptycho/pretrained/pretrained.zip`` (package
data, written by ``plugins/ptycho/scripts/train_pretrained.py``); any other value is a
path to a bundle that ``ptycho.train`` wrote. `check_serves` refuses data the bundle
cannot serve, with one line that says why. `load_network`, `network_alone` and `refined`
run a bundle on a scan outside a step, as ``ptycho.reconstruct`` does (the benches and
the training scripts).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from framework import UsageError

SHIPPED = {"pretrained": "pretrained.zip"}
# How far outside its training range a probe's radius may be and still be served.
RADIUS_MARGIN = 0.15
WITHOUT_NETWORK = "reconstruct without a network: --bundle none --refine-engine builtin-lsqml"


def bundle_path(name: str, option: str = "--bundle", none: str = "no network") -> Path:
    """The file a `--bundle` value names (a shipped name or a path); `option` and what
    its `none` means word the error for another option taking the same values."""
    if name in SHIPPED:
        from importlib.resources import files

        path = Path(str(files("framework_ptycho") / "pretrained" / SHIPPED[name]))
        if not path.is_file():
            raise UsageError(
                f"the shipped bundle {name!r} is missing from this installation ({path})",
                hint="reinstall framework-ptycho",
            )
        return path
    path = Path(name)
    if not path.is_file():
        shipped = ", ".join(SHIPPED)
        raise UsageError(
            f"{option} {name}: no such file and no shipped bundle of that name",
            hint=f"use one of: {shipped}, the path of a model/bundle.zip, or none ({none})",
        )
    return path


def named_bundle(name: str, option: str = "--bundle", none: str = "no network") -> Any:
    """The bundle an option names, loaded; a file that fails its checks is the user's
    mistake, so it is one UsageError line like a name that does not exist."""
    from framework import ArtifactError

    from framework_ptycho.bundle import load_bundle

    try:
        return load_bundle(bundle_path(name, option, none))
    except ArtifactError as exc:
        raise UsageError(exc.message, hint=exc.hint) from None


def check_serves(bundle: Any, data: Any, where: str) -> None:
    """Refuse data whose N or probe the bundle was not trained for (UsageError)."""
    from framework_ptycho.corpus import probe_radius

    if data.n != bundle.n:
        raise UsageError(
            f"{where}: patterns are {data.n}x{data.n}, but the bundle serves {bundle.n}x{bundle.n}",
            hint=f"crop or bin the patterns to {bundle.n}x{bundle.n}, use a bundle trained for "
            f"N = {data.n}, or {WITHOUT_NETWORK}",
        )
    if bundle.gridsize**2 > len(data):
        raise UsageError(
            f"{where}: {len(data)} patterns, fewer than a group of {bundle.gridsize**2}",
            hint=WITHOUT_NETWORK,
        )
    ranges = bundle.extra.get("training.json", {}).get("ranges", {})
    if "probe_radius" in ranges:
        lo, hi = ranges["probe_radius"]
        radius = probe_radius(data.probe)
        if not (lo * (1 - RADIUS_MARGIN) <= radius <= hi * (1 + RADIUS_MARGIN)):
            raise UsageError(
                f"{where}: the probe's radius is {radius:.3f} N, outside what the bundle "
                f"was trained for ({lo:.2f} to {hi:.2f} N)",
                hint="use a bundle trained on such probes (train one with ptycho.train), or "
                + WITHOUT_NETWORK,
            )
    if not np.isfinite(data.probe).all() or not np.abs(data.probe).max() > 0:
        raise UsageError(f"{where}: 'probeGuess' is zero or not finite")


def load_network(name: str, device: str) -> tuple[Any, Any]:
    """The bundle `name` (a shipped name or a file) and its network on `device`."""
    from framework_ptycho import inference
    from framework_ptycho.bundle import load_bundle
    from framework_ptycho.model import build

    class Models:  # the registry `load_model` asks; a bundle names the plugin's model
        @staticmethod
        def build(name: str, **kwargs: Any) -> Any:
            return build(**kwargs)

    bundle = load_bundle(bundle_path(name))
    return bundle, inference.load_model(Models, bundle, np.ones((64, 64), np.complex64), device)


def network_alone(
    model: Any,
    gridsize: int,
    data: Any,
    size: int,
    device: str,
    groups: Literal["all", "cover"] = "all",
) -> Any:
    """The network on one scan with the scan's probe, stitched (`inference.reconstruct`'s
    result), as ``ptycho.reconstruct`` runs it with its default options: `groups` "all"
    for the network alone, "cover" before a refinement."""
    import torch

    from framework_ptycho import inference
    from framework_ptycho.config import InferConfig
    from framework_ptycho.dataset import intensity_scale
    from framework_ptycho.forward import normalized_probe

    with torch.no_grad():
        model.probe.copy_(normalized_probe(torch.from_numpy(data.probe)).to(device))
    options = InferConfig(inference_groups=groups)
    index = inference.choose_groups(data, gridsize, options, 0)
    return inference.reconstruct(
        model,
        data,
        index,
        size=size,
        intensity_scale=intensity_scale(data.diffraction),
        options=options,
        device=device,
    )


def refined(model: Any, gridsize: int, data: Any, size: int, device: str = "cpu") -> np.ndarray:
    """The network, then builtin-lsqml for REFINE_ITERATIONS passes from the network's
    amplitude: ``ptycho.reconstruct --refine-engine builtin-lsqml --refine-iterations 40``
    (the default passes at 1e4 photons), the refinement the denoiser was trained after."""
    from framework_ptycho import engines
    from framework_ptycho.config import REFINE_ITERATIONS

    pinn = network_alone(model, gridsize, data, size, device)
    problem = engines.Problem(data.diffraction, data.probe, data.xcoords, data.ycoords, size)
    start = engines.start_from(problem, pinn.obj, pinn.coverage, "amplitude")
    obj, _ = engines.run(
        "builtin-lsqml", problem, iterations=REFINE_ITERATIONS, init=start, device=device
    )
    return obj
