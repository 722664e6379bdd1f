"""ptycho.reconstruct: a trained bundle (the shipped pretrained one by default) on the
user's own NPZ, optionally refined by an iterative engine; no training, no simulation.

The object is in the file's object-pixel frame (``objectGuess``'s when the file has
one); each pattern is normalized by the file's own intensity scale, as the pretrained
network was trained. ``--denoise amplitude|object`` then replaces the refined amplitude
(or the whole object) over the scanned region with the shipped denoiser's
(framework_ptycho.denoise); the refined object is kept as ``refined_object``. With
``objectGuess``, metrics.json holds the aligned metrics of the network alone, of the
refined object and of the denoised one.

``--bundle none`` runs no network: the engine starts from a blank object, so a scan of
any N or probe is served (the shipped network serves N = 64 and a range of probes; on
the validation scans its start bought nothing over a blank one after 40 passes).
"""

from __future__ import annotations

import time
from typing import Any

import attrs
import numpy as np
from framework import ArtifactError, StepContext, UsageError

from framework_ptycho.config import ReconstructConfig
from framework_ptycho.dataset import framed, object_side, photons_per_pattern
from framework_ptycho.steps.common import network_pass, write_reconstruction

NO_NETWORK = "none"  # --bundle none: the engine alone, from a blank object
OUTPUTS = ["reconstruction.npz", "reconstructed_amplitude.png", "reconstructed_phase.png"]


def _load(ctx: StepContext[ReconstructConfig]) -> Any:
    from framework_ptycho.dataset import load_npz

    if ctx.config.data_file is None:
        ctx.fail("give the scan to reconstruct: --data-file scan.npz")
    try:
        return load_npz(ctx.config.data_file)
    except ArtifactError as exc:  # the user's own file: a usage mistake
        raise UsageError(exc.message, hint=exc.hint) from None


def reconstruct(ctx: StepContext[ReconstructConfig]) -> None:
    """Reconstruct --data-file with --bundle, refine if asked, score if the file has truth."""
    from framework_ptycho import engines, pretrained
    from framework_ptycho.dataset import intensity_scale
    from framework_ptycho.report import headline

    cfg = ctx.config
    if cfg.refine_engine == "none" and cfg.refine_iterations is not None:
        ctx.fail(
            f"--refine-iterations {cfg.refine_iterations} refines nothing without an engine: "
            "add --refine-engine (builtin-lsqml, ptychi-lsqml, builtin-epie, ...)"
        )
    if cfg.denoise != "none" and cfg.refine_engine == "none":
        ctx.fail(
            f"--denoise {cfg.denoise} cleans a refined image: add --refine-engine builtin-lsqml "
            "(the refinement it was trained after)"
        )
    if cfg.bundle == NO_NETWORK and cfg.refine_engine == "none":
        ctx.fail(
            "--bundle none runs no network, so an engine does all the work: add "
            "--refine-engine builtin-lsqml"
        )
    data = _load(ctx)
    where = str(cfg.data_file)
    data, shift = framed(data)
    size = data.obj.shape[0] if data.obj is not None else object_side(data)
    result = None
    if cfg.bundle != NO_NETWORK:
        bundle = pretrained.named_bundle(cfg.bundle)
        pretrained.check_serves(bundle, data, where)
        # Covering groups before a refinement: on the validation scans the refined (and
        # denoised) images matched those from a group around every pattern to 0.001 SSIM,
        # for a third of the network's time.
        groups = cfg.inference_groups
        if groups == "auto":
            groups = "all" if cfg.refine_engine == "none" else "cover"
        options = attrs.evolve(cfg, inference_groups=groups)
        scale = intensity_scale(data.diffraction)
        result = network_pass(ctx, bundle, data, size, scale, options)
    network_seconds = result.seconds if result else 0.0
    blank = np.ones((size, size), np.complex64)  # never left as is: --bundle none needs an engine
    obj, refine_seconds = (result.obj if result else blank), 0.0
    errors: list[float] = []
    refining = cfg.refine_engine != "none"  # the dose sets the passes and the denoiser's level
    photons = photons_per_pattern(data.diffraction) if refining else None
    passes = cfg.refine_iterations or engines.default_iterations(cfg.refine_engine, photons)
    if cfg.refine_engine != "none":
        problem = engines.Problem(data.diffraction, data.probe, data.xcoords, data.ycoords, size)
        start = (
            engines.start_from(problem, result.obj, result.coverage, cfg.refine_start)
            if result
            else None
        )
        device = ctx.device  # resolved (torch imported, CUDA probed) before the clock starts
        started = time.perf_counter()
        obj, errors = engines.run(
            cfg.refine_engine,
            problem,
            iterations=passes,
            init=start,
            step_size=cfg.step_size,
            ml_learning_rate=cfg.ml_learning_rate,
            device=device,
            seed=ctx.execution.seed,
            progress=lambda items, total: ctx.progress(
                items, total=total, description=f"refine {cfg.refine_engine}"
            ),
            on_iteration=lambda it, err: ctx.log_metrics(step=it, fourier_error=err),
            on_message=lambda level, text: ctx.event("engine_message", level=level, text=text),
        )
        refine_seconds = time.perf_counter() - started
    refined, denoise_seconds = obj, 0.0
    if cfg.denoise != "none":
        started = time.perf_counter()
        obj = _denoised(data, refined, size, cfg.denoise, photons)
        denoise_seconds = time.perf_counter() - started
    seconds = network_seconds + refine_seconds + denoise_seconds
    network = (
        {"pinn_object": result.obj.astype(np.complex64), "coverage": result.coverage}
        if result
        else {}
    )
    write_reconstruction(
        ctx,
        "",
        obj,
        data,
        seconds,
        **network,
        pinn_seconds=np.float64(network_seconds),
        refine_seconds=np.float64(refine_seconds),
        engine=np.array(cfg.refine_engine),
        fourier_error=np.asarray(errors, np.float64),
        **({"refined_object": refined.astype(np.complex64)} if cfg.denoise != "none" else {}),
        denoise_seconds=np.float64(denoise_seconds),
        frame_shift=shift,
    )
    named = {"pinn": (result.obj, result.seconds)} if result else {}
    refined_name = f"{cfg.refine_engine} {passes}"
    refined_name = f"pinn + {refined_name}" if result else f"{refined_name} from a blank object"
    if cfg.refine_engine != "none":
        named[refined_name] = (refined, network_seconds + refine_seconds)
    if cfg.denoise != "none":
        named[f"{refined_name} + denoised {cfg.denoise}"] = (obj, seconds)
    rows = _scores(data, named)
    ctx.write_json(
        "metrics.json",
        {"data_file": where, "bundle": cfg.bundle, "refine_engine": cfg.refine_engine, **rows},
    )
    timings: dict[str, float] = (
        {"pinn_seconds": network_seconds, "groups": result.groups} if result else {}
    )
    if cfg.refine_engine != "none":
        timings.update(refine_passes=passes)
        if photons is not None:
            timings.update(photons_per_pattern=round(photons, 1))
    timings.update(refine_seconds=refine_seconds, denoise_seconds=denoise_seconds)
    ctx.log_metrics(step=None, **timings, patterns=len(data))
    headline(
        f"ptycho.reconstruct: {len(data)} patterns, bundle {cfg.bundle}",
        rows,
        [ctx.run_dir / name for name in (*OUTPUTS, "metrics.json")],
        ctx.execution.quiet,
    )


def _denoised(
    data: Any, refined: np.ndarray, size: int, part: str, photons: float | None
) -> np.ndarray:
    """`refined` with its `part` over the scanned region denoised (the shipped prior), at
    the dose read from the data (`photons`, None when they do not tell it)."""
    from framework_ptycho import denoise
    from framework_ptycho.metrics import scanned_box

    try:
        model, _ = denoise.load()
    except ArtifactError as exc:
        raise UsageError(exc.message, hint=exc.hint) from None
    box = scanned_box(data.xcoords, data.ycoords, data.n, size)
    return denoise.denoise(model, refined, box, denoise.level_of(photons), part)


def _scores(data: Any, named: dict[str, tuple[np.ndarray, float]]) -> dict[str, dict[str, Any]]:
    """Aligned metrics of each named (object, seconds); seconds only without the truth."""
    from framework_ptycho.metrics import scanned_box, score

    if data.obj is None:
        return {name: {"seconds": s} for name, (_, s) in named.items()}
    box = scanned_box(data.xcoords, data.ycoords, data.n, data.obj.shape[0])
    return {name: {**score(data.obj, o, box), "seconds": s} for name, (o, s) in named.items()}
