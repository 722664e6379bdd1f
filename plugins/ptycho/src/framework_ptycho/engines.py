"""The iterative engines behind one call: built-in ePIE/rPIE, ML and LSQML, and
pty-chi's LSQML/ePIE/DM where it imports; each from ones or from a given start.

A start from a network (`start_from`) is rescaled first: ptychography fixes the
object's amplitude only together with the probe's, and the network's amplitude carries
an arbitrary scale, so the start is scaled until its exit waves carry the measured
energy (the probe being power-constrained to the data, as every engine here has it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import attrs
import numpy as np

BUILTIN = ("builtin-epie", "builtin-rpie", "builtin-ml", "builtin-lsqml")
PTYCHI = ("ptychi-lsqml", "ptychi-epie", "ptychi-dm")
ENGINES = BUILTIN + PTYCHI


@attrs.define
class Problem:
    """A dataset to reconstruct: amplitudes (P, N, N), probe, positions, object side."""

    diffraction: np.ndarray
    probe: np.ndarray
    xs: np.ndarray
    ys: np.ndarray
    size: int


def start_from(
    problem: Problem, obj: np.ndarray, coverage: np.ndarray | None, part: str = "object"
) -> np.ndarray:
    """`obj` scaled so its exit waves carry the measured energy; unseen pixels filled.

    Pixels no patch covered (``coverage == 0``, or a zero object) get the covered mean,
    so that the probe's faint edge does not start on a hole. `part` "amplitude" keeps
    only the object's amplitude (a flat phase): from the shipped network's phase the
    engine has errors to undo, and on validation scans it ended lower than from the
    network's amplitude alone (see docs/plugins/ptycho.md).
    """
    from framework_ptycho.epie import power_constrained

    if part not in ("amplitude", "object"):
        raise ValueError(f"part must be 'amplitude' or 'object', not {part!r}")
    obj = np.abs(obj) if part == "amplitude" else obj
    start = obj.astype(np.complex128).copy()
    seen = (coverage > 0) if coverage is not None else np.abs(start) > 0
    if seen.any():
        start[~seen] = np.abs(start[seen]).mean()
    else:
        start[:] = 1.0
    probe2 = np.abs(power_constrained(problem.probe, problem.diffraction)) ** 2
    n = problem.diffraction.shape[-1]
    energy = 0.0
    for x, y in zip(
        np.round(problem.xs).astype(int), np.round(problem.ys).astype(int), strict=True
    ):
        view = start[y - n // 2 : y - n // 2 + n, x - n // 2 : x - n // 2 + n]
        energy += float((probe2 * np.abs(view) ** 2).sum())
    measured = float((problem.diffraction.astype(np.float64) ** 2).sum())
    return (start * np.sqrt(measured / max(energy, 1e-30))).astype(np.complex64)


def default_iterations(engine: str, photons: float | None) -> int:
    """The refinement passes when none are asked for. builtin-lsqml's follow the dose:
    REFINE_ITERATIONS at 1e4 photons per pattern, twice as many a decade more, half a
    decade less, by the nearest whole decade (10, 20, 40, 80 or 160). Chosen on the
    held-out bench's validation scans: more passes fit the counting noise at low dose and
    keep converging at high dose (mean SSIM with the denoiser at 1e3: 0.578 / 0.551 after
    20 passes, 0.549 / 0.519 after 40; at 1e5: 0.920 / 0.956 after 80, 0.916 / 0.887
    after 40). Other engines, and data that do not tell their dose (`photons` None):
    REFINE_ITERATIONS."""
    from framework_ptycho.config import REFINE_ITERATIONS

    if engine != "builtin-lsqml" or photons is None:
        return REFINE_ITERATIONS
    decades = round(float(np.log10(np.clip(photons, 1e2, 1e6)))) - 4
    return int(REFINE_ITERATIONS * 2.0**decades)


def run(
    engine: str,
    problem: Problem,
    *,
    iterations: int,
    init: np.ndarray | None = None,
    step_size: float = 1.0,
    ml_learning_rate: float = 0.01,
    device: str = "cpu",
    seed: int = 0,
    progress: Callable[..., Iterable[int]] | None = None,
    on_iteration: Callable[[int, float], None] | None = None,
    on_message: Callable[[str, str], None] | None = None,
) -> tuple[np.ndarray, list[float]]:
    """The reconstructed object and its Fourier error per iteration (empty for pty-chi)."""
    args = (problem.diffraction, problem.probe, problem.xs, problem.ys, problem.size)
    common: dict[str, Any] = {"iterations": iterations, "init": init, "seed": seed,
                              "progress": progress}  # fmt: skip
    if engine == "builtin-ml":
        from framework_ptycho import likelihood

        return likelihood.reconstruct(
            *args, **common, step_size=ml_learning_rate, device=device, on_iteration=on_iteration
        )
    if engine == "builtin-lsqml":
        from framework_ptycho import lsqml

        return lsqml.reconstruct(*args, **common, device=device, on_iteration=on_iteration)
    if engine in ("builtin-epie", "builtin-rpie"):
        from framework_ptycho import epie

        variant = engine.removeprefix("builtin-")
        return epie.reconstruct(
            *args, **common, step_size=step_size, variant=variant, on_iteration=on_iteration
        )
    from framework_ptycho import ptychi_engine

    # Its log lines (about padding and position centring, harmless here) go to the sink.
    with ptychi_engine.messages_to(on_message or (lambda level, text: None)):
        obj = ptychi_engine.reconstruct(engine, *args, **common, device=device)
    return obj, []
