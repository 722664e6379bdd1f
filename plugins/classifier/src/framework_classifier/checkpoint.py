"""The head checkpoint: model_best.pth (weights_only-safe) and the same tensors as safetensors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from framework import ArtifactError, UnreadableFileError, torch_load

FORMAT = "framework-classifier/head-1"
META_KEY = "framework_classifier"


def save(
    ctx: Any, pth: str, safetensors_path: str, state: dict[str, torch.Tensor], meta: dict
) -> None:
    """Write both files atomically; only plain tensors, strings and numbers inside."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    with ctx.output(pth) as tmp:
        torch.save({"format": FORMAT, "meta": meta, "state_dict": tensors}, tmp)
    with ctx.output(safetensors_path) as tmp:
        save_file(tensors, str(tmp), metadata={META_KEY: json.dumps(meta, sort_keys=True)})


def load(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """(state dict, meta) of a model_best.pth; a damaged or foreign file is an ArtifactError."""
    hint = "re-run classifier.train_baseline_head (with --force) to write it again"
    try:
        blob = torch_load(path)
    except UnreadableFileError as exc:
        raise ArtifactError(f"checkpoint unreadable: {exc}", hint=hint) from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise ArtifactError(f"checkpoint {path} is not a {FORMAT} checkpoint", hint=hint)
    return blob["state_dict"], blob["meta"]


def load_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        meta = json.loads(fh.metadata()[META_KEY])
        return {k: fh.get_tensor(k) for k in fh.keys()}, meta  # noqa: SIM118
