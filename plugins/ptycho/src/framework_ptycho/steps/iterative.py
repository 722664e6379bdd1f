"""ptycho.epie and ptycho.refine: the iterative engines, from ones or from the PINN.

``ptycho.epie`` is the baseline (object from ones). ``ptycho.refine`` starts the chosen
engine from the PINN's stitched object (`ptycho.infer`'s reconstruction.npz) for
``--refine-iterations`` passes (by default as many as ``ptycho.reconstruct`` makes at the
data's dose: `engines.default_iterations`); its seconds are the PINN's and the refinement's
together, both also recorded apart.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from framework import StepContext

from framework_ptycho.config import EpieConfig, RefineConfig
from framework_ptycho.steps.common import load_test, write_reconstruction


def iterate(
    ctx: StepContext[Any], engine: str, test: Any, size: int, iterations: int, init: Any, what: str
) -> tuple[np.ndarray, list[float], float]:
    """One engine run with progress, per-iteration metrics and engine messages to events."""
    from framework_ptycho import engines

    problem = engines.Problem(test.diffraction, test.probe, test.xcoords, test.ycoords, size)
    if init is not None:
        init = engines.start_from(problem, *init)
    device = ctx.device  # resolved (torch imported, CUDA probed) before the clock starts
    started = time.perf_counter()
    obj, errors = engines.run(
        engine,
        problem,
        iterations=iterations,
        init=init,
        step_size=ctx.config.step_size,
        ml_learning_rate=ctx.config.ml_learning_rate,
        device=device,
        seed=ctx.execution.seed,
        progress=lambda items, total: ctx.progress(
            items, total=total, description=f"{what} {engine}"
        ),
        on_iteration=lambda it, err: ctx.log_metrics(step=it, fourier_error=err),
        on_message=lambda level, text: ctx.event("engine_message", level=level, text=text),
    )
    return obj, errors, time.perf_counter() - started


def epie(ctx: StepContext[EpieConfig]) -> None:
    """The iterative baseline on the same test data (object starts as ones, known probe)."""
    cfg = ctx.config
    test, size = load_test(ctx)
    obj, errors, seconds = iterate(ctx, cfg.engine, test, size, cfg.iterations, None, "baseline")
    write_reconstruction(
        ctx,
        "epie",
        obj,
        test,
        seconds,
        fourier_error=np.asarray(errors, np.float64),
        engine=np.array(cfg.engine),
    )
    ctx.log_metrics(reconstruction_seconds=seconds, engine=cfg.engine)


def refine(ctx: StepContext[RefineConfig]) -> None:
    """The PINN's object refined by an iterative engine on the same test data."""
    from framework_ptycho import engines
    from framework_ptycho.dataset import photons_per_pattern

    cfg = ctx.config
    test, size = load_test(ctx)
    photons = photons_per_pattern(test.diffraction)
    passes = cfg.refine_iterations or engines.default_iterations(cfg.refine_engine, photons)
    with np.load(ctx.input("reconstruction.npz"), allow_pickle=False) as rec:
        start, pinn_seconds = rec["object"], float(rec["seconds"])
        coverage = rec["coverage"] if "coverage" in rec.files else None
    obj, errors, seconds = iterate(
        ctx,
        cfg.refine_engine,
        test,
        size,
        passes,
        (start, coverage, cfg.refine_start),
        "refine",
    )
    write_reconstruction(
        ctx,
        "refine",
        obj,
        test,
        pinn_seconds + seconds,
        fourier_error=np.asarray(errors, np.float64),
        engine=np.array(f"pinn+{cfg.refine_engine}-{passes}"),
        pinn_seconds=np.float64(pinn_seconds),
        refine_seconds=np.float64(seconds),
    )
    dose = {} if photons is None else {"photons_per_pattern": round(photons, 1)}
    ctx.log_metrics(
        step=None,
        refine_seconds=seconds,
        pinn_seconds=pinn_seconds,
        engine=cfg.refine_engine,
        refine_passes=passes,
        **dose,
    )
