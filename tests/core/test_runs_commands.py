"""Looking back at runs: `framework runs`, `show` and `verify`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import read_manifest

RUNS = Path("runs")


@pytest.fixture
def two_runs(cli, pipeline):
    """'zz-old' (pipe.train) then 'aa-new' (pipe.report): id order is the reverse of age."""
    for target, run_id in (("pipe.train", "zz-old"), ("pipe.report", "aa-new")):
        result = cli("run", target, "--run-id", run_id, "--quiet")
        assert result.exit_code == 0, result.stderr
    return ["zz-old", "aa-new"]


def test_runs_lists_id_date_target_and_status_oldest_first(cli, two_runs):
    result = cli("runs")
    assert result.exit_code == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    expected = []
    for run_id in two_runs:
        manifest = read_manifest(RUNS / run_id)
        expected.append([run_id, manifest["created_at"], "completed", manifest["target"]])
    assert rows == expected


def test_runs_shows_a_failed_run_as_failed(cli, plugin_site):
    plugin_site.add(
        "bad",
        """
        from framework import Step, hookimpl

        def boom(ctx):
            raise RuntimeError("no")

        @hookimpl
        def register_steps(register):
            register(Step(id="bad.boom", run=__name__ + ":boom"))
        """,
    )
    assert cli("run", "bad.boom", "--run-id", "broken").exit_code == 1
    assert cli("runs").stdout.split()[2:] == ["failed", "bad.boom"]


def test_runs_marks_an_unreadable_manifest_corrupted(cli, two_runs):
    (RUNS / "zz-old" / "manifest.json").write_text("{not json")
    rows = [line.split() for line in cli("runs").stdout.splitlines()]
    assert ["zz-old", "?", "corrupted", "?"] in rows


def test_runs_under_another_artifact_root(cli, pipeline):
    assert (
        cli("run", "pipe.prepare", "--run-id", "elsewhere", "--artifact-root", "out").exit_code == 0
    )
    assert cli("runs").stdout.startswith("no runs under runs")
    assert cli("runs", "--artifact-root", "out").stdout.split()[0] == "elsewhere"


def test_runs_with_no_runs_says_so(cli):
    result = cli("runs")
    assert result.exit_code == 0
    assert result.stdout.strip() == "no runs under runs"


def test_show_summarises_a_run(cli, two_runs):
    result = cli("show", "zz-old")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    manifest = read_manifest(RUNS / "zz-old")
    assert "zz-old" in out
    assert "[completed]" in out
    assert "pipe.train" in out
    assert manifest["config_hash"] in out
    assert " ".join(manifest["command"]) in out
    for step in manifest["plan"]:
        assert any(
            line.split()[:2] == [step, "completed"] for line in out.splitlines() if line.strip()
        )
    assert "model/value.json" in out


def test_show_latest_is_the_newest_run(cli, two_runs):
    result = cli("show", "latest")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0].split()[1] == "aa-new"


def test_show_accepts_a_run_dir_path(cli, two_runs):
    result = cli("show", str(RUNS / "zz-old"))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0].split()[1] == "zz-old"


def test_show_json_prints_the_manifest(cli, two_runs):
    result = cli("show", "aa-new", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == read_manifest(RUNS / "aa-new")


@pytest.mark.parametrize("command", ["show", "verify"])
def test_unknown_run_id_exits_2_with_did_you_mean(cli, two_runs, command):
    result = cli(command, "aa-nwe")
    assert result.exit_code == 2
    assert len(result.err_lines) == 1, result.stderr
    assert result.err_lines[0].startswith("error: no run 'aa-nwe'")
    assert "did you mean 'aa-new'" in result.err_lines[0]
    assert "Traceback" not in result.stderr


def test_show_latest_without_runs_exits_2(cli):
    result = cli("show", "latest")
    assert result.exit_code == 2
    assert result.err_lines == ["error: no runs under runs"]


def test_show_refuses_a_manifest_that_breaks_the_schema(cli, two_runs):
    path = RUNS / "aa-new" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["status"] = "finished"
    path.write_text(json.dumps(manifest))
    result = cli("show", "aa-new")
    assert result.exit_code == 2
    assert len(result.err_lines) == 1, result.stderr
    assert "does not match the manifest schema at $.status" in result.err_lines[0]


def test_verify_a_run_whose_artifacts_are_intact(cli, two_runs):
    result = cli("verify", "aa-new")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("ok: 3 outputs and 0 inputs")  # each file once


def test_verify_reports_an_artifact_changed_after_the_run(cli, two_runs):
    (RUNS / "aa-new" / "report.txt").write_text("value=0\n")
    result = cli("verify", "aa-new")
    assert result.exit_code == 1
    assert result.stdout.split() == ["changed", "report.txt", "(step", "pipe.report)"]
    assert len(result.err_lines) == 1, result.stderr
    assert result.err_lines[0].startswith("error: 1 of the 3 outputs and 0 inputs")
    assert "Traceback" not in result.stderr


def test_verify_reports_an_artifact_that_vanished(cli, two_runs):
    (RUNS / "aa-new" / "data" / "numbers.json").unlink()
    result = cli("verify", "aa-new")
    assert result.exit_code == 1
    assert "missing  data/numbers.json  (step pipe.prepare)" in result.stdout
    assert len(result.err_lines) == 1, result.stderr
    assert "changed or vanished" in result.err_lines[0]


def test_blocked_history_has_no_runs_commands_and_says_why(cli):
    result = cli("--no-plugin", "history", "runs")

    assert result.exit_code == 2
    assert "history: disabled" in result.stderr
