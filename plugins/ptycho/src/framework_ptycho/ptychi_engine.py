"""Optional reference engines from pty-chi (PyPI ``ptychi``): LSQML, ePIE and DM.

Imported only when asked for: pty-chi pulls in torchvision, which does not load beside
every torch build. Any import failure becomes one clear error naming the extra.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from framework import UsageError

EXTRA = "framework-ptycho[ptychi]"
ENGINES = {"ptychi-lsqml": "LSQML", "ptychi-epie": "EPIE", "ptychi-dm": "DM"}


def import_ptychi() -> Any:
    """The ``ptychi.api`` module, or a UsageError that says what to install."""
    try:
        import ptychi.api as api
        from ptychi.api.task import PtychographyTask
    except Exception as exc:  # ImportError, or torchvision failing inside it
        reason = " ".join(str(exc).split())[:160]
        raise UsageError(
            f"the pty-chi engines need the optional package ptychi, which cannot be imported here ({type(exc).__name__}: {reason})",
            hint=f"pip install '{EXTRA}' (with a torchvision matching your torch), or use --engine builtin-epie",
        ) from None
    return api, PtychographyTask


def reconstruct(
    engine: str,
    diffraction: np.ndarray,
    probe: np.ndarray,
    xs: np.ndarray,
    ys: np.ndarray,
    size: int,
    *,
    iterations: int,
    device: str,
    seed: int,
) -> np.ndarray:
    """Reconstruct with a pty-chi engine: object initialised to ones, known probe fixed."""
    from framework_ptycho.epie import power_constrained

    api, PtychographyTask = import_ptychi()
    options = getattr(api, f"{ENGINES[engine]}Options")()
    options.data_options.data = diffraction.astype(np.float32) ** 2
    options.object_options.initial_guess = np.ones((1, size, size), dtype=np.complex64)
    options.object_options.pixel_size_m = 1.0
    options.object_options.optimizable = True
    options.probe_options.initial_guess = power_constrained(probe, diffraction)[None, None].astype(
        np.complex64
    )
    options.probe_options.optimizable = False
    # pty-chi positions are relative to the object centre (row, column order in pixels).
    options.probe_position_options.position_x_px = (xs - size // 2).astype(np.float32)
    options.probe_position_options.position_y_px = (ys - size // 2).astype(np.float32)
    options.probe_position_options.optimizable = False
    options.reconstructor_options.num_epochs = iterations
    options.reconstructor_options.batch_size = min(96, len(xs))
    options.reconstructor_options.random_seed = seed
    options.reconstructor_options.default_device = (
        api.Devices.GPU if device.startswith("cuda") else api.Devices.CPU
    )
    task = PtychographyTask(options)
    task.run()
    obj = task.get_data_to_cpu("object", as_numpy=True)
    return np.asarray(obj)[0].astype(np.complex64)
