"""`framework sweep`: grid, filters, presets, the sweep manifest, resume, failures, executors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest
from framework.builtin.sweep.filters import Filter
from framework.builtin.sweep.grid import split_values
from framework.builtin.sweep.record import SWEEP_MANIFEST_SCHEMA

from tests.conftest import expect_error, read_manifest

# A step whose behaviour the sweep's parameters choose: fine, raise, or kill its worker.
FLAKY = """
import os, time
import attrs
from framework import Step, SweepPreset, hookimpl, field

@attrs.define
class Config:
    value: int = field(1, help="what to compute")
    mode: str = field("ok", choices=["ok", "raise", "fragile", "die", "die_once", "sleep"], help="how to behave")
    width: float = field(1.0, help="a second knob")

def work(ctx):
    mode = ctx.config.mode
    if mode == "raise" or (mode == "fragile" and os.path.exists(f"cursed-{ctx.config.value}")):
        raise RuntimeError(f"value {ctx.config.value} is cursed")
    if mode == "die" or (mode == "die_once" and not os.path.exists(f"died-{ctx.config.value}")):
        open(f"died-{ctx.config.value}", "w").close()
        os._exit(9)
    if mode == "sleep":
        time.sleep(30)
    ctx.write_json("out.json", {"value": ctx.config.value, "width": ctx.config.width, "pid": os.getpid()})

@hookimpl
def register_steps(register):
    register(Step(id="flaky.work", run=__name__ + ":work", config=__name__ + ":Config",
                  outputs=["out.json"], description="behaves as told"))

@hookimpl
def register_sweeps(register):
    register(SweepPreset(name="flaky.shapes", step="flaky.work",
                         matrix={"value": (1, 2), "shape": {"thin": {"width": 0.5},
                                                           "wide": {"width": 4.0, "value": 7}}},
                         description="a bundle axis"))
"""


@pytest.fixture
def flaky(plugin_site):
    return plugin_site.add("flaky", FLAKY)


def sweep_manifest(root: Path) -> dict:
    (path,) = (root / "runs" / "sweeps").glob("*/sweep_manifest.json")
    data = json.loads(path.read_text())
    jsonschema.Draft202012Validator(SWEEP_MANIFEST_SCHEMA).validate(data)
    return data


def statuses(manifest: dict) -> dict[str, str]:
    return {json.dumps(j["parameters"], sort_keys=True): j["status"] for j in manifest["jobs"]}


def output(run_dir: str) -> dict:
    return json.loads((Path(run_dir) / "out.json").read_text())


# -- grid, manifest, resume ---------------------------------------------------------------


def test_each_grid_point_is_its_own_run_listed_in_the_sweep_manifest(cli, pipeline, isolated):
    result = cli("sweep", "pipe.report", "-p", "scale=1,3", "-p", "mode=sum,max", "--size", "4")
    assert result.exit_code == 0, result.stderr
    manifest = sweep_manifest(isolated)
    assert manifest["status"] == "completed" and manifest["executor"] == "local"
    assert manifest["parameters"] == {"scale": [1.0, 3.0], "mode": ["sum", "max"]}
    assert len(manifest["jobs"]) == 4
    for job in manifest["jobs"]:
        assert job["status"] == "completed" and job["where"] and job["attempts"] == 1
        run = read_manifest(job["run_dir"])
        assert run["status"] == "completed" and run["run_id"] == job["run_id"]
        config = run["config"]["pipe.train"]
        assert (config["scale"], config["mode"], config["size"]) == (
            job["parameters"]["scale"],
            job["parameters"]["mode"],
            4,
        )
        value = json.loads((Path(job["run_dir"]) / "model" / "value.json").read_text())["value"]
        numbers = range(4)
        expected = (sum if config["mode"] == "sum" else max)(numbers) * config["scale"]
        assert value == expected


def test_the_recorded_job_command_repeats_the_run(cli, pipeline, isolated):
    assert cli("sweep", "pipe.report", "-p", "scale=5", "--size", "3").exit_code == 0
    (job,) = sweep_manifest(isolated)["jobs"]
    assert job["command"][:2] == ["framework", "run"]
    again = cli(*job["command"][1:])
    assert again.exit_code == 0, again.stderr
    steps = read_manifest(job["run_dir"])["steps"]
    assert {s["status"] for s in steps.values()} == {"skipped"}


def test_dry_run_lists_the_jobs_and_writes_nothing(cli, pipeline, isolated):
    result = cli("sweep", "pipe.report", "-p", "scale=1,2,3,1.0", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("[would run]") == 3
    assert not (isolated / "runs").exists()


def test_running_the_same_sweep_again_skips_the_jobs_that_are_done(cli, pipeline, isolated):
    args = ("sweep", "pipe.report", "-p", "scale=1,2")
    assert cli(*args).exit_code == 0
    first = sweep_manifest(isolated)
    again = cli(*args)
    assert again.exit_code == 0, again.stderr
    second = sweep_manifest(isolated)
    assert second["sweep_id"] == first["sweep_id"]
    assert set(statuses(second).values()) == {"skipped"}
    # An artifact that changed makes its job stale: only that one runs again.
    stale = first["jobs"][1]["run_dir"]
    (Path(stale) / "report.txt").write_text("edited")
    assert cli(*args).exit_code == 0
    third = {j["run_id"]: j["status"] for j in sweep_manifest(isolated)["jobs"]}
    assert third == {first["jobs"][0]["run_id"]: "skipped", first["jobs"][1]["run_id"]: "completed"}


def test_adding_a_value_to_an_axis_keeps_the_sweep_and_its_finished_jobs(cli, pipeline, isolated):
    assert cli("sweep", "pipe.report", "-p", "scale=1,2").exit_code == 0
    assert cli("sweep", "pipe.report", "-p", "scale=1,2,4").exit_code == 0
    manifest = sweep_manifest(isolated)
    assert statuses(manifest) == {
        '{"scale": 1.0}': "skipped",
        '{"scale": 2.0}': "skipped",
        '{"scale": 4.0}': "completed",
    }


def test_a_dry_run_of_a_finished_sweep_says_up_to_date(cli, pipeline, isolated):
    assert cli("sweep", "pipe.report", "-p", "scale=1,2").exit_code == 0
    result = cli("sweep", "pipe.report", "-p", "scale=1,2,3", "--dry-run")
    assert result.stdout.count("[up to date]") == 2 and result.stdout.count("[would run]") == 1


# -- filters --------------------------------------------------------------------------------


def test_filters_keep_only_the_matching_jobs(cli, pipeline, isolated):
    result = cli(
        "sweep",
        "pipe.report",
        "-p",
        "scale=1,2,3",
        "-p",
        "mode=sum,max",
        "--filter",
        "scale * 2 >= 4 and mode != 'max'",
        "--filter",
        "scale in [2, 3]",
    )
    assert result.exit_code == 0, result.stderr
    assert statuses(sweep_manifest(isolated)) == {
        '{"mode": "sum", "scale": 2.0}': "completed",
        '{"mode": "sum", "scale": 3.0}': "completed",
    }


@pytest.mark.parametrize(
    ("expression", "needle"),
    [
        ("scael > 1", "unknown name 'scael' (did you mean 'scale'?)"),
        ("__import__('os').system('true')", "Call is not allowed"),
        ("scale >", "not an expression"),
        ("scale > 100", "no job of the sweep passes the filters"),
    ],
)
def test_bad_or_empty_filters_are_one_clear_error(cli, pipeline, expression, needle):
    expect_error(cli("sweep", "pipe.report", "-p", "scale=1,2", "--filter", expression), 2, needle)


def test_filter_evaluation_matches_python_on_plain_expressions():
    values = {"a": 3, "b": 0.5, "name": "x", "train.lr": 0.1}
    for text in ["a > 2 and b < 1", "not a == 3", "a * b == 1.5", "name in ['x', 'y']", "-a < 0"]:
        assert Filter(text)(values) == eval(text, {}, dict(values))  # the reference
    assert Filter("train.lr < 1")(values) is True


def test_list_values_stay_whole_inside_brackets():
    assert split_values("1,2") == ["1", "2"]
    assert split_values("[1,2],[3,4]") == ["1,2", "3,4"]


# -- errors before anything runs ----------------------------------------------------------


def test_an_invalid_value_in_any_job_stops_the_sweep_before_it_starts(cli, pipeline, isolated):
    expect_error(cli("sweep", "pipe.report", "-p", "size=4,0"), 2, "size", "minimum of 1")
    assert not (isolated / "runs").exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["-p", "scael=1,2"], "no step of the plan for pipe.report has a field 'scael'"),
        (["-p", "scale"], "expected FIELD=VALUE1,VALUE2"),
        (["-p", "scale=x"], "'x' is not a number"),
        (["-p", "scale=1", "--executor", "lcoal"], "unknown executor 'lcoal'"),
        ([], "nothing to sweep over"),
        (["--preset", "nope"], "unknown sweep preset 'nope'"),
    ],
)
def test_usage_mistakes_are_one_clear_error(cli, pipeline, args, needle):
    expect_error(cli("sweep", "pipe.report", *args), 2, needle)


def test_sweep_help_lists_the_plan_fields_and_presets(cli, flaky):
    result = cli("sweep", "--help")
    assert result.exit_code == 0 and "--executor" in result.stdout
    assert cli("sweep", "flaky.work", "--help").stdout.count("--width") == 1
    listing = cli("sweep", "--presets").stdout
    assert "flaky.shapes" in listing and "a bundle axis" in listing


# -- presets and config files ----------------------------------------------------------------


def test_a_preset_expands_bundles_and_filters_see_their_fields(cli, flaky, isolated):
    result = cli("sweep", "--preset", "flaky.shapes", "--filter", "width < 4 or value == 7")
    assert result.exit_code == 0, result.stderr
    manifest = sweep_manifest(isolated)
    assert manifest["preset"] == "flaky.shapes" and manifest["target"] == "flaky.work"
    got = sorted(
        (j["parameters"]["value"], j["parameters"]["shape"], output(j["run_dir"])["value"])
        for j in manifest["jobs"]
    )
    # "wide" sets value=7 itself, overriding the value axis: both of its jobs compute 7.
    assert got == [(1, "thin", 1), (1, "wide", 7), (2, "thin", 2), (2, "wide", 7)]
    widths = {output(j["run_dir"])["width"] for j in manifest["jobs"]}
    assert widths == {0.5, 4.0}


def test_a_param_on_the_command_line_replaces_the_presets_axis(cli, flaky, isolated):
    assert cli("sweep", "--preset", "flaky.shapes", "-p", "value=5").exit_code == 0
    values = sorted(j["parameters"]["value"] for j in sweep_manifest(isolated)["jobs"])
    assert values == [5, 5]


def test_a_config_file_gives_the_grid_the_executor_and_the_base_config(cli, flaky, isolated):
    Path("sweep.yaml").write_text(
        "flaky.work:\n  width: 2.5\n"
        "sweep:\n  executor: process\n  max_parallel: 2\n  params:\n    value: [3, 4]\n"
    )
    result = cli("sweep", "flaky.work", "--config", "sweep.yaml")
    assert result.exit_code == 0, result.stderr
    manifest = sweep_manifest(isolated)
    assert manifest["executor"] == "process" and manifest["max_parallel"] == 2
    assert sorted(output(j["run_dir"])["value"] for j in manifest["jobs"]) == [3, 4]
    assert {output(j["run_dir"])["width"] for j in manifest["jobs"]} == {2.5}
    # The same file works for a plain run: the sweep section is the sweep's alone.
    assert cli("run", "flaky.work", "--config", "sweep.yaml").exit_code == 0


def test_a_typo_in_the_sweep_section_is_one_clear_error(cli, flaky):
    Path("sweep.yaml").write_text("sweep:\n  max_paralel: 2\n")
    expect_error(
        cli("sweep", "flaky.work", "-p", "value=1", "--config", "sweep.yaml"),
        2,
        "$.sweep.max_paralel",
        "did you mean 'max_parallel'",
    )


# -- failures -----------------------------------------------------------------------------------


def test_a_failing_job_is_recorded_with_its_traceback_and_the_others_run(cli, flaky, isolated):
    result = cli("sweep", "flaky.work", "-p", "mode=ok,raise", "-p", "value=1")
    assert result.exit_code == 1
    assert "1 of 2 sweep jobs did not complete" in result.err_lines[-1]
    manifest = sweep_manifest(isolated)
    assert manifest["status"] == "failed"
    bad = next(j for j in manifest["jobs"] if j["status"] == "failed")
    assert "value 1 is cursed" in bad["error"]
    assert "RuntimeError: value 1 is cursed" in bad["traceback"]
    assert read_manifest(bad["run_dir"])["status"] == "failed"
    assert [j["status"] for j in manifest["jobs"]].count("completed") == 1


def test_fail_fast_cancels_what_has_not_run(cli, flaky, isolated):
    result = cli("sweep", "flaky.work", "-p", "mode=raise,ok", "-p", "value=1,2", "--fail-fast")
    assert result.exit_code == 1
    jobs = sweep_manifest(isolated)["jobs"]
    assert [j["status"] for j in jobs] == ["failed", "cancelled", "cancelled", "cancelled"]
    assert all(not Path(j["run_dir"]).exists() for j in jobs[1:])


def test_failed_jobs_run_again_when_the_sweep_is_resumed(cli, flaky, isolated):
    args = ("sweep", "flaky.work", "-p", "value=1,2", "--set", "work.mode=fragile")
    Path("cursed-2").touch()
    assert cli(*args).exit_code == 1
    assert [j["status"] for j in sweep_manifest(isolated)["jobs"]] == ["completed", "failed"]
    Path("cursed-2").unlink()  # the cause is fixed outside the config
    assert cli(*args).exit_code == 0
    jobs = sweep_manifest(isolated)["jobs"]
    assert [(j["status"], j["attempts"]) for j in jobs] == [("skipped", 1), ("completed", 2)]
    assert "error" not in jobs[1] or jobs[1]["error"] is None


# -- the process executor ---------------------------------------------------------------------


def test_the_process_executor_runs_each_job_in_its_own_process(cli, flaky, isolated):
    result = cli("sweep", "flaky.work", "-p", "value=1,2,3", "--executor", "process")
    assert result.exit_code == 0, result.stderr
    manifest = sweep_manifest(isolated)
    pids = {output(j["run_dir"])["pid"] for j in manifest["jobs"]}
    assert len(pids) == 3 and os.getpid() not in pids
    for job in manifest["jobs"]:
        assert job["where"].endswith(f":{output(job['run_dir'])['pid']}")
        log = isolated / "runs" / "sweeps" / manifest["sweep_id"] / "logs" / f"{job['run_id']}.log"
        assert log.is_file()


def test_a_worker_that_dies_is_lost_and_retries_run_it_again(cli, flaky, isolated):
    args = ("sweep", "flaky.work", "-p", "value=1,2", "--executor", "process")
    result = cli(*args, "--set", "work.mode=die_once")
    assert result.exit_code == 1
    jobs = sweep_manifest(isolated)["jobs"]
    assert {j["status"] for j in jobs} == {"lost"}
    assert all("died without an answer (exit code 9)" in j["error"] for j in jobs)
    for path in isolated.glob("died-*"):
        path.unlink()
    retried = cli(*args, "--set", "work.mode=die_once", "--retries", "1")
    assert retried.exit_code == 0, retried.stderr
    jobs = sweep_manifest(isolated)["jobs"]
    assert {j["status"] for j in jobs} == {"completed"}
    assert {j["attempts"] for j in jobs} == {3}  # lost once before, lost once, then done


def test_ctrl_c_cancels_outstanding_jobs_and_leaves_a_valid_manifest(flaky, isolated):
    env = dict(os.environ)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "framework",
            "sweep",
            "flaky.work",
            "-p",
            "value=1,2,3",
            "--set",
            "work.mode=sleep",
            "--executor",
            "process",
            "--max-parallel",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until the first job's step is running
        try:
            job = sweep_manifest(isolated)["jobs"][0]
            if read_manifest(job["run_dir"])["steps"]["flaky.work"]["status"] == "running":
                break
        except (ValueError, FileNotFoundError, KeyError):
            pass
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl+C at a terminal does: the whole group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    manifest = sweep_manifest(isolated)
    assert manifest["status"] == "interrupted"
    assert [j["status"] for j in manifest["jobs"]] == ["cancelled"] * 3
    run = read_manifest(manifest["jobs"][0]["run_dir"])
    assert run["status"] == "interrupted"  # the job recorded its own end
    assert not Path(manifest["jobs"][1]["run_dir"]).exists()


# -- executors are plugins ------------------------------------------------------------------

EXECUTOR_PLUGIN = """
from framework import hookimpl
from framework.builtin.executors.local import LocalExecutor

ORDER = []

class Backwards:
    '''Runs the jobs last to first, in process, through the local executor.'''
    name = "backwards"

    def run(self, batch):
        batch.requests = list(reversed(batch.requests))
        ORDER.extend(r.run_id for r in batch.requests)
        return LocalExecutor().run(batch)

@hookimpl
def register_executors(register):
    register("backwards", __name__ + ":Backwards")
"""


def test_a_plugin_executor_runs_the_sweep(cli, pipeline, plugin_site, isolated):
    import importlib

    module = plugin_site.add("backwards", EXECUTOR_PLUGIN)
    result = cli("sweep", "pipe.report", "-p", "scale=1,2,3", "--executor", "backwards")
    assert result.exit_code == 0, result.stderr
    manifest = sweep_manifest(isolated)
    assert manifest["executor"] == "backwards"
    assert {j["status"] for j in manifest["jobs"]} == {"completed"}
    order = importlib.import_module(module).ORDER
    assert order == [j["run_id"] for j in reversed(manifest["jobs"])]


SETTINGS_PLUGIN = """
import attrs
from framework import field, hookimpl
from framework.builtin.executors.local import LocalExecutor

SEEN = []

@attrs.define
class QueueSettings:
    queue: str = field("default", help="queued: the queue to use")

class Queued(LocalExecutor):
    '''The local executor, with an option of its own.'''
    name = "queued"
    settings = QueueSettings

    def run(self, batch):
        SEEN.append(batch.settings.queue)
        return super().run(batch)

@hookimpl
def register_executors(register):
    register("queued", __name__ + ":Queued")
"""


def test_an_executors_settings_are_sweep_options_and_sweep_section_keys(
    cli, pipeline, plugin_site, isolated
):
    import importlib

    module = plugin_site.add("queued", SETTINGS_PLUGIN)
    assert "--queue" in cli("sweep", "pipe.report", "--help").stdout
    args = ("sweep", "pipe.report", "-p", "scale=1,2", "--executor", "queued")
    assert cli(*args, "--queue", "fast").exit_code == 0
    assert sweep_manifest(isolated)["resources"]["queue"] == "fast"
    (isolated / "sweep.yaml").write_text("sweep:\n  queue: slow\n")
    assert cli(*args, "--config", "sweep.yaml", "--force").exit_code == 0
    assert importlib.import_module(module).SEEN == ["fast", "slow"]


def test_blocking_the_sweep_plugin_removes_its_commands_with_one_clear_line(cli, pipeline):
    result = cli("--no-plugin", "sweep", "sweep", "pipe.report", "-p", "scale=1,2")
    expect_error(result, 2, "No such command 'sweep'")
    assert "sweep: disabled" in result.stderr
    assert "sweeps" not in cli("--no-plugin", "sweep", "--help").stdout


# -- looking back at sweeps -------------------------------------------------------------------


def test_sweeps_lists_them_and_shows_each_jobs_metrics(cli, pipeline, isolated):
    assert cli("sweep", "pipe.train", "-p", "scale=1,3", "--size", "4").exit_code == 0
    listing = cli("sweeps")
    assert (
        listing.exit_code == 0
        and "pipe.train" in listing.stdout
        and "completed 2" in listing.stdout
    )
    shown = cli("sweeps", "latest", "--json")
    jobs = json.loads(shown.stdout)["jobs"]
    # the train step logged value = sum(range(4)) * scale
    assert sorted(j["metrics"]["value"] for j in jobs) == [6.0, 18.0]
    text = cli("sweeps", "latest").stdout
    assert "value=6" in text and "value=18" in text
    expect_error(cli("sweeps", "nope"), 2, "no sweep 'nope'")
