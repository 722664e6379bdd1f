"""The dose x overlap study: the preset's core sweep, with the study's own filters.

`framework ptycho-study --dose 1e4 --view dense` selects jobs of the preset
``ptycho.dose_overlap`` and runs them as the core's `framework sweep` does (any executor,
the sweep manifest, resume); `study_manifest.json` adds the study's view of them: roots,
filters, dry run, and each job's parameters, run id, status and paths.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
from framework import Flag, FrameworkError, UsageError

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


def _extra_flags(flags: tuple[str, ...]) -> dict[str, Flag]:
    out = {}
    for item in flags:
        name, eq, value = item.partition("=")
        if not eq or not name:
            raise UsageError(f"--flag {item!r}: expected FIELD=VALUE (e.g. max_epochs=5)")
        name = name.strip().lstrip("-").replace("-", "_")
        out[name] = Flag(value, f"--flag {name}")
    return out


def _filters(jobs: list[dict[str, Any]]) -> list[str]:
    """Core sweep filters that select exactly `jobs` (already checked by `expand`)."""
    doses = sorted({j["nphotons"] for j in jobs})
    views = sorted({j["view"] for j in jobs})
    return [f"nphotons in {doses!r}", f"view in {views!r}"]


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
    executor: str = "local",
    max_parallel: int | None = None,
    retries: int = 0,
) -> Path:
    """Select, run (unless dry) and write study_manifest.json; returns its path.

    The jobs are the core sweep of the preset (`framework sweep --preset
    ptycho.dose_overlap` runs the same ones): same sweep id, same run ids, same resume.
    """
    from framework import SweepOptions, plan_sweep, preset_spec, run_sweep, sweep_failure

    jobs = expand(doses, views, gridsizes)
    extra = _extra_flags(flags)
    spec = preset_spec(
        PRESET,
        filters=_filters(jobs),
        base_flags=extra,
        config_file=config_file,
        base_args=[arg for name, flag in extra.items() for arg in flag.argv(name)],
    )
    sweep = plan_sweep(spec, root=artifact_root)
    folder = Path(study_dir) if study_dir else sweep.root / "studies" / sweep.sweep_id
    by_id = {j.run_id: j for j in sweep.jobs}
    for job in sweep.jobs:
        click.echo(f"{job.run_id}  {json.dumps(job.parameters, sort_keys=True)}")
    outcome = None
    if not dry_run:
        options = SweepOptions(
            executor=executor, max_parallel=max_parallel, retries=retries, fail_fast=fail_fast
        )
        outcome = run_sweep(
            sweep,
            options=options,
            command=["framework", "ptycho-study", *_argv(doses, views, gridsizes, flags)],
        )
    entries = []
    recorded = {j["run_id"]: j for j in (outcome.manifest["jobs"] if outcome else [])}
    for run_id, job in by_id.items():
        run_dir = sweep.root / run_id
        view = job.parameters["view"]
        entry: dict[str, Any] = {
            "parameters": {"view": view, "nphotons": job.parameters["nphotons"], **VIEWS[view]},
            "run_id": run_id,
            "status": recorded.get(run_id, {}).get("status", "planned"),
            "run_dir": str(run_dir),
        }
        if recorded.get(run_id, {}).get("error"):
            entry["error"] = recorded[run_id]["error"]
        if outcome is not None:
            metrics = run_dir / "metrics.json"
            entry["paths"] = {
                "manifest": str(run_dir / "manifest.json"),
                "metrics": str(metrics) if metrics.exists() else None,
            }
        entries.append(entry)
    manifest = {
        "preset": PRESET,
        "target": TARGET,
        "study_id": sweep.sweep_id,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "roots": {"artifact_root": str(sweep.root), "study_dir": str(folder.resolve())},
        "filters": {"dose": list(doses), "view": list(views), "gridsize": list(gridsizes)},
        "extra_flags": {k: v[0] for k, v in extra.items()},
        "config_file": config_file,
        "dry_run": dry_run,
        "executor": executor,
        "sweep_manifest": None if dry_run else str(sweep.manifest_path),
        "jobs": entries,
    }
    if outcome is not None:
        from framework_ptycho.summary import job_row, write_summary

        rows = [
            job_row(
                e["parameters"],
                e["status"],
                Path(e["paths"]["metrics"]) if e["paths"]["metrics"] else None,
            )
            for e in entries
        ]
        csv_path, png_path = write_summary(folder, rows)
        manifest["summary"] = {"csv": str(csv_path), "png": str(png_path)}
    path = _write(folder, manifest)
    click.echo(f"study manifest: {path}")
    if outcome is not None:
        click.echo(f"summary: {csv_path}  {png_path}")
    error = sweep_failure(outcome) if outcome is not None else None
    if error is not None:
        raise StudyFailed(error.message, hint=error.hint)
    return path


def _argv(
    doses: tuple[float, ...],
    views: tuple[str, ...],
    gridsizes: tuple[int, ...],
    flags: tuple[str, ...],
) -> list[str]:
    return (
        [f"--dose={d:g}" for d in doses]
        + [f"--view={v}" for v in views]
        + [f"--gridsize={g}" for g in gridsizes]
        + [f"--flag={f}" for f in flags]
    )


def _write(folder: Path, manifest: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "study_manifest.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
