"""Is a step up to date? Its fingerprint, and `decide`: run it or keep its outputs, and why.

Up to date: its last record completed with the same fingerprint, and every recorded output
is on disk with the recorded hash (docs/concepts.md says what a fingerprint covers).
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Any

import attrs

from framework.config import canonical_json
from framework.errors import ArtifactError
from framework.hashing import HashCache, hash_bytes
from framework.steps import is_pattern

DONE = ("completed", "skipped", "reused")


@attrs.frozen
class StepState:
    """Everything that decides whether a step's outputs are still valid."""

    step: str
    code_version: str
    plugin_version: str | None
    config: dict[str, Any]
    execution: dict[str, Any]
    inputs: dict[str, str]  # path -> digest
    dependencies: dict[str, str] = attrs.field(factory=dict)  # config field -> digest
    unhashed: tuple[str, ...] = ()  # config fields declared with fingerprint=False

    def fingerprint(self) -> str:
        """The hash of it all but `unhashed`. The step id is part of it: two config-less
        steps without inputs must not share outputs through the artifact store."""
        payload = attrs.asdict(self, recurse=False)
        del payload["unhashed"]
        # Absent when empty, so the fingerprints of steps without any stay put.
        if not self.dependencies:
            del payload["dependencies"]
        return hash_bytes(canonical_json(payload).encode())


def file_records(
    run_dir: Path, declared: tuple[str, ...], hashes: HashCache, *, required: bool, what: str
) -> list[dict[str, Any]]:
    """Path, size and hash of each declared artifact (glob patterns expanded); a missing
    exact path raises when `required`, `what` naming it ("step x: declared output")."""
    records = []
    for rel in declared:
        if is_pattern(rel):
            matches = sorted(glob.glob(str(run_dir / rel)))
            paths = [os.path.relpath(m, run_dir) for m in matches if os.path.isfile(m)]
        else:
            paths = [rel]
        for path in paths:
            full = run_dir / path
            if not full.is_file():
                if required:
                    raise ArtifactError(f"{what} '{path}' is missing in {run_dir}")
                continue
            records.append({"path": path, "size": full.stat().st_size, "hash": hashes.digest(full)})
    return records


def dependency_records(paths: dict[str, str], hashes: HashCache) -> list[dict[str, Any]]:
    """Field, path, size and content hash of each outside file or folder a config names
    (a folder's: its visible files' paths and hashes). A value naming nothing on disk
    adds no record: it is a word the step knows (a shipped model's name, "none"), already
    in the config hash, or a missing path that the step refuses."""
    records = []
    for name, value in sorted(paths.items()):
        path = Path(value).expanduser()
        if path.is_file():
            size, digest = path.stat().st_size, hashes.digest(path)
        elif path.is_dir():
            files = _visible_files(path)
            size = sum(f.stat().st_size for f in files)
            listing = [[f.relative_to(path).as_posix(), hashes.digest(f)] for f in files]
            digest = hash_bytes(canonical_json(listing).encode())
        else:
            continue
        records.append({"field": name, "path": str(path), "size": size, "hash": digest})
    return records


def _visible_files(folder: Path) -> list[Path]:
    """Every regular file under `folder`, sorted, skipping hidden files and folders."""
    found: list[Path] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(root, f) for f in sorted(files) if not f.startswith("."))
    return [f for f in found if f.is_file()]


@attrs.frozen
class Decision:
    """Whether a step runs, and why: ``fresh`` steps keep their outputs (skipped)."""

    fresh: bool
    why: str


def decide(
    step: str,
    previous: dict[str, Any] | None,
    state: StepState,
    run_dir: Path,
    hashes: HashCache,
    *,
    forced: bool = False,
) -> Decision:
    """The one freshness decision, from the step's record in `previous` (the run's last
    manifest; None: it never ran); a stale step says what changed, else why it runs."""
    if forced:
        return Decision(False, "forced")
    record = (previous or {}).get("steps", {}).get(step) or {}
    status = record.get("status", "pending")
    if status not in DONE:
        why = "not run before" if status == "pending" else f"last status {status}"
    elif record.get("fingerprint") != state.fingerprint():
        why = "fingerprint changed"
    else:
        why = _outputs_changed(record, run_dir, hashes)
        if not why:
            return Decision(True, "fingerprint and outputs match")
    old_config = (previous or {}).get("config", {}).get(step, {})
    return Decision(False, _what_changed(record, old_config, state) or why)


def _outputs_changed(record: dict[str, Any], run_dir: Path, hashes: HashCache) -> str:
    """The first recorded output missing or edited on disk, in words ('' if none)."""
    for out in record.get("outputs", []):
        full = run_dir / out["path"]
        if not full.is_file():
            return f"output {out['path']} is missing"
        if hashes.digest(full) != out["hash"]:
            return f"output {out['path']} changed on disk"
    return ""


def _what_changed(record: dict[str, Any], old_config: dict[str, Any], now: StepState) -> str:
    """The parts of the fingerprint that differ from the last record, in words ('' if none)."""
    if "fingerprint" not in record:
        return ""
    changes = []
    for key in ("code_version", "plugin_version"):
        if record.get(key) != getattr(now, key):
            changes.append(f"{key.replace('_', ' ')} {record.get(key)} -> {getattr(now, key)}")
    for key in sorted((set(old_config) | set(now.config)) - set(now.unhashed)):
        if old_config.get(key) != now.config.get(key):
            changes.append(f"{key} {old_config.get(key)!r} -> {now.config.get(key)!r}")
    old_execution = record.get("execution") or {}
    for key in sorted(set(old_execution) | set(now.execution)):
        if old_execution.get(key) != now.execution.get(key):
            was = old_execution.get(key, "not recorded")
            changes.append(f"{key} {was} -> {now.execution.get(key, 'not recorded')}")
    old_inputs = {i["path"]: i["hash"] for i in record.get("inputs", [])}
    changes.extend(f"input {p}" for p, digest in now.inputs.items() if old_inputs.get(p) != digest)
    old_deps = {d["field"]: d["hash"] for d in record.get("dependencies", [])}
    changes.extend(
        f"content of {name}" for name, digest in now.dependencies.items()
        if old_deps.get(name, digest) != digest
    )  # fmt: skip
    return "changed: " + ", ".join(changes) if changes else ""
