"""What a run records: the manifest it starts from, its `run_started` event, each step's
record-to-be with the state that fingerprints it, the bridges and upstream splits it gets."""

from __future__ import annotations

import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from framework import __version__, dag
from framework.config import canonical_json, config_hash
from framework.errors import UsageError
from framework.execution import RankInfo
from framework.freshness import DONE, StepState, dependency_records, file_records
from framework.hashing import ALGORITHM, HashCache
from framework.manifest import SCHEMA_VERSION, utc_now
from framework.plugins import Plugins, import_object
from framework.prepare import EXECUTION, Prepared


def initial_manifest(
    prepared: Prepared,
    plugins: Plugins,
    run_id: str,
    previous: dict[str, Any] | None,
    rank: RankInfo,
    backend: str | None,
) -> dict[str, Any]:
    """The manifest as the run starts: this plan's config over what `previous` recorded."""
    previous = previous or {}
    resolved = prepared.resolver.resolved()
    step_configs = {k: v for k, v in resolved.items() if k != EXECUTION}
    plugin_versions = {i.name: i.version for i in plugins.active() if i.status == "loaded"}
    manifest: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "status": "running",
        "created_at": previous.get("created_at", utc_now()),
        "updated_at": utc_now(),
        "command": list(prepared.request.command),
        "target": prepared.target,
        "plan": list(prepared.plan),
        "hash_algorithm": ALGORITHM,
        "versions": {
            "framework": _installed("framework") or __version__,
            "python": platform.python_version(),
            "torch": _installed("torch"),
            "plugins": dict(sorted(plugin_versions.items())),
        },
        "git": git_state(),
        "config": {**previous.get("config", {}), **step_configs},
        "config_hash": config_hash(resolved),
        "execution": resolved[EXECUTION],
        "bridges": dict(previous.get("bridges", {})),
        "splits": dict(previous.get("splits", {})),
        "steps": dict(previous.get("steps", {})),
    }
    for step_id in prepared.plan:
        manifest["steps"].setdefault(step_id, {"status": "pending"})
    if backend is not None:
        manifest["distributed"] = {
            "world_size": rank.world_size,
            "nproc_per_node": rank.local_world_size,
            "backend": backend,
        }
    return manifest


def git_state() -> dict[str, Any]:
    """``{"commit": sha or None, "dirty": bool or None}`` for the working directory."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], capture_output=True, text=True, timeout=10, check=True
        )
        return done.stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit or None, "dirty": dirty}


def _installed(name: str) -> str | None:
    """The installed distribution's version; None: not installed."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def start_fields(prepared: Prepared, plugins: Plugins, manifest: dict[str, Any]) -> dict[str, Any]:
    """The `run_started` event: what runs, with which config, and what overrode defaults."""
    overrides = {
        key: {name: src for name, src in sources.items() if not src.startswith("default")}
        for key, sources in prepared.resolver.provenance().items()
    }
    return {
        "run_id": manifest["run_id"],
        "target": prepared.target,
        "plan": prepared.plan,
        "config_hash": manifest["config_hash"],
        "git_commit": manifest["git"]["commit"],
        "git_dirty": manifest["git"]["dirty"],
        "plugins": {i.name: i.version for i in plugins.active()},
        "hooks": plugins.hook_names(),
        "config": {
            "values": prepared.resolver.resolved(),
            "overrides": {k: v for k, v in overrides.items() if v},
        },
    }


def apply_bridges(run: Any, step_id: str, config: Any) -> dict[str, dict[str, Any]]:
    """Each bridge registered for this step, applied exactly once, recorded in the manifest."""
    legacy: dict[str, dict[str, Any]] = {}
    for bridge, plugin in run.plugins.bridges:
        if step_id not in bridge.steps:
            continue
        values = import_object(bridge.function)(config)
        if not isinstance(values, dict):
            raise UsageError(
                f"config bridge {bridge.name} ({plugin}) returned {type(values).__name__}, not a dict"
            )
        plain = json.loads(canonical_json(values))
        legacy[bridge.name] = values
        run.manifest["bridges"].setdefault(step_id, {})[bridge.name] = {
            "plugin": plugin,
            "values": plain,
        }
        run.emit("bridge_applied", step_id, bridge=bridge.name, keys=sorted(plain))
    return legacy


def upstream_splits(
    plugins: Plugins, step_id: str, manifest: dict[str, Any]
) -> dict[str, tuple[str, str]]:
    """Split name -> (hash, step) as recorded by the completed steps `step_id` depends on."""
    seen: dict[str, tuple[str, str]] = {}
    for up in sorted(dag.upstream(plugins.steps, step_id) - {step_id}):
        record = manifest["steps"].get(up, {})
        if record.get("status") in DONE:
            for name, split in record.get("splits", {}).items():
                seen.setdefault(name, (split["hash"], up))
    return seen


def step_record(
    prepared: Prepared, step_id: str, run_dir: Path, hashes: HashCache, rank: RankInfo
) -> tuple[dict[str, Any], StepState]:
    """The step's record-to-be (inputs, dependencies, hashes) and its fingerprint state."""
    entry = prepared.steps[step_id]
    spec = entry.spec
    inputs = file_records(
        run_dir, spec.inputs, hashes, required=True, what=f"step {step_id}: declared input"
    )
    config = prepared.resolver.resolved().get(step_id, {})
    section = prepared.resolver.sections.get(step_id)
    fields = section.fields() if section else ()
    named = {f.name: str(config[f.name]) for f in fields if f.dependency and config.get(f.name)}
    unhashed = tuple(f.name for f in fields if not f.fingerprint)
    dependencies = dependency_records(named, hashes)
    state = StepState(
        step=step_id,
        code_version=spec.version,
        plugin_version=entry.plugin_version,
        config={k: v for k, v in config.items() if k not in unhashed},
        execution=prepared.execution.fingerprint_values(rank),
        inputs={i["path"]: i["hash"] for i in inputs},
        dependencies={d["field"]: d["hash"] for d in dependencies},
        unhashed=unhashed,
    )
    record: dict[str, Any] = {
        "status": "pending",
        "code_version": spec.version,
        "plugin_version": entry.plugin_version,
        "config_hash": config_hash(state.config),
        "fingerprint": state.fingerprint(),
        "execution": state.execution,
        "inputs": inputs,
    }
    if dependencies:
        record["dependencies"] = dependencies
    return record, state
