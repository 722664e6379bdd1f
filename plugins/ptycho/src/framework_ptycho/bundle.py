"""The model bundle: one zip with the config snapshot, legacy params, scale and weights.

Loading never unpickles: JSON for the metadata, safetensors for the weights, and every
member's sha256 is checked against the bundle's manifest.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import attrs
from framework import ArtifactError

FORMAT = "framework-ptycho-bundle"
VERSION = 1
MEMBERS = ("config.json", "weights.safetensors")


@attrs.define
class Bundle:
    train_config: dict[str, Any]
    legacy_params: dict[str, Any]
    intensity_scale: float
    n: int
    gridsize: int
    state_dict: dict[str, Any]
    # Further JSON members (name -> content), e.g. a shipped model's training record.
    extra: dict[str, Any] = attrs.field(factory=dict)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save_bundle(path: Path, bundle: Bundle) -> None:
    from safetensors.torch import save

    weights = save({k: v.detach().cpu().contiguous() for k, v in bundle.state_dict.items()})
    config = json.dumps(
        {"train_config": bundle.train_config, "legacy_params": bundle.legacy_params},
        indent=2,
        sort_keys=True,
    ).encode()
    members = {"config.json": config, "weights.safetensors": weights}
    for name, content in bundle.extra.items():
        members[name] = json.dumps(content, indent=2, sort_keys=True).encode()
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "n": bundle.n,
        "gridsize": bundle.gridsize,
        "intensity_scale": bundle.intensity_scale,
        "files": {name: _sha256(data) for name, data in members.items()},
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))  # reproducible bytes
            zf.writestr(info, data)
        zf.writestr(
            zipfile.ZipInfo("manifest.json", date_time=(2020, 1, 1, 0, 0, 0)),
            json.dumps(manifest, indent=2, sort_keys=True),
        )


def load_bundle(path: Path) -> Bundle:
    """Read and verify a bundle written by `save_bundle`."""
    from safetensors.torch import load

    try:
        with zipfile.ZipFile(path) as zf:
            manifest = json.loads(zf.read("manifest.json"))
            if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
                raise ArtifactError(f"{path}: not a {FORMAT} v{VERSION} bundle")
            names = sorted(set(MEMBERS) | set(manifest.get("files", {})))
            blobs = {name: zf.read(name) for name in names}
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, OSError) as exc:
        raise ArtifactError(f"{path}: not a readable model bundle ({exc})") from None
    for name, data in blobs.items():
        if manifest["files"].get(name) != _sha256(data):
            raise ArtifactError(f"{path}: {name} does not match its recorded sha256 (corrupted)")
    config = json.loads(blobs["config.json"])
    return Bundle(
        train_config=config["train_config"],
        legacy_params=config["legacy_params"],
        intensity_scale=float(manifest["intensity_scale"]),
        n=int(manifest["n"]),
        gridsize=int(manifest["gridsize"]),
        state_dict=load(io.BytesIO(blobs["weights.safetensors"]).getvalue()),
        extra={name: json.loads(data) for name, data in blobs.items() if name not in MEMBERS},
    )
