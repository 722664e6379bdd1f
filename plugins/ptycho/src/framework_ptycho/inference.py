"""PINN inference: a bundle's network on a dataset's patterns, stitched into the object.

Shared by ``ptycho.infer`` (the run's own trained bundle) and ``ptycho.reconstruct``
(a shipped, pretrained one). The probe is always the dataset's own: the network reads
it through its input features (the back-propagated estimate) and nowhere else.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import attrs
import numpy as np
import torch

from framework_ptycho.dataset import PtychoData
from framework_ptycho.forward import PhysicsModel, normalized_probe


@attrs.define
class Reconstruction:
    obj: np.ndarray
    coverage: np.ndarray
    seconds: float
    cold_seconds: float
    groups: int


def load_model(models: Any, bundle: Any, probe: np.ndarray, device: str) -> PhysicsModel:
    """The bundle's network with its weights, reading `probe`, ready for inference."""
    net = models.build(
        bundle.train_config["model"],
        channels=bundle.gridsize**2,
        n_filters_scale=bundle.train_config["n_filters_scale"],
    )
    model = PhysicsModel(net, torch.from_numpy(probe))
    model.load_state_dict(bundle.state_dict)
    with torch.no_grad():
        model.probe.copy_(normalized_probe(torch.from_numpy(probe).to(torch.complex64)))
    # Channels-last: the same numbers (to 1e-6), and the convolutions run about 2.4x as
    # fast on CPU (oneDNN); it is also the layout GPU tensor cores want.
    return model.to(device, memory_format=torch.channels_last).eval()


def choose_groups(data: PtychoData, gridsize: int, options: Any, seed: int) -> np.ndarray:
    """(G, C) pattern indices: covering groups, or a group around every pattern."""
    from framework_ptycho.grouping import cover_groups, make_groups

    c = gridsize**2
    if c > 1 and options.inference_groups == "cover":
        return cover_groups(data.xcoords, data.ycoords, gridsize, options.k_neighbours)[0]
    return make_groups(
        data.xcoords,
        data.ycoords,
        gridsize,
        options.k_neighbours,
        len(data) if c > 1 else None,
        np.random.default_rng(seed),
    )[0]


def reconstruct(
    model: PhysicsModel,
    data: PtychoData,
    index: np.ndarray,
    *,
    size: int,
    intensity_scale: float,
    options: Any,
    device: str,
    autocast: Any = None,
    dtype: torch.dtype = torch.float32,
) -> Reconstruction:
    """The stitched (size, size) object from `data`'s patterns, grouped by `index`.

    One batch runs first, untimed in `seconds` (its time is `cold_seconds`): it pays for
    the one-off set-up (allocator, kernel selection), so `seconds` is what reconstructing
    the next dataset with a trained network costs, without running the network twice.
    """
    from framework_ptycho.physics import stitch

    flat = torch.from_numpy(index.reshape(-1))
    # A pattern predicted in several groups is stitched once, as the sum of its
    # predictions counted that many times: the same object, fewer patches to place.
    counts = torch.bincount(flat, minlength=len(data)).to(torch.float32)
    seen = counts > 0
    xs, ys = torch.from_numpy(data.xcoords)[seen], torch.from_numpy(data.ycoords)[seen]
    measured = torch.from_numpy(data.diffraction * intensity_scale)[:, None]
    groups, n = torch.from_numpy(index), data.n
    batch_size = options.inference_batch_size

    def predict(groups: torch.Tensor, amplitudes: torch.Tensor) -> list[torch.Tensor]:
        """Each group's C patches (complex, on the CPU), `batch_size` groups at a time;
        `groups` index `amplitudes`."""
        patches = []
        with torch.inference_mode(), autocast() if autocast else contextlib.nullcontext():
            # The network's input, once per pattern (it is per pattern), kept as
            # (P, N, N, 3) in the compute dtype; per group one gather and one copy give
            # (G, 3C, N, N) in channels-last memory, all amplitudes first as in training.
            per_pattern = model.features(amplitudes.to(device))
            per_pattern = per_pattern.to(dtype).permute(0, 2, 3, 1).contiguous()
            for start in range(0, len(groups), batch_size):
                batch = per_pattern[groups[start : start + batch_size].to(device)]
                batch = batch.permute(0, 2, 3, 4, 1).reshape(len(batch), n, n, -1)
                amp, phase = model.net(batch.permute(0, 3, 1, 2))
                patches.append(torch.polar(amp.float(), phase.float()).cpu())
            if device.startswith("cuda"):
                torch.cuda.synchronize()
        return patches

    def run() -> tuple[torch.Tensor, torch.Tensor]:
        """Diffraction to stitched object: everything a new dataset costs."""
        patches = predict(groups, measured)
        summed = torch.zeros(len(data), n // 2, n // 2, dtype=torch.complex64)
        summed.index_add_(0, flat, torch.cat(patches).flatten(0, 1))
        return stitch(
            summed[seen], xs, ys, size, weights=counts[seen], align_phase=options.align_phase
        )

    started = time.perf_counter()
    used, local = torch.unique(groups[:batch_size], return_inverse=True)
    predict(local, measured[used])  # the first batch, on its own patterns only
    cold = time.perf_counter() - started
    started = time.perf_counter()
    obj, cover = run()
    seconds = time.perf_counter() - started
    return Reconstruction(obj.numpy(), cover.numpy(), seconds, cold, len(index))
