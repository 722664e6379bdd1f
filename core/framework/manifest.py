"""Run directories and their manifest: schema, atomic read/write, lock, fingerprints."""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import secrets
from pathlib import Path
from typing import Any

from framework.atomic import atomic_write_text
from framework.errors import ManifestError, RunLockedError
from framework.hashing import ALGORITHM

MANIFEST_NAME = "manifest.json"
EVENTS_NAME = "events.jsonl"
LOCK_NAME = ".lock"
SCHEMA_VERSION = 1

_DIGEST = {"type": "string", "pattern": "^[a-z0-9]+:[0-9a-f]+$"}
_FILE = {
    "type": "object",
    "required": ["path", "size", "hash"],
    "properties": {
        "path": {"type": "string"},
        "size": {"type": "integer", "minimum": 0},
        "hash": _DIGEST,
    },
    "additionalProperties": False,
}
_TIME = {"type": ["string", "null"]}
STEP_STATUSES = ["pending", "running", "completed", "skipped", "reused", "failed"]
RUN_STATUSES = ["running", "completed", "failed", "interrupted"]

MANIFEST_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "framework run manifest",
    "type": "object",
    "required": [
        "schema_version",
        "run_id",
        "status",
        "created_at",
        "updated_at",
        "command",
        "target",
        "plan",
        "versions",
        "git",
        "config",
        "config_hash",
        "execution",
        "steps",
        "hash_algorithm",
    ],
    "$defs": {
        "split": {
            "type": "object",
            "required": ["count", "hash"],
            "properties": {"count": {"type": "integer", "minimum": 0}, "hash": _DIGEST},
        },
    },
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "run_id": {"type": "string", "minLength": 1},
        "status": {"enum": RUN_STATUSES},
        "created_at": {"type": "string"},
        "updated_at": {"type": "string"},
        "command": {"type": "array", "items": {"type": "string"}},
        "target": {"type": "string"},
        "plan": {"type": "array", "items": {"type": "string"}},
        "hash_algorithm": {"const": ALGORITHM},
        "versions": {
            "type": "object",
            "required": ["framework", "python", "plugins"],
            "properties": {
                "framework": {"type": "string"},
                "python": {"type": "string"},
                "torch": {"type": ["string", "null"]},
                "plugins": {"type": "object", "additionalProperties": {"type": ["string", "null"]}},
            },
        },
        "git": {
            "type": "object",
            "required": ["commit", "dirty"],
            "properties": {
                "commit": {"type": ["string", "null"]},
                "dirty": {"type": ["boolean", "null"]},
            },
        },
        "config": {"type": "object", "additionalProperties": {"type": "object"}},
        "distributed": {
            "description": "present when the run was started by torch's launcher (torchrun)",
            "type": "object",
            "required": ["world_size", "backend"],
            "properties": {
                "world_size": {"type": "integer", "minimum": 1},
                "nproc_per_node": {"type": "integer", "minimum": 1},
                "backend": {"enum": ["gloo", "nccl"]},
            },
        },
        "config_hash": _DIGEST,
        "execution": {"type": "object"},
        "bridges": {
            "description": "step id -> bridge name -> the legacy dict it produced",
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "required": ["plugin", "values"],
                    "properties": {"plugin": {"type": "string"}, "values": {"type": "object"}},
                },
            },
        },
        "splits": {
            "description": "the latest recorded membership of each data split",
            "type": "object",
            "additionalProperties": {"$ref": "#/$defs/split"},
        },
        "steps": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["status"],
                "properties": {
                    "status": {"enum": STEP_STATUSES},
                    "started_at": _TIME,
                    "finished_at": _TIME,
                    "duration_s": {"type": ["number", "null"]},
                    "code_version": {"type": "string"},
                    "plugin_version": {"type": ["string", "null"]},
                    "config_hash": _DIGEST,
                    "fingerprint": _DIGEST,
                    "inputs": {"type": "array", "items": _FILE},
                    "dependencies": {
                        "description": "outside files or folders the step's config names",
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["field", "path", "size", "hash"],
                            "properties": {
                                "field": {"type": "string"},
                                "path": {"type": "string"},
                                "size": {"type": "integer", "minimum": 0},
                                "hash": {"anyOf": [_DIGEST, {"const": "missing"}]},
                            },
                            "additionalProperties": False,
                        },
                    },
                    "outputs": {"type": "array", "items": _FILE},
                    "reason": {"type": "string"},
                    "metrics": {
                        "description": "the last value of each metric the step logged",
                        "type": "object",
                    },
                    "splits": {
                        "description": "membership of the data splits the step recorded",
                        "type": "object",
                        "additionalProperties": {"$ref": "#/$defs/split"},
                    },
                    "error": {"type": ["string", "null"]},
                    "reused_from": {"type": "string"},
                },
            },
        },
    },
}


def utc_now() -> str:
    return (
        _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def new_run_id() -> str:
    """Sortable and unique: UTC time plus 4 random hex digits."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def check_run_id(run_id: str) -> str:
    from framework.errors import UsageError

    if (
        not run_id
        or run_id.startswith(".")
        or any(c in run_id for c in "/\\\0")
        or run_id != run_id.strip()
    ):
        raise UsageError(f"invalid run id {run_id!r}", hint="use letters, digits, '-', '_' and '.'")
    return run_id


def read_manifest(run_dir: Path, *, validate: bool = True) -> dict[str, Any]:
    """Load and check a manifest; a damaged one is refused, never silently replaced."""
    path = Path(run_dir) / MANIFEST_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(f"{path} does not exist", hint="is this a run directory?") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(
            f"{path} is corrupted (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            hint="move it away to start over, or use another --run-id",
        ) from None
    if validate:
        import jsonschema

        errors = list(jsonschema.Draft202012Validator(MANIFEST_SCHEMA).iter_errors(data))
        if errors:
            err = min(errors, key=lambda e: len(list(e.absolute_path)))
            where = "$" + "".join(
                f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path
            )
            raise ManifestError(
                f"{path} does not match the manifest schema at {where}: {err.message}",
                hint="move it away to start over, or use another --run-id",
            )
    return data


def write_manifest(run_dir: Path, manifest: dict[str, Any]) -> None:
    manifest["updated_at"] = utc_now()
    atomic_write_text(
        Path(run_dir) / MANIFEST_NAME,
        json.dumps(manifest, indent=2, sort_keys=False, allow_nan=False) + "\n",
    )


class RunLock:
    """An exclusive lock on a run directory (flock on ``.lock``), released on exit."""

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / LOCK_NAME
        self._fh: Any = None

    def __enter__(self) -> RunLock:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise RunLockedError(
                f"run directory {self.path.parent} is locked by {holder}",
                hint="wait for that run to finish, or choose another --run-id",
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        self._fh = fh
        return self

    @staticmethod
    def is_held(run_dir: Path) -> bool:
        """Whether a live process holds the lock of `run_dir` (a 'running' run whose lock
        is free died without a chance to record it)."""
        import fcntl

        path = Path(run_dir) / LOCK_NAME
        if not path.exists():
            return False
        with open(path) as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
            return False

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            with contextlib.suppress(OSError):
                self._fh.truncate(0)
            self._fh.close()
            self._fh = None


def format_metrics(metrics: dict[str, Any], digits: int = 6) -> str:
    """``loss=0.0105761  accuracy=0.5`` (floats to `digits` significant digits)."""
    return "  ".join(
        f"{k}={v:.{digits}g}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()
    )
