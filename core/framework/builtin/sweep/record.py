"""The sweep manifest: kept current as jobs move from queued to running to done, read
back safely, and listed by `framework sweeps`."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from framework.atomic import atomic_write_text
from framework.builtin.sweep.grid import plain
from framework.errors import ManifestError, UsageError
from framework.manifest import utc_now
from framework.steps import did_you_mean

if TYPE_CHECKING:
    from framework import JobUpdate
    from framework.builtin.sweep.planning import Sweep

SWEEP_SCHEMA_VERSION = 1
SWEEP_MANIFEST = "sweep_manifest.json"
SWEEPS_DIR = "sweeps"
# A job's status in the sweep manifest: planned (dry run), the executor states, and
# skipped (done and up to date before the sweep started).
# The final ones are an executor's (`framework.JobResult`); the file's vocabulary is fixed here.
STATUSES: tuple[str, ...] = ("planned", "queued", "running", "skipped")
STATUSES += ("completed", "failed", "interrupted", "lost", "cancelled")
DONE = ("completed", "skipped")


class SweepRecord:
    """The sweep manifest in memory, written atomically on every change."""

    def __init__(self, sweep: Sweep, header: dict[str, Any], previous: dict[str, Any] | None):
        self.sweep = sweep
        self.lock = threading.Lock()
        old_jobs = {j["run_id"]: j for j in (previous or {}).get("jobs", [])}
        self.data: dict[str, Any] = {
            "schema_version": SWEEP_SCHEMA_VERSION,
            "sweep_id": sweep.sweep_id,
            "created_at": (previous or {}).get("created_at") or utc_now(),
            "updated_at": utc_now(),
            "status": "running",
            **header,
            "jobs": [],
        }
        self.by_id: dict[str, dict[str, Any]] = {}
        for job in sweep.jobs:
            old = old_jobs.get(job.run_id, {})
            entry = {
                "index": job.index,
                "run_id": job.run_id,
                "run_dir": str(sweep.root / job.run_id),
                "parameters": {k: plain(v) for k, v in job.parameters.items()},
                "status": "planned",
                "attempts": int(old.get("attempts", 0)),
                "where": old.get("where"),
                "error": None,
                "command": list(job.request.command) if job.request else [],
            }
            self.data["jobs"].append(entry)
            self.by_id[job.run_id] = entry
        # Jobs of an earlier invocation that this one leaves out (a filter) stay listed.
        for run_id, old in old_jobs.items():
            if run_id not in self.by_id:
                self.data["jobs"].append(old)

    def update(self, update: JobUpdate) -> dict[str, Any]:
        with self.lock:
            entry = self.by_id[update.run_id]
            entry["status"] = update.status
            now = utc_now()
            if update.where:
                entry["where"] = update.where
            if update.status == "queued":
                entry.update(queued_at=now, started_at=None, finished_at=None, error=None)
                entry.pop("traceback", None)
                entry.pop("duration_s", None)
                entry["_t0"] = None
            elif update.status == "running":
                entry["attempts"] += 1
                entry["started_at"] = now
                entry["_t0"] = time.monotonic()
            else:
                if entry.get("started_at") is None and update.status != "cancelled":
                    entry["attempts"] += 1  # an engine that never said it started
                entry["finished_at"] = now
                if entry.get("_t0") is not None:
                    entry["duration_s"] = round(time.monotonic() - entry["_t0"], 3)
                if update.error:
                    entry["error"] = update.error
                if update.traceback:
                    entry["traceback"] = update.traceback
                if update.status in ("completed", "failed", "interrupted"):
                    entry["manifest"] = str(Path(entry["run_dir"]) / "manifest.json")
            self.save()
            return entry

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for entry in self.data["jobs"]:
            out[entry["status"]] = out.get(entry["status"], 0) + 1
        return out

    def save(self) -> None:
        self.data["updated_at"] = utc_now()
        self.data["counts"] = self.counts()
        data = dict(self.data)
        data["jobs"] = [{k: v for k, v in j.items() if not k.startswith("_")} for j in data["jobs"]]
        self.sweep.folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            self.sweep.manifest_path, json.dumps(data, indent=2, allow_nan=False) + "\n"
        )


def read_sweep_manifest(path: Path) -> dict[str, Any]:
    """Load a sweep manifest, refusing a damaged one (never silently replaced)."""
    import jsonschema

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ManifestError(
            f"sweep manifest {path} is unreadable: {exc}",
            hint="move it away to start the sweep afresh",
        ) from None
    errors = list(jsonschema.Draft202012Validator(SWEEP_MANIFEST_SCHEMA).iter_errors(data))
    if errors:
        where = "$" + "".join(
            f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in errors[0].absolute_path
        )
        raise ManifestError(
            f"sweep manifest {path} is invalid at {where}: {errors[0].message}",
            hint="move it away to start the sweep afresh",
        )
    return data


SWEEP_MANIFEST_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "framework sweep manifest",
    "type": "object",
    "required": [
        "schema_version",
        "sweep_id",
        "status",
        "target",
        "executor",
        "created_at",
        "updated_at",
        "parameters",
        "jobs",
    ],
    "properties": {
        "schema_version": {"const": SWEEP_SCHEMA_VERSION},
        "sweep_id": {"type": "string", "minLength": 1},
        "status": {"enum": ["running", "completed", "failed", "interrupted"]},
        "target": {"type": "string"},
        "preset": {"type": ["string", "null"]},
        "command": {"type": "array", "items": {"type": "string"}},
        "executor": {"type": "string"},
        "max_parallel": {"type": ["integer", "null"], "minimum": 1},
        "retries": {"type": "integer", "minimum": 0},
        "fail_fast": {"type": "boolean"},
        "resources": {"type": "object"},
        "artifact_root": {"type": "string"},
        "parameters": {
            "type": "object",
            "description": "the grid: axis -> values",
            "additionalProperties": {"type": "array"},
        },
        "filters": {"type": "array", "items": {"type": "string"}},
        "config_file": {"type": ["string", "null"]},
        "sets": {"type": "array", "items": {"type": "string"}},
        "created_at": {"type": "string"},
        "updated_at": {"type": "string"},
        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
        "jobs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["index", "run_id", "run_dir", "parameters", "status", "attempts"],
                "properties": {
                    "index": {"type": "integer", "minimum": 0},
                    "run_id": {"type": "string", "minLength": 1},
                    "run_dir": {"type": "string"},
                    "parameters": {"type": "object"},
                    "status": {"enum": list(STATUSES)},
                    "reason": {"type": "string"},
                    "attempts": {"type": "integer", "minimum": 0},
                    "where": {
                        "type": ["string", "null"],
                        "description": "host:pid, Slurm job id or Ray node it ran on",
                    },
                    "error": {"type": ["string", "null"]},
                    "traceback": {"type": "string"},
                    "command": {"type": "array", "items": {"type": "string"}},
                    "manifest": {"type": "string", "description": "the job's run manifest"},
                    "queued_at": {"type": ["string", "null"]},
                    "started_at": {"type": ["string", "null"]},
                    "finished_at": {"type": ["string", "null"]},
                    "duration_s": {"type": "number", "minimum": 0},
                },
            },
        },
    },
}


# -- looking back ---------------------------------------------------------------------------


def list_sweeps(root: Path) -> list[dict[str, Any]]:
    """The sweep manifests under `root`, oldest first (unreadable ones are skipped)."""
    found = []
    for path in sorted((root / SWEEPS_DIR).glob(f"*/{SWEEP_MANIFEST}")):
        try:
            found.append(read_sweep_manifest(path))
        except ManifestError:
            continue
    return sorted(found, key=lambda m: (m["created_at"], m["sweep_id"]))


def find_sweep(root: Path, sweep_id: str) -> dict[str, Any]:
    if sweep_id == "latest":
        sweeps = list_sweeps(root)
        if not sweeps:
            raise UsageError(f"no sweeps under {root / SWEEPS_DIR}")
        return sweeps[-1]
    path = root / SWEEPS_DIR / sweep_id / SWEEP_MANIFEST
    if not path.is_file():
        known = [m["sweep_id"] for m in list_sweeps(root)]
        raise UsageError(
            f"no sweep '{sweep_id}' under {root / SWEEPS_DIR}{did_you_mean(sweep_id, known)}",
            hint="see 'framework sweeps'",
        )
    return read_sweep_manifest(path)


def job_metrics(job: dict[str, Any], target: str) -> dict[str, Any]:
    """The metrics the job's run recorded for the sweep's target step (empty if none)."""
    from framework.manifest import read_manifest

    run_dir = Path(job["run_dir"])
    if not (run_dir / "manifest.json").is_file():
        return {}
    try:
        run = read_manifest(run_dir, validate=False)
    except ManifestError:
        return {}
    return dict(run.get("steps", {}).get(target, {}).get("metrics", {}))


def manifest_schema() -> dict[str, Any]:
    """The sweep manifest's JSON Schema, as `framework schema` writes it."""
    return SWEEP_MANIFEST_SCHEMA
