"""Built-in maximum-likelihood engine: the object fitted to the data by gradient descent.

The forward model is the plugin's own (known probe, shifted by each position's
fractional part as in the ePIE engine; integer part by indexing), written in torch so it
runs batched on a GPU as on a CPU, with autograd giving the gradient. The loss is the
Poisson negative log-likelihood of the measured counts (or, with ``noise="gaussian"``,
the least squares of amplitudes, which weights weak pixels more); Adam moves the
object's real and imaginary parts, one step per mini-batch of positions, so one
iteration is one pass over all positions, as for ePIE and LSQML.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

Progress = Callable[..., Iterable[int]]


def _forward_parts(
    probe: np.ndarray, diffraction: np.ndarray, xs: np.ndarray, ys: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-position probes (P, n, n), sub-pixel shifted, and each patch's first flat
    object index (P,): the patch of position p covers ``corner[p] + row * size + column``."""
    from framework_ptycho.epie import fourier_shift, power_constrained

    n = diffraction.shape[-1]
    probe = power_constrained(probe.astype(np.complex128), diffraction)
    ix, iy = np.round(xs).astype(int), np.round(ys).astype(int)
    top, left = iy - n // 2, ix - n // 2
    if min(top.min(), left.min()) < 0 or max(top.max(), left.max()) + n > size:
        raise ValueError(f"a scan position's patch reaches outside the {size} x {size} object")
    probes = np.empty((len(xs), n, n), np.complex64)  # filled in place: no float64 stack
    for p, (x, i, y, j) in enumerate(zip(xs, ix, ys, iy, strict=True)):
        probes[p] = fourier_shift(probe, x - i, y - j)
    return probes, (top * size + left).astype(np.int64)


def start_tensors(
    diffraction: np.ndarray,
    probe: np.ndarray,
    xs: np.ndarray,
    ys: np.ndarray,
    size: int,
    init: np.ndarray | None,
    device: str,
) -> tuple[Any, Any, Any, Any]:
    """What both built-in likelihood engines start from, on `device`: per-position probes,
    flat object indices (P, n, n), measured amplitudes and the flat starting object (ones
    or `init`). The indices are 32-bit where the object allows (half the memory, and
    index_select is twice as fast with them)."""
    import torch

    probes, corners = _forward_parts(probe, diffraction, xs, ys, size)
    start = np.ones((size, size), np.complex64) if init is None else init.astype(np.complex64)
    kind = torch.int32 if size * size < 2**31 else torch.int64
    steps = torch.arange(probes.shape[-1], dtype=kind, device=device)
    index = torch.from_numpy(corners).to(device, kind)[:, None, None] + (
        steps[:, None] * size + steps[None, :]
    )
    return (
        torch.from_numpy(probes).to(device),
        index,
        torch.from_numpy(diffraction.astype(np.float32)).to(device),
        torch.from_numpy(start.copy()).to(device).reshape(-1),
    )


def fourier_error(far: Any, measured: Any) -> Any:
    """Sum over the batch of (|far| - measured)^2 (a tensor, no host sync)."""
    return ((far.abs() - measured) ** 2).sum()


def reconstruct(
    diffraction: np.ndarray,
    probe: np.ndarray,
    xs: np.ndarray,
    ys: np.ndarray,
    size: int,
    *,
    iterations: int,
    init: np.ndarray | None = None,
    step_size: float = 0.01,
    batch_size: int = 64,
    noise: str = "poisson",
    device: str = "cpu",
    seed: int = 0,
    on_iteration: Callable[[int, float], None] | None = None,
    progress: Progress | None = None,
) -> tuple[np.ndarray, list[float]]:
    """The (size, size) object that maximises the likelihood, and the Fourier error a pass.

    The object starts as ones, or as `init` (e.g. a network's stitched image). The
    Fourier error of a pass is ``sum (|F| - A)^2 / sum A^2`` over its batches, each
    measured before that batch's step, as the ePIE engine reports it.
    """
    import torch

    from framework_ptycho.physics import fft2c

    probes, index, measured, start = start_tensors(diffraction, probe, xs, ys, size, init, device)
    counts = measured**2
    obj = torch.nn.Parameter(start)
    optimizer = torch.optim.Adam([obj], lr=step_size)
    generator = torch.Generator().manual_seed(seed)
    total = float(counts.sum())
    errors: list[float] = []
    passes = progress(range(iterations), total=iterations) if progress else range(iterations)
    for it in passes:
        err = torch.zeros((), device=device)
        for batch in torch.randperm(len(xs), generator=generator).split(batch_size):
            batch = batch.to(device)
            far = fft2c(obj[index[batch]] * probes[batch])
            intensity = far.real**2 + far.imag**2
            if noise == "poisson":
                loss = (intensity - counts[batch] * torch.log(intensity + 1e-6)).sum()
            else:
                loss = ((torch.sqrt(intensity + 1e-12) - measured[batch]) ** 2).sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            err = err + fourier_error(far.detach(), measured[batch])
        errors.append(float(err) / total)  # one host sync a pass
        if on_iteration:
            on_iteration(it, errors[-1])
    return obj.detach().reshape(size, size).cpu().numpy().astype(np.complex64), errors
