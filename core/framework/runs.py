"""Looking back at runs: list them, summarise one, verify its artifacts on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from framework.errors import ManifestError, UsageError
from framework.hashing import hash_file
from framework.manifest import MANIFEST_NAME, RunLock, read_manifest


@attrs.frozen
class RunSummary:
    run_id: str
    created_at: str
    target: str
    status: str


def list_runs(root: Path) -> list[RunSummary]:
    """Runs under `root`, oldest first; unreadable manifests show as 'corrupted'."""
    out: list[RunSummary] = []
    if not root.is_dir():
        return out
    for child in sorted(root.iterdir()):
        if child.name.startswith(".") or not (child / MANIFEST_NAME).is_file():
            continue
        try:
            m = read_manifest(child, validate=False)
            if m.get("status") == "running" and not RunLock.is_held(child):
                m["status"] = "died"  # killed before it could record how it ended
            out.append(
                RunSummary(
                    child.name, m.get("created_at", "?"), m.get("target", "?"), m.get("status", "?")
                )
            )
        except ManifestError:
            out.append(RunSummary(child.name, "?", "?", "corrupted"))
    return sorted(out, key=lambda r: (r.created_at, r.run_id))


def find_run(root: Path, run: str) -> Path:
    """A run dir from an id or a path; 'latest' is the newest run."""
    if run == "latest":
        runs = list_runs(root)
        if not runs:
            raise UsageError(f"no runs under {root}")
        return root / runs[-1].run_id
    for candidate in (Path(run), root / run):
        if (candidate / MANIFEST_NAME).is_file():
            return candidate
    known = [r.run_id for r in list_runs(root)]
    from framework.steps import did_you_mean

    raise UsageError(
        f"no run '{run}' under {root}{did_you_mean(run, known)}", hint="see 'framework runs'"
    )


@attrs.frozen
class Drift:
    step: str
    path: str
    problem: str  # "changed" | "missing"


def verify(run_dir: Path) -> tuple[int, list[Drift]]:
    """Re-hash every recorded artifact (no stat cache: this is the audit)."""
    manifest = read_manifest(run_dir)
    checked = 0
    drift: list[Drift] = []
    for step_id, record in manifest["steps"].items():
        for kind in ("outputs", "inputs"):
            for art in record.get(kind, []):
                full = run_dir / art["path"]
                checked += 1
                if not full.is_file():
                    drift.append(Drift(step_id, art["path"], "missing"))
                elif hash_file(full) != art["hash"]:
                    drift.append(Drift(step_id, art["path"], "changed"))
    unique = list(dict.fromkeys(drift))
    return checked, unique


def summary_lines(manifest: dict[str, Any]) -> list[str]:
    git = manifest["git"]
    dirty = " (dirty)" if git.get("dirty") else ""
    lines = [
        f"run       {manifest['run_id']}  [{manifest['status']}]",
        f"target    {manifest['target']}",
        f"created   {manifest['created_at']}   updated {manifest['updated_at']}",
        f"command   {' '.join(manifest['command'])}",
        f"git       {git.get('commit') or 'not a git checkout'}{dirty}",
        f"versions  framework {manifest['versions']['framework']}, python {manifest['versions']['python']}, torch {manifest['versions'].get('torch') or '-'}",
        f"config    {manifest['config_hash']}",
        "steps",
    ]
    for step_id in manifest["plan"]:
        rec = manifest["steps"].get(step_id, {})
        took = f"{rec['duration_s']:.2f}s" if rec.get("duration_s") is not None else ""
        lines.append(
            f"  {step_id:<40} {rec.get('status', '?'):<10} {took:>9}  {rec.get('error') or rec.get('reason') or ''}"
        )
        if rec.get("metrics"):
            lines.append("      metrics  " + format_metrics(rec["metrics"]))
        for out in rec.get("outputs", []):
            lines.append(f"      {out['path']}  {out['size']} B  {out['hash'][:19]}")
    return lines


def format_metrics(metrics: dict[str, Any], digits: int = 6) -> str:
    """``loss=0.0105761  accuracy=0.5`` (floats to `digits` significant digits)."""
    return "  ".join(
        f"{k}={v:.{digits}g}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()
    )
