"""The dose x overlap study: expand the preset, filter it, run each job as its own run.

Jobs go through the core's executor (``framework.run_jobs``, local for now) and
`study_manifest.json` records the roots, filters and every job's parameters, run id,
status and paths. A later core `framework sweep` can run the same preset.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import click
from framework import FrameworkError, UsageError

from framework_ptycho.presets import DOSES, VIEWS

PRESET = "ptycho.dose_overlap"


class StudyFailed(FrameworkError):
    """Some jobs of the study failed (exit code 1, like a failed step)."""

    exit_code = 1


TARGET = "ptycho.evaluate"


def expand(
    doses: tuple[float, ...], views: tuple[str, ...], gridsizes: tuple[int, ...]
) -> list[dict[str, Any]]:
    """The preset's jobs that pass every filter (an empty filter passes everything)."""
    unknown = [v for v in views if v not in VIEWS]
    if unknown:
        raise UsageError(
            f"unknown view {unknown[0]!r} for {PRESET}: choose from {', '.join(VIEWS)}"
        )
    jobs = [
        {"view": view, "nphotons": dose, **fields}
        for dose in DOSES
        for view, fields in VIEWS.items()
        if (not doses or any(abs(dose - d) <= 1e-9 * dose for d in doses))
        and (not views or view in views)
        and (not gridsizes or fields["gridsize"] in gridsizes)
    ]
    if not jobs:
        offered = f"doses {', '.join(f'{d:g}' for d in DOSES)}; views " + ", ".join(
            f"{v} (gridsize {f['gridsize']})" for v, f in VIEWS.items()
        )
        raise UsageError(
            f"no job of {PRESET} matches --dose {list(doses) or 'any'} --view {list(views) or 'any'} --gridsize {list(gridsizes) or 'any'}",
            hint=f"the preset has {offered}",
        )
    return jobs


def _extra_flags(flags: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    out = {}
    for item in flags:
        name, eq, value = item.partition("=")
        if not eq or not name:
            raise UsageError(f"--flag {item!r}: expected FIELD=VALUE (e.g. max_epochs=5)")
        name = name.strip().lstrip("-").replace("-", "_")
        out[name] = (value, f"--flag {name}")
    return out


def _request(
    job: dict[str, Any],
    run_id: str,
    root: str,
    extra: dict[str, tuple[str, str]],
    config_file: str | None,
) -> Any:
    from framework import RunRequest

    preset = {
        name: (str(job[name]), f"{PRESET} {name}") for name in ("nphotons", "gridsize", "overlap")
    }
    return RunRequest(
        target=TARGET,
        artifact_root=root,
        run_id=run_id,
        config_file=config_file,
        flags={**extra, **preset},
        command=[
            "framework",
            "ptycho-study",
            f"--dose={job['nphotons']:g}",
            f"--view={job['view']}",
        ],
    )


def run_study(
    *,
    doses: tuple[float, ...],
    views: tuple[str, ...],
    gridsizes: tuple[int, ...],
    dry_run: bool,
    artifact_root: str | None,
    study_dir: str | None,
    config_file: str | None,
    flags: tuple[str, ...],
    fail_fast: bool,
) -> Path:
    """Expand, filter, run (unless dry) and write study_manifest.json; returns its path."""
    jobs = expand(doses, views, gridsizes)
    extra = _extra_flags(flags)
    root = artifact_root or os.environ.get("FRAMEWORK_ARTIFACT_ROOT") or "runs"
    study_id = time.strftime("study-%Y%m%d-%H%M%S", time.gmtime()) + f"-{os.getpid() % 10000:04d}"
    folder = Path(study_dir) if study_dir else Path(root) / "studies" / study_id
    entries = []
    for job in jobs:
        run_id = f"{study_id}-{job['view']}-{job['nphotons']:g}"
        entries.append(
            {
                "parameters": job,
                "run_id": run_id,
                "status": "planned",
                "run_dir": str(Path(root) / run_id),
            }
        )
    manifest = {
        "preset": PRESET,
        "target": TARGET,
        "study_id": study_id,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "roots": {"artifact_root": str(Path(root).resolve()), "study_dir": str(folder.resolve())},
        "filters": {"dose": list(doses), "view": list(views), "gridsize": list(gridsizes)},
        "extra_flags": {k: v[0] for k, v in extra.items()},
        "config_file": config_file,
        "dry_run": dry_run,
        "executor": "local",
        "jobs": entries,
    }
    for entry in entries:
        click.echo(f"{entry['run_id']}  {json.dumps(entry['parameters'], sort_keys=True)}")
    if not dry_run:
        from framework import run_jobs

        requests = [
            _request(e["parameters"], e["run_id"], root, extra, config_file) for e in entries
        ]
        results = {r.run_id: r for r in run_jobs(requests, fail_fast=fail_fast)}
        for entry in entries:
            result = results.get(entry["run_id"])
            entry["status"] = result.status if result else "not run"
            if result and result.error:
                entry["error"] = result.error
            metrics = Path(entry["run_dir"]) / "metrics.json"
            entry["paths"] = {
                "manifest": str(Path(entry["run_dir"]) / "manifest.json"),
                "metrics": str(metrics) if metrics.exists() else None,
            }
    path = _write(folder, manifest)
    failed = [e for e in entries if e["status"] not in ("planned", "completed")]
    click.echo(
        f"study manifest: {path}"
        + (f" ({len(failed)} of {len(entries)} jobs failed)" if failed else "")
    )
    if failed:
        raise StudyFailed(
            f"{len(failed)} of {len(entries)} study jobs failed, first: {failed[0]['run_id']}: {failed[0].get('error')}"
        )
    return path


def _write(folder: Path, manifest: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "study_manifest.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
