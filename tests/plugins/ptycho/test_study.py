"""The dose x overlap study: preset, filters, dry run, manifest, and a real job."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.conftest import expect_error


def manifest_of(result) -> dict:
    line = [ln for ln in result.stdout.splitlines() if ln.startswith("study manifest: ")][-1]
    return json.loads(Path(line.split(": ", 1)[1].split(" (")[0]).read_text())


def test_study_preset_is_registered_through_the_sweep_hook():
    from framework.plugins import Plugins

    presets = {p.name: p for p, _ in Plugins().sweeps}
    preset = presets["ptycho.dose_overlap"]
    assert preset.matrix["nphotons"] == (1e3, 1e4, 1e5)
    assert set(preset.matrix["view"]) == {"baseline", "dense", "sparse"}


def test_dry_run_lists_all_nine_jobs_and_runs_none(cli, isolated):
    result = cli("ptycho-study", "--dry-run")
    assert result.exit_code == 0, result.stderr
    manifest = manifest_of(result)
    assert manifest["dry_run"] is True and len(manifest["jobs"]) == 9
    assert {j["status"] for j in manifest["jobs"]} == {"planned"}
    assert not any((isolated / "runs").glob("study-*"))


def test_study_manifest_records_timestamp_roots_filters_and_job_parameters(cli):
    manifest = manifest_of(cli("ptycho-study", "--dry-run", "--dose", "1e4"))
    assert {"timestamp", "roots", "filters", "dry_run", "jobs"} <= set(manifest)
    assert manifest["filters"]["dose"] == [1e4]
    job = manifest["jobs"][0]
    assert {"parameters", "run_id", "status", "run_dir"} <= set(job)


def test_filters_combine_dose_and_view(cli):
    jobs = manifest_of(cli("ptycho-study", "--dry-run", "--dose", "1e4", "--view", "dense"))["jobs"]
    assert [j["parameters"] for j in jobs] == [
        {"view": "dense", "nphotons": 1e4, "gridsize": 2, "overlap": 0.75}
    ]


def test_gridsize_filter_selects_the_views_with_that_gridsize(cli):
    jobs = manifest_of(cli("ptycho-study", "--dry-run", "--gridsize", "1"))["jobs"]
    assert {j["parameters"]["view"] for j in jobs} == {"baseline"} and len(jobs) == 3


def test_filters_that_match_nothing_are_an_informative_error(cli):
    expect_error(
        cli("ptycho-study", "--dose", "5e2", "--dry-run"),
        2,
        "no job of ptycho.dose_overlap",
        "doses 1000, 10000, 100000",
    )


def test_unknown_view_is_an_error_listing_the_views(cli):
    expect_error(
        cli("ptycho-study", "--view", "wide", "--dry-run"), 2, "'wide'", "baseline, dense, sparse"
    )


def test_each_job_runs_as_its_own_run_with_its_manifest(cli, isolated):
    result = cli(
        "ptycho-study",
        "--dose",
        "1e3",
        "--view",
        "baseline",
        "--flag",
        "object_size=128",
        "--flag",
        "overlap=0.4",
        "--flag",
        "max_epochs=1",
        "--flag",
        "n_filters_scale=0.25",
        "--flag",
        "iterations=2",
        "--flag",
        "refine_iterations=2",
        "--flag",
        "quiet=true",
    )
    assert result.exit_code == 0, result.stderr
    manifest = manifest_of(result)
    rows = list(csv.DictReader(Path(manifest["summary"]["csv"]).read_text().splitlines()))
    assert len(rows) == 1 and rows[0]["status"] == "completed"
    assert 0 < float(rows[0]["refined_amp_ssim"]) <= 1 and rows[0]["baseline_engine"]
    assert Path(manifest["summary"]["png"]).read_bytes()[:4] == b"\x89PNG"
    job = manifest["jobs"][0]
    assert job["status"] == "completed"
    run = json.loads(Path(job["paths"]["manifest"]).read_text())
    assert (
        run["config"]["ptycho.train"]["nphotons"] == 1e3
        and run["config"]["ptycho.train"]["gridsize"] == 1
    )
    assert Path(job["paths"]["metrics"]).exists()


def test_the_core_sweep_runs_the_same_jobs_as_the_study(cli):
    listed = cli("sweep", "--preset", "ptycho.dose_overlap", "--dry-run")
    assert listed.exit_code == 0, listed.stderr
    sweep_ids = {line.split()[0] for line in listed.stdout.splitlines() if "[would run]" in line}
    assert len(sweep_ids) == 9
    study = manifest_of(cli("ptycho-study", "--dry-run"))
    assert {j["run_id"] for j in study["jobs"]} == sweep_ids
    dense = cli(
        "sweep",
        "--preset",
        "ptycho.dose_overlap",
        "--filter",
        "gridsize == 2 and overlap > 0.5",
        "--dry-run",
    )
    assert dense.stdout.count("[would run]") == 3 and 'view="dense"' in dense.stdout


def test_summary_has_one_row_per_job_and_a_figure(tmp_path):
    from framework_ptycho.summary import job_row, write_summary

    rows = []
    for i, (view, dose) in enumerate([("dense", 1e3), ("dense", 1e4), ("sparse", 1e4)]):
        metrics = tmp_path / f"metrics{i}.json"
        scored = {"amplitude": {"ssim": 0.5 + i / 10}, "phase": {"ssim": 0.7}, "frc50": 0.3}
        metrics.write_text(
            json.dumps(
                {
                    name: {**scored, "seconds": 1.0, "engine": name}
                    for name in ("pinn", "refined", "baseline")
                }
            )
        )
        rows.append(job_row({"view": view, "nphotons": dose}, "completed", metrics))
    rows.append(job_row({"view": "sparse", "nphotons": 1e5}, "failed", None))
    csv_path, png_path = write_summary(tmp_path / "study", rows)
    read = list(csv.DictReader(csv_path.read_text().splitlines()))
    assert [r["status"] for r in read] == ["completed"] * 3 + ["failed"]
    assert float(read[2]["pinn_amp_ssim"]) == 0.7 and read[3]["pinn_amp_ssim"] == ""
    assert png_path.read_bytes()[:4] == b"\x89PNG"
