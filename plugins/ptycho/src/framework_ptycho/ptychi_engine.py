"""Optional reference engines from pty-chi (PyPI ``ptychi``): LSQML, ePIE and DM.

Imported only when asked for: pty-chi pulls in torchvision, which does not load beside
every torch build. Any import failure becomes one clear error naming the extra.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Callable, Iterator
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


@contextlib.contextmanager
def messages_to(sink: Callable[[str, str], None]) -> Iterator[None]:
    """pty-chi's log warnings and Python warnings go to `sink(level, text)`, not stderr."""

    class Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            sink(record.levelname.lower(), record.getMessage())

    root, handler = logging.getLogger(), Handler(logging.WARNING)
    root.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
    finally:
        root.removeHandler(handler)
        for warning in caught:
            sink("warning", f"{warning.category.__name__}: {warning.message}")


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
    init: np.ndarray | None = None,
    progress: Callable[..., Any] | None = None,
) -> np.ndarray:
    """Reconstruct with a pty-chi engine: object from ones (or `init`), known probe fixed.

    With `progress`, the epochs run one call at a time through it (``task.run(1)``).
    """
    import inspect

    from framework_ptycho.epie import power_constrained

    api, PtychographyTask = import_ptychi()
    options = getattr(api, f"{ENGINES[engine]}Options")()
    n = probe.shape[-1]
    data = {
        "diffraction_data": diffraction.astype(np.float32) ** 2,
        "object_data": (
            np.ones((1, size, size), np.complex64) if init is None else init[None]
        ).astype(np.complex64),
        # pty-chi propagates with an unnormalised FFT (N^2 times the energy of our
        # orthonormal one), so the probe whose power matches the data is 1/N of ours.
        "probe_data": (power_constrained(probe, diffraction) / n)[None, None].astype(np.complex64),
        "probe_position_x_px": xs.astype(np.float32),
        "probe_position_y_px": ys.astype(np.float32),
    }
    options.object_options.pixel_size_m = 1.0
    options.object_options.optimizable = True
    options.probe_options.optimizable = False
    # pty-chi maps a position p to object pixel p + origin and centres the probe there,
    # its first row at p - (N - 1)/2; ours is at x - N/2. With the origin at -0.5, the
    # positions are our object-pixel coordinates as they stand.
    options.object_options.determine_position_origin_coords_by = (
        api.ObjectPosOriginCoordsMethods.SPECIFIED
    )
    options.object_options.position_origin_coords = np.array([-0.5, -0.5])
    options.probe_position_options.optimizable = False
    options.reconstructor_options.num_epochs = iterations
    options.reconstructor_options.batch_size = min(96, len(xs))
    if engine == "ptychi-dm":  # exit waves updated per chunk; its default of one is slow
        options.reconstructor_options.chunk_length = min(96, len(xs))
    options.reconstructor_options.random_seed = seed
    options.reconstructor_options.default_device = (
        api.Devices.GPU if device.startswith("cuda") else api.Devices.CPU
    )
    if "diffraction_data" in inspect.signature(PtychographyTask).parameters:
        task = PtychographyTask(options, **data)  # pty-chi >= 2.2
    else:  # earlier releases take the arrays inside the options
        options.data_options.data = data["diffraction_data"]
        options.object_options.initial_guess = data["object_data"]
        options.probe_options.initial_guess = data["probe_data"]
        options.probe_position_options.position_x_px = data["probe_position_x_px"]
        options.probe_position_options.position_y_px = data["probe_position_y_px"]
        task = PtychographyTask(options)
    if progress is not None and "n_epochs" in inspect.signature(task.run).parameters:
        for _ in progress(range(iterations), total=iterations):
            task.run(n_epochs=1)
    else:
        task.run()
    obj = task.get_data_to_cpu("object", as_numpy=True)
    return np.asarray(obj)[0].astype(np.complex64)
