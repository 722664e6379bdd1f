"""A learned prior against counting noise, applied to the object after refinement.

At 1e3-1e5 photons per pattern the iterative engines fit the counting noise; a small
residual CNN, trained on refined reconstructions of simulated scans against their true
objects, removes much of it (``--denoise`` of ``ptycho.reconstruct``). It sees the
refined object's amplitude over its mean and phase less its mean over the scanned
region, and the scan's dose as a constant plane: log10 of the photons per pattern less
4, read from the data alone. It returns both; ``--denoise amplitude`` keeps the refined
phase, ``--denoise object`` takes the denoised one too.

The weights ship beside the pretrained bundle (``pretrained/denoiser.safetensors``,
written by ``plugins/ptycho/scripts/train_denoiser.py``) with their sha256 and training
record in ``pretrained/denoiser.json``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
from framework import ArtifactError

from framework_ptycho.dataset import photons_per_pattern

WIDTH, HIDDEN = 32, 5  # channels; hidden conv + batch-norm layers
WEIGHTS, RECORD = "denoiser.safetensors", "denoiser.json"


def dose_level(diffraction: np.ndarray) -> np.float32:
    """The level (`level_of`) of the dose read from the data."""
    return level_of(photons_per_pattern(diffraction))


def level_of(photons: float | None) -> np.float32:
    """log10 of the photons per pattern, less 4, clipped to 1e2-1e7; 0 (1e4, the middle of
    the training doses) for data that do not tell their dose (None)."""
    return np.float32(np.log10(np.clip(photons or 1e4, 1e2, 1e7)) - 4)


def channels(obj: np.ndarray) -> np.ndarray:
    """(amplitude / its mean, phase less its mean) of a region: what the denoiser sees."""
    centred = obj * np.exp(-1j * np.angle(obj.sum()))
    amplitude = np.abs(centred)
    return np.stack([amplitude / amplitude.mean(), np.angle(centred)]).astype(np.float32)


def with_dose(x: np.ndarray, level: float) -> np.ndarray:
    """The denoiser's input: the channels and the dose as a constant plane."""
    return np.concatenate([x, np.full((1, *x.shape[1:]), level, np.float32)])


def build() -> Any:
    """The network: 3 channels in, a residual on the 2 image channels out."""
    import torch

    layers = [torch.nn.Conv2d(3, WIDTH, 3, padding=1), torch.nn.ReLU()]
    for _ in range(HIDDEN):
        layers += [
            torch.nn.Conv2d(WIDTH, WIDTH, 3, padding=1),
            torch.nn.BatchNorm2d(WIDTH),
            torch.nn.ReLU(),
        ]
    return torch.nn.Sequential(*layers, torch.nn.Conv2d(WIDTH, 2, 3, padding=1))


def apply(model: Any, x: np.ndarray, level: float) -> np.ndarray:
    """The denoised channels: `x` plus the model's residual, averaged over the image's
    eight views (each quarter turn, plain and mirrored), each turned back first.

    An object turned or mirrored is as likely an object, so each view's residual is an
    estimate of the same thing; their mean averages out what one view gets wrong (on
    the validation scans it raised mean SSIM by 0.013-0.016, on every foreign scan)."""
    import torch

    model.eval()
    residual = np.zeros_like(x)
    with torch.no_grad():
        for turns in range(4):
            view = np.rot90(x, turns, (1, 2))
            pair = np.stack(
                [with_dose(np.ascontiguousarray(v), level) for v in (view, view[..., ::-1])]
            )
            pair = torch.from_numpy(pair).contiguous(memory_format=torch.channels_last)
            plain, mirrored = model(pair).numpy()
            residual += np.rot90(plain + mirrored[..., ::-1], -turns, (1, 2))
    return x + residual / 8


def denoise(model: Any, obj: np.ndarray, box: tuple, level: float, part: str) -> np.ndarray:
    """`obj` with its `part` over `box` denoised: "amplitude" (the phase kept) or "object"
    (the phase too, at the region's mean phase). The amplitude keeps the region's mean:
    its level is what the data set, the denoiser changes its shape."""
    region = obj[box]
    amplitude, phase = apply(model, channels(region), level)
    phase = phase + np.angle(region.sum()) if part == "object" else np.angle(region)
    amplitude = np.maximum(amplitude, 0)
    amplitude *= np.abs(region).mean() / max(float(amplitude.mean()), 1e-12)
    out = obj.copy()
    out[box] = amplitude * np.exp(1j * phase)
    return out


def folder() -> Path:
    from importlib.resources import files

    return Path(str(files("framework_ptycho") / "pretrained"))


def load(where: Path | None = None) -> tuple[Any, dict[str, Any]]:
    """The shipped denoiser and its training record; its weights' sha256 checked."""
    import torch
    from safetensors.torch import load as load_weights

    where = where or folder()
    try:
        record = json.loads((where / RECORD).read_text())
        blob = (where / WEIGHTS).read_bytes()
    except (OSError, json.JSONDecodeError) as exc:
        raise ArtifactError(
            f"{where}: the denoiser is missing or unreadable ({exc})",
            hint="reinstall framework-ptycho",
        ) from None
    if hashlib.sha256(blob).hexdigest() != record.get("sha256"):
        raise ArtifactError(
            f"{where / WEIGHTS}: does not match its recorded sha256 (corrupted)",
            hint="reinstall framework-ptycho",
        )
    model = build()
    model.load_state_dict(load_weights(blob))
    # Channels-last: the same numbers (to 1e-6), the convolutions faster on CPU (oneDNN).
    return model.to(memory_format=torch.channels_last).eval(), record


def weights_bytes(model: Any) -> bytes:
    """The model's weights as safetensors bytes (what `save` writes)."""
    from safetensors.torch import save as save_weights

    return save_weights({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()})


def save(model: Any, record: dict[str, Any], where: Path) -> None:
    """Write the weights and the record (with their sha256) into `where`."""
    blob = weights_bytes(model)
    (where / WEIGHTS).write_bytes(blob)
    record = {**record, "sha256": hashlib.sha256(blob).hexdigest()}
    (where / RECORD).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
