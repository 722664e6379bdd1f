"""Built-in least-squares maximum-likelihood engine (after Odstrčil et al. 2018), known probe.

Per mini-batch of positions: the far field of each exit wave is moved towards the data
by the noise model (Gaussian amplitudes: onto the measured modulus; Poisson: a step along
the likelihood gradient whose length solves the 1-D problem by one Newton step); the
exit-wave change ``chi`` back-propagates to an object direction ``sum conj(P) chi``,
divided by the summed probe intensity ``sqrt(W^2 + (delta max W)^2)``; and the step
along that direction is the least-squares fit of ``alpha dO P`` to ``chi`` per position,
averaged over the batch (or applied per position). Torch, batched, on any device.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

Progress = Callable[..., Iterable[int]]
NOISE = ("gaussian", "poisson")
# Pattern pixels a pass holds in flight at once (a chunk of positions): about 0.3 GB of
# intermediates. Beyond them the engine keeps 28 bytes a pattern pixel: the probes (8),
# their intensity (4), 32-bit patch indices (4), the data (4) and, within a pass, each
# position's exit-wave change until its step length is known (8).
CHUNK_PIXELS = 2**22


def _far_field_change(intensity: Any, modulus: Any, counts: Any, measured: Any, noise: str) -> Any:
    """The real factor ``f - 1`` by which the far field moves (``far * f`` is its
    revision): the modulus projection, or a Poisson likelihood step."""
    if noise == "gaussian":
        return measured / modulus.clamp_min(1e-12) - 1
    # d(NLL)/d conj(far) = (1 - y/|F|^2) F; the step length `a` along it is one Newton
    # step on the NLL of (1 - a xi)^2 |F|^2, per position, kept in [0, 1].
    xi = 1 - counts / intensity.clamp_min(1e-12)
    num = (xi * (intensity - counts)).sum(dim=(-2, -1), keepdim=True)
    den = (xi**2 * (intensity + counts)).sum(dim=(-2, -1), keepdim=True)
    a = (num / den.clamp_min(1e-30)).clamp(0, 1)
    return -a * xi


def _dot(a: Any, b: Any) -> Any:
    """Re(sum conj(a) b) over each (n, n) patch, as real arithmetic on the complex pairs
    (a complex product first costs twice as much)."""
    import torch

    return (torch.view_as_real(a) * torch.view_as_real(b)).sum(dim=(-3, -2, -1))


def _scatter(values: Any, index: Any, size: int, canvas: Any = None) -> Any:
    """Sum (B, n, n) patches into a flat (size * size) canvas at their object pixels
    (`canvas`, added to in place, or a new one)."""
    import torch

    if canvas is None:
        canvas = torch.zeros(size * size, dtype=values.dtype, device=values.device)
    return canvas.index_add_(0, index.reshape(-1), values.reshape(-1))


def _power(values: Any) -> Any:
    """|values|^2 of a complex tensor as re^2 + im^2 (abs() guards against overflow, at
    2.3x the cost)."""
    import torch

    return torch.addcmul(values.real * values.real, values.imag, values.imag)


def _trimmed_mean(values: Any, cut: float = 0.1) -> Any:
    """The mean without the lowest and highest `cut` fraction (a few wild steps ignored)."""
    ordered = values.sort().values
    drop = int(len(ordered) * cut)
    return ordered[drop : len(ordered) - drop].mean() if len(ordered) > 2 * drop else ordered.mean()


def _batches(count: int, size: int | None, generator: Any, device: str) -> list[Any]:
    """A pass's batches of positions: all at once (a slice, no copy) or a random split."""
    import torch

    if size is None or size >= count:
        return [slice(None)]
    return [b.to(device) for b in torch.randperm(count, generator=generator).split(size)]


def _chunks(batch: Any, count: int, chunk: int) -> list[Any]:
    """A batch's positions in pieces of at most `chunk` (slices where the batch is all)."""
    if not isinstance(batch, slice):
        return list(batch.split(chunk))
    return [slice(i, min(i + chunk, count)) for i in range(0, count, chunk)]


def _exit_wave_changes(
    obj: Any, probes: Any, measured: Any, chunks: list[Any], at: Callable[[Any], Any], noise: str
) -> tuple[Any, Any, list[Any]]:
    """One batch's sweep, chunk by chunk (a chunk's intermediates are the working memory):
    its summed squared Fourier error, the summed object direction ``sum conj(P) chi``, and
    each chunk's ``conj(P) chi``, kept because each position's step length needs its own."""
    import torch

    err = torch.zeros((), device=obj.device)
    direction = torch.zeros_like(obj)
    raws = []
    for rows in chunks:
        p, where = probes[rows], at(rows)
        gather = where.reshape(-1)  # index_select: 2.4x advanced indexing
        far = torch.fft.fft2(obj.index_select(0, gather).view(p.shape) * p, norm="ortho")
        intensity = _power(far)
        modulus = intensity.sqrt()
        m = measured[rows]
        err = err + torch.nn.functional.mse_loss(modulus, m, reduction="sum")
        factor = _far_field_change(intensity, modulus, m * m, m, noise)
        # The exit-wave change: ifft(far * f) - psi, and ifft(far) is psi.
        chi = torch.fft.ifft2(far * factor, norm="ortho")
        raw = torch.conj_physical(p).mul_(chi)  # a lazy conjugate costs every product
        direction.index_add_(0, gather, raw.reshape(-1))
        raws.append(raw)
    return err, direction, raws


def _step_lengths(
    direction: Any, power: Any, chunks: list[Any], raws: list[Any], at: Callable[[Any], Any]
) -> Any:
    """Each position's least-squares fit of ``alpha dO P`` to its chi, kept >= 0; the
    numerator ``Re sum conj(dO P) chi`` is ``Re sum conj(dO) conj(P) chi``."""
    import torch

    lengths = []
    for rows, raw in zip(chunks, raws, strict=True):
        d = direction.index_select(0, at(rows).reshape(-1)).view(raw.shape)
        norm = (_power(d) * power[rows]).sum(dim=(-2, -1))
        lengths.append(_dot(d, raw) / norm.clamp_min(1e-30))
    return torch.cat(lengths).clamp_min(0)


def reconstruct(
    diffraction: np.ndarray,
    probe: np.ndarray,
    xs: np.ndarray,
    ys: np.ndarray,
    size: int,
    *,
    iterations: int,
    init: np.ndarray | None = None,
    batch_size: int | None = None,
    noise: str = "gaussian",
    delta: float = 0.3,
    preconditioner: str = "all",
    per_position: bool = False,
    step_scale: float = 1.0,
    momentum: float = 0.5,
    chunk_pixels: int = CHUNK_PIXELS,
    device: str = "cpu",
    seed: int = 0,
    on_iteration: Callable[[int, float], None] | None = None,
    progress: Progress | None = None,
) -> tuple[np.ndarray, list[float]]:
    """The (size, size) object and the Fourier error a pass (``sum (|F| - A)^2 / sum A^2``).

    The object starts as ones or as `init`. `batch_size` None updates once a pass from
    all positions together (the compact set that did best on validation objects, ahead
    of random batches of 32-128). `preconditioner` "all" sums the probe
    intensity over every position (fixed), "batch" over the batch's own positions.
    `per_position` weights each position's contribution by its own least-squares step
    instead of moving the whole batch by the mean one. `momentum` carries that fraction
    of the last step into the next (heavy ball), dropped when the two disagree. The
    defaults were chosen on validation objects (blobs, natural, polygons; other seeds
    than the bench's test scans): delta 0.3 over 0.03-0.1, momentum 0.5 over 0, 0.8, 0.9.
    """
    import torch

    from framework_ptycho.likelihood import start_tensors

    if noise not in NOISE:
        raise ValueError(f"noise must be one of {NOISE}, not {noise!r}")
    if preconditioner not in ("all", "batch"):
        raise ValueError(f"preconditioner must be 'all' or 'batch', not {preconditioner!r}")
    probes, index, measured, obj = start_tensors(diffraction, probe, xs, ys, size, init, device)
    # Work in FFT order throughout: each patch is gathered from the object already
    # ifftshifted (its indices rolled) and the data are rolled once, so a pass needs no
    # fftshift (they took 40 % of its time); the scatter uses the same rolled indices.
    probes, index, measured = (
        torch.fft.ifftshift(t, dim=(-2, -1)) for t in (probes, index, measured)
    )
    power = _power(probes)

    def at(rows: Any) -> Any:
        return index[rows]

    def damped(weight: Any) -> Any:
        return torch.sqrt(weight**2 + (delta * weight.max()) ** 2)

    def summed_power(chunks: list[Any]) -> Any:
        """The probe intensity of the chunks' positions summed onto the object's pixels."""
        canvas = torch.zeros(size * size, device=device)
        for rows in chunks:
            _scatter(power[rows], at(rows), size, canvas)
        return canvas

    chunk = max(1, chunk_pixels // probes[0].numel())
    fixed = damped(summed_power(_chunks(slice(None), len(xs), chunk)))  # "all"
    generator = torch.Generator().manual_seed(seed)
    velocity = torch.zeros_like(obj)
    total = float(torch.linalg.vector_norm(measured)) ** 2
    errors: list[float] = []
    passes = progress(range(iterations), total=iterations) if progress else range(iterations)
    for it in passes:
        err = torch.zeros((), device=device)
        for batch in _batches(len(xs), batch_size, generator, device):
            chunks = _chunks(batch, len(xs), chunk)
            batch_err, direction, raws = _exit_wave_changes(
                obj, probes, measured, chunks, at, noise
            )
            err = err + batch_err
            damping = fixed if preconditioner == "all" else damped(summed_power(chunks))
            direction = direction / damping
            alpha = _step_lengths(direction, power, chunks, raws, at) * step_scale
            if per_position:
                step = torch.zeros_like(obj)
                lengths = alpha.split([len(raw) for raw in raws])
                for rows, raw, a in zip(chunks, raws, lengths, strict=True):
                    _scatter(a[:, None, None] * raw, at(rows), size, step)
                step = step / damping
            else:
                step = _trimmed_mean(alpha) * direction
            del raws
            if momentum > 0:
                # Heavy ball, restarted when the new step turns against the velocity.
                keep = (velocity.conj() * step).real.sum() > 0
                velocity = torch.where(keep, momentum * velocity, 0) + step
                step = velocity
            obj = obj + step
        errors.append(float(err) / total)  # one host sync a pass
        if on_iteration:
            on_iteration(it, errors[-1])
    return obj.reshape(size, size).cpu().numpy().astype(np.complex64), errors
