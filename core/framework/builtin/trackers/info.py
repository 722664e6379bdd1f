"""What trackers record of a run, taken from the run as the hooks see it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# Where `framework sweep` keeps a sweep's manifest (its documented place on disk).
SWEEPS_DIR = "sweeps"
SWEEP_MANIFEST = "sweep_manifest.json"
TRACKER_DIRS = {"tensorboard"}  # a run's own tracker output, never logged back as artifacts


class RunInfo:
    """The run's identity, resolved config and provenance, as plain values."""

    __slots__ = (
        "config",
        "config_hash",
        "git_commit",
        "plugin",
        "root",
        "run_dir",
        "run_id",
        "sweep_id",
        "target",
    )

    def __init__(
        self,
        *,
        run_id: str,
        run_dir: Path,
        target: str,
        plugin: str,
        config: dict[str, Any],
        config_hash: str,
        git_commit: str | None,
        sweep_id: str | None,
    ) -> None:
        self.run_id = run_id
        self.run_dir = Path(run_dir)
        self.root = self.run_dir.parent
        self.target = target
        self.plugin = plugin
        self.config = config
        self.config_hash = config_hash
        self.git_commit = git_commit
        self.sweep_id = sweep_id

    @classmethod
    def of(cls, run: Any) -> RunInfo:
        manifest = run.manifest
        config = {**manifest.get("config", {}), "execution": manifest.get("execution", {})}
        return cls(
            run_id=run.run_id,
            run_dir=run.run_dir,
            target=run.target,
            plugin=run.plugins.steps.get(run.target).plugin,
            config={k: v for k, v in config.items() if k in (*run.plan, "execution")},
            config_hash=manifest.get("config_hash", ""),
            git_commit=(manifest.get("git") or {}).get("commit"),
            sweep_id=sweep_of(run.run_dir),
        )

    def tags(self) -> dict[str, str]:
        tags = {
            "framework.run_id": self.run_id,
            "framework.step": self.target,
            "framework.plugin": self.plugin,
            "framework.config_hash": self.config_hash,
            "framework.git_commit": self.git_commit or "unknown",
        }
        if self.sweep_id:
            tags["framework.sweep_id"] = self.sweep_id
        return tags

    def params(self) -> dict[str, str]:
        """The resolved config flattened: ``lm.train.learning_rate`` -> ``"0.002"``."""
        from framework.config import flatten_config

        return {k: _text(v) for k, v in flatten_config(self.config).items()}

    def config_text(self) -> str:
        return json.dumps(self.config, indent=2, sort_keys=True)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def sweep_of(run_dir: Path) -> str | None:
    """The sweep whose job this run is: its id prefixes the run id (``<sweep>-<params>``)
    and its manifest, written before any job starts, lists the run."""
    run_id = run_dir.name
    sweeps = run_dir.parent / SWEEPS_DIR
    for cut in (i for i, ch in enumerate(run_id) if ch == "-"):
        manifest = sweeps / run_id[:cut] / SWEEP_MANIFEST
        if not manifest.is_file():
            continue
        try:
            jobs = json.loads(manifest.read_text(encoding="utf-8")).get("jobs", [])
        except (OSError, ValueError):
            continue
        if any(job.get("run_id") == run_id for job in jobs):
            return run_id[:cut]
    return None


def numeric(metrics: dict[str, Any]) -> dict[str, float]:
    """The metrics a tracker can plot: numbers (NaN and infinities included), not `step`."""
    out = {}
    for key, value in metrics.items():
        if key == "step" or isinstance(value, bool):
            continue
        if isinstance(value, (int, float)) or value in ("nan", "inf", "-inf"):
            out[key] = float(value)
    return out


def run_files(run_dir: Path) -> list[tuple[Path, str]]:
    """(file, folder relative to the run) for the manifest and every PNG of the run."""
    files = [(run_dir / "manifest.json", "")] if (run_dir / "manifest.json").is_file() else []
    for png in sorted(run_dir.rglob("*.png")):
        rel = png.relative_to(run_dir)
        if rel.parts[0] not in TRACKER_DIRS:
            files.append((png, rel.parent.as_posix() if rel.parent != Path(".") else ""))
    return files
