"""Run directories and their manifest: run ids, atomic read/write checked against the
schema (shipped as ``framework/schemas/manifest.schema.json``), and the run lock."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import secrets
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from framework.atomic import atomic_write_text
from framework.errors import ManifestError, RunLockedError, UsageError

MANIFEST_NAME = "manifest.json"
EVENTS_NAME = "events.jsonl"
LOCK_NAME = ".lock"
SCHEMA_VERSION = 1


@functools.cache
def manifest_schema() -> dict[str, Any]:
    """The JSON Schema every manifest matches, read when one is first validated."""
    return json.loads(
        resources.files("framework").joinpath("schemas/manifest.schema.json").read_text()
    )


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_run_id() -> str:
    """Sortable and unique: UTC time plus 4 random hex digits."""
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def check_run_id(run_id: str) -> str:
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

        errors = list(jsonschema.Draft202012Validator(manifest_schema()).iter_errors(data))
        if errors:
            err = min(errors, key=lambda e: len(e.absolute_path))
            raise ManifestError(
                f"{path} does not match the manifest schema at {err.json_path}: {err.message}",
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
        fh.truncate(0)  # append mode: the pid goes at the (new) end
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
            return False  # closing the file drops the shared lock

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            self._fh.truncate(0)
        self._fh.close()


def format_metrics(metrics: dict[str, Any], digits: int = 6) -> str:
    """``loss=0.0105761  accuracy=0.5`` (floats to `digits` significant digits)."""
    return "  ".join(
        f"{k}={v:.{digits}g}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()
    )
