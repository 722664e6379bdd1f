"""What every backbone shares: resize-and-normalise, strict weight loading, freezing."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
import torch.nn.functional as F
from framework import ConfigError, torch_load
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SHOWN_KEYS = 5


class Preprocess(nn.Module):
    """Resize to the backbone's side and normalise with its channel statistics."""

    def __init__(self, size: int, mean: Iterable[float], std: Iterable[float]) -> None:
        super().__init__()
        self.size = size
        self.register_buffer("mean", torch.tensor(list(mean)).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(list(std)).view(1, 3, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[-2:] != (self.size, self.size):
            images = F.interpolate(
                images,
                size=(self.size, self.size),
                mode="bilinear",
                antialias=True,
                align_corners=False,
            )
        return (images - self.mean) / self.std


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a .safetensors file or of a .pth state dict, loaded without pickle code."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(f"--backbone-weights {file}: no such file")
    try:
        if file.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(file))
        else:
            state = torch_load(file)
    except Exception as exc:  # safetensors' and torch_load's errors are one line each
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"--backbone-weights: not a readable weights file: {first}") from None
    for key in ("model", "state_dict", "teacher"):  # common wrappers around a state dict
        if isinstance(state, dict) and isinstance(state.get(key), dict) and len(state) <= 4:
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ConfigError(f"--backbone-weights {file} does not hold a state dict of tensors")
    return state


def _listed(keys: list[str]) -> str:
    shown = ", ".join(keys[:SHOWN_KEYS])
    return shown + (f" and {len(keys) - SHOWN_KEYS} more" if len(keys) > SHOWN_KEYS else "")


def load_strict(
    module: nn.Module, state: dict[str, torch.Tensor], origin: str, derivable: Iterable[str] = ()
) -> None:
    """Load `state` into `module`; any missing or unexpected key or shape is an error.

    Keys in `derivable` (buffers the module computes itself, e.g. RoPE periods) may be
    absent from the file; when present they are loaded like any other.
    """
    expected = module.state_dict()
    optional = set(derivable)
    missing = sorted(k for k in expected if k not in state and k not in optional)
    unexpected = sorted(k for k in state if k not in expected)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing keys: {_listed(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {_listed(unexpected)}")
        raise ConfigError(
            f"{origin} does not match the {type(module).__name__} layout ({'; '.join(parts)})",
            hint="is it a checkpoint of this architecture?",
        )
    for key, value in state.items():
        if value.shape != expected[key].shape:
            raise ConfigError(
                f"{origin}: {key} has shape {tuple(value.shape)}, expected {tuple(expected[key].shape)}"
            )
    merged = {**expected, **state}
    module.load_state_dict(merged, strict=True)


def freeze(module: nn.Module) -> nn.Module:
    """Evaluation mode, no gradients: the backbone never changes while a head trains."""
    module.eval()
    for param in module.parameters():
        param.requires_grad_(False)
    return module
