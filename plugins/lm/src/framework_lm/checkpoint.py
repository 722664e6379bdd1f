"""Checkpoint files: everything exact resume needs, as tensors and plain types only.

Plain types let `torch.load(weights_only=True)` read them, so a checkpoint from
elsewhere cannot run code. RNG states are converted to tensors and lists here.
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from framework import ArtifactError, UnreadableFileError, torch_load

FORMAT = 1
COMPILE_PREFIX = "_orig_mod."


def rng_state() -> dict[str, Any]:
    """Every global generator's state: python, numpy, torch CPU and each CUDA device."""
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": [version, list(internal), gauss],
        "numpy": {
            "name": name,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    np_state = state["numpy"]
    np.random.set_state(
        (
            np_state["name"],
            np_state["keys"].numpy().astype(np.uint32),
            np_state["pos"],
            np_state["has_gauss"],
            np_state["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def strip_compile_prefix(state_dict: dict[str, Any]) -> dict[str, Any]:
    """A `torch.compile`d module's keys carry `_orig_mod.`; the plain module's do not."""
    return {k.removeprefix(COMPILE_PREFIX): v for k, v in state_dict.items()}


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Write atomically: a kill mid-write leaves the previous file, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write_checkpoint(state, Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_checkpoint(state: dict[str, Any], path: Path) -> None:
    with open(path, "wb") as fh:
        torch.save({"format": FORMAT, **state}, fh)
        fh.flush()
        os.fsync(fh.fileno())


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint safely; a missing, truncated or foreign file is an ArtifactError."""
    if not path.is_file():
        raise ArtifactError(
            f"checkpoint {path} does not exist",
            hint="pass --resume a checkpoint file, a run directory or a run id",
        )
    try:
        state = torch_load(path)
    except UnreadableFileError as exc:  # truncated, not a torch file, unsafe pickle
        raise ArtifactError(f"checkpoint unreadable: {exc}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ArtifactError(f"checkpoint {path} is not an lm checkpoint of format {FORMAT}")
    state["model"] = strip_compile_prefix(state["model"])
    return state


def check_compatible(
    state: dict[str, Any], path: Path, *, model: str, model_args: dict[str, Any], tokenizer: str
) -> None:
    """Refuse a checkpoint whose tokenizer or model shape differs from this run's."""
    if state["tokenizer_hash"] != tokenizer:
        raise ArtifactError(
            f"checkpoint {path} was trained with another tokenizer "
            f"({state['tokenizer_hash'][:19]}..., this run's data/tokenizer.json is {tokenizer[:19]}...)",
            hint="resume with the same corpus and tokenizer settings",
        )
    if state["model_name"] != model:
        raise ArtifactError(
            f"checkpoint {path} holds model '{state['model_name']}', the config asks for '{model}'"
        )
    saved = state["model_args"]
    diffs = [
        f"{k} {saved.get(k)!r} in the checkpoint, {v!r} in the config"
        for k, v in model_args.items()
        if k != "dropout" and saved.get(k) != v
    ]
    if diffs:
        raise ArtifactError(
            f"checkpoint {path} has another model shape: {'; '.join(diffs)}",
            hint="resume with the model settings it was trained with",
        )
