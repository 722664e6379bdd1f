"""Looking back at runs: list them, summarise one, verify its artifacts on disk."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import attrs

from framework.errors import ManifestError, UsageError
from framework.hashing import hash_file
from framework.manifest import MANIFEST_NAME, RunLock, format_metrics, read_manifest


@attrs.frozen
class RunSummary:
    run_id: str
    created_at: str
    target: str
    status: str
    updated_at: str = "?"


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
            created = m.get("created_at", "?")
            out.append(
                RunSummary(
                    child.name,
                    created,
                    m.get("target", "?"),
                    m.get("status", "?"),
                    m.get("updated_at", created),
                )
            )
        except ManifestError:
            out.append(RunSummary(child.name, "?", "?", "corrupted"))
    return sorted(out, key=lambda r: (r.created_at, r.run_id))


def find_run(root: Path, run: str) -> Path:
    """A run dir from an id or a path; 'latest' is the run whose manifest was updated last
    (the run just run, even when it was created long ago)."""
    if run == "latest":
        runs = list_runs(root)
        if not runs:
            raise UsageError(f"no runs under {root}")
        return root / max(runs, key=lambda r: (r.updated_at, r.run_id)).run_id
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
    shared_with: tuple[str, ...] = ()  # other runs holding the same file (one inode)


@attrs.frozen
class Verification:
    outputs: int  # distinct files each counted once
    inputs: int
    drift: list[Drift]

    def counts(self) -> str:
        return f"{self.outputs} outputs and {self.inputs} inputs"


def verify(run_dir: Path) -> Verification:
    """Re-hash every recorded artifact (no stat cache: this is the audit).

    A file that is also another step's input is counted once, as an output. A file
    that changed while it shares its inode with other runs names them: they changed too.
    """
    manifest = read_manifest(run_dir)
    expected: dict[str, tuple[str, str, str]] = {}  # path -> (hash, step, kind)
    for kind in ("outputs", "inputs"):
        for step_id, record in manifest["steps"].items():
            for art in record.get(kind, []):
                expected.setdefault(art["path"], (art["hash"], step_id, kind))
    drift: list[Drift] = []
    for rel, (digest, step_id, _) in expected.items():
        full = run_dir / rel
        if not full.is_file():
            drift.append(Drift(step_id, rel, "missing"))
        elif hash_file(full) != digest:
            drift.append(Drift(step_id, rel, "changed", _sharing_runs(run_dir, full)))
    kinds = [kind for _, _, kind in expected.values()]
    return Verification(kinds.count("outputs"), kinds.count("inputs"), drift)


def _sharing_runs(run_dir: Path, path: Path) -> tuple[str, ...]:
    """Other runs under the same root whose recorded files are this very file."""
    st = path.stat()
    if st.st_nlink < 2:
        return ()
    found = []
    for other in list_runs(run_dir.parent):
        other_dir = run_dir.parent / other.run_id
        if other_dir.resolve() == run_dir.resolve():
            continue
        try:
            m = read_manifest(other_dir, validate=False)
        except ManifestError:
            continue
        paths = {a["path"] for r in m.get("steps", {}).values() for a in r.get("outputs", [])}
        if any(_same_inode(other_dir / p, st) for p in paths):
            found.append(other.run_id)
    return tuple(found)


def _same_inode(path: Path, st: os.stat_result) -> bool:
    try:
        other = path.stat()
    except OSError:
        return False
    return (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino)


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
