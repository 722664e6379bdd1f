"""Runs as a user sees them: run dirs, skipping and re-running, the store, manifests, errors."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import framework.hashing
import jsonschema
import pytest
from framework.freshness import StepState
from framework.manifest import manifest_schema

from tests.conftest import PIPELINE, expect_error, read_events, read_manifest

RUN = Path("runs") / "r1"

# Steps that misbehave in one way each; `edge.first` is a well-behaved upstream.
EDGE = """
import attrs
from framework import Step, field, hookimpl

@attrs.define
class PathConfig:
    path: str = field("ok.txt", help="where write_to writes")

SAMPLES = {"TRAIN": [1, 2, 3], "TEST": [4, 5]}

def first(ctx):
    ctx.write_text("first.txt", "first\\n")

def explode(ctx):
    raise ValueError("bad value")

def write_to(ctx):
    ctx.write_text(ctx.config.path, "x")

def read_undeclared(ctx):
    ctx.input("first.txt")

def lazy(ctx):
    pass

def half(ctx):
    with ctx.output("half.txt") as tmp:
        tmp.write_text("partial")
        raise RuntimeError("died mid-write")

def interrupt(ctx):
    raise KeyboardInterrupt

def split_train(ctx):
    ctx.splits.record(SAMPLES)
    ctx.write_json("train.json", ctx.splits.read("TRAIN", list, SAMPLES["TRAIN"]))

def peek(ctx):
    ctx.splits.record(SAMPLES)
    ctx.splits.read("TEST", list, SAMPLES["TEST"])

def overlap(ctx):
    ctx.splits.record({"TRAIN": [1, 2, 3], "TEST": [3, 4]})

@hookimpl
def register_steps(register):
    def step(name, **kw):
        register(Step(id="edge." + name, run=__name__ + ":" + name, **kw))
    step("first", outputs=["first.txt"])
    step("explode", requires=["first"])
    step("write_to", config=__name__ + ":PathConfig", outputs=["ok.txt"])
    step("read_undeclared", requires=["first"])
    step("lazy", outputs=["never.txt"])
    step("half", outputs=["half.txt"])
    step("interrupt", requires=["first"])
    step("split_train", splits=["TRAIN"], outputs=["train.json"])
    step("peek", splits=["TRAIN"])
    step("overlap", splits=["TRAIN", "TEST"])
"""

# Records every lifecycle hook it sees, and what manifest.json on disk says after each step.
RECORDER = """
import json
from framework import hookimpl

SEEN = []
METRICS = []
ON_DISK = []

@hookimpl
def before_run(run):
    SEEN.append(("before_run",))

@hookimpl
def before_step(run, step):
    SEEN.append(("before_step", step.id))

@hookimpl
def after_step(run, step, result):
    SEEN.append(("after_step", step.id, result["status"]))
    on_disk = json.loads((run.run_dir / "manifest.json").read_text())
    ON_DISK.append((step.id, on_disk["steps"][step.id]["status"]))

@hookimpl
def on_step_error(run, step, error):
    SEEN.append(("on_step_error", step.id, type(error).__name__))

@hookimpl
def after_run(run, status):
    SEEN.append(("after_run", status))

@hookimpl
def on_metrics(run, step, metrics):
    METRICS.append((step.id, dict(metrics)))
"""


@pytest.fixture
def edge(plugin_site):
    return plugin_site.add("edge", EDGE)


@pytest.fixture
def recorder(plugin_site):
    """The recording plugin's module, imported as the runner will import it."""
    name = plugin_site.add("rec", RECORDER)
    __import__(name)
    return sys.modules[name]


def calls(module: str) -> list[str]:
    """The step callables the `pipe` plugin ran, in order."""
    return sys.modules[module].CALLS


def run_ok(cli, *args: str):
    result = cli("run", *args)
    assert result.exit_code == 0, result.stderr
    return result


def statuses(run_dir: Path) -> dict[str, str]:
    return {step: rec["status"] for step, rec in read_manifest(run_dir)["steps"].items()}


# -- where runs live ------------------------------------------------------------------


def test_run_id_names_the_run_dir_under_artifact_root(cli, pipeline, isolated):
    run_ok(cli, "pipe.report", "--run-id", "exp1", "--artifact-root", "out")
    assert read_manifest(isolated / "out" / "exp1")["run_id"] == "exp1"
    assert not (isolated / "runs").exists()


def test_artifact_root_comes_from_the_environment(cli, pipeline, isolated, monkeypatch):
    monkeypatch.setenv("FRAMEWORK_ARTIFACT_ROOT", str(isolated / "elsewhere"))
    run_ok(cli, "pipe.report", "--run-id", "exp1")
    assert (isolated / "elsewhere" / "exp1" / "report.txt").read_text() == "value=56.0\n"
    assert not (isolated / "runs").exists()


def test_runs_without_run_id_get_a_fresh_dir_each(cli, pipeline, isolated):
    run_ok(cli, "pipe.report")
    run_ok(cli, "pipe.report")
    run_dirs = [p for p in (isolated / "runs").iterdir() if not p.name.startswith(".")]
    assert len(run_dirs) == 2
    assert all((p / "manifest.json").is_file() for p in run_dirs)


# -- up to date, stale, forced ----------------------------------------------------------


def test_same_run_id_again_skips_up_to_date_steps_and_says_why(cli, pipeline):
    run_ok(cli, "pipe.report", "--run-id", "r1")
    calls(pipeline).clear()
    result = run_ok(cli, "pipe.report", "--run-id", "r1")
    assert calls(pipeline) == []
    assert statuses(RUN) == dict.fromkeys(["pipe.prepare", "pipe.train", "pipe.report"], "skipped")
    assert result.stdout.count("up to date") >= 3
    assert "fingerprint and outputs match" in result.stdout


def test_changed_config_reruns_that_step_and_downstream_and_says_what_changed(cli, pipeline):
    run_ok(cli, "pipe.report", "--run-id", "r1")
    calls(pipeline).clear()
    result = run_ok(cli, "pipe.report", "--run-id", "r1", "--scale", "3")
    assert calls(pipeline) == ["train", "report"]
    assert statuses(RUN)["pipe.prepare"] == "skipped"
    assert "scale 2.0 -> 3.0" in result.stdout
    assert (RUN / "report.txt").read_text() == "value=84.0\n"


def test_downstream_step_reruns_when_its_input_content_changed(cli, pipeline):
    run_ok(cli, "pipe.report", "--run-id", "r1")
    before = read_manifest(RUN)["steps"]["pipe.report"]["fingerprint"]
    result = run_ok(cli, "pipe.report", "--run-id", "r1", "--scale", "3")
    report = read_manifest(RUN)["steps"]["pipe.report"]
    assert report["status"] == "completed"
    assert report["fingerprint"] != before
    assert "input model/value.json" in result.stdout


# A step whose config names an outside file or folder it reads (`dependency=True`).
READER = """
import attrs
from pathlib import Path
from framework import Step, field, hookimpl

@attrs.define
class ReadConfig:
    data: str = field("", dependency=True, help="a file or folder to read")
    label: str = field("x", help="an ordinary value")
    every: int = field(10, fingerprint=False, help="how often it would report")

CALLS = []

def read(ctx):
    CALLS.append("read")
    ctx.write_text("copy.txt", ctx.config.label)

@hookimpl
def register_steps(register):
    register(Step(id="reader.read", run=__name__ + ":read", config=__name__ + ":ReadConfig",
                  outputs=["copy.txt"]))
"""


def test_editing_a_dependency_file_makes_its_step_stale_and_says_so(cli, plugin_site, tmp_path):
    module = plugin_site.add("reader", READER)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("first version")
    run_ok(cli, "reader.read", "--run-id", "r1", "--data", str(corpus))
    run_ok(cli, "reader.read", "--run-id", "r1", "--data", str(corpus))
    assert calls(module) == ["read"]
    corpus.write_text("second version!")
    result = run_ok(cli, "reader.read", "--run-id", "r1", "--data", str(corpus))
    assert calls(module) == ["read", "read"]
    assert "content of data" in result.stdout
    manifest = read_manifest(RUN)
    jsonschema.validate(manifest, manifest_schema())
    (dep,) = manifest["steps"]["reader.read"]["dependencies"]
    expected = "sha256:" + hashlib.sha256(b"second version!").hexdigest()
    assert dep == {"field": "data", "path": str(corpus), "size": 15, "hash": expected}


def test_a_file_added_to_a_dependency_folder_makes_its_step_stale(cli, plugin_site, tmp_path):
    module = plugin_site.add("reader", READER)
    folder = tmp_path / "images" / "cat"
    folder.mkdir(parents=True)
    (folder / "a.png").write_bytes(b"a")
    args = ("reader.read", "--run-id", "r1", "--data", str(tmp_path / "images"))
    run_ok(cli, *args)
    (folder / ".hidden").write_bytes(b"ignored")
    run_ok(cli, *args)
    assert calls(module) == ["read"]
    (folder / "b.png").write_bytes(b"b")
    run_ok(cli, *args)
    assert calls(module) == ["read", "read"]
    assert read_manifest(RUN)["steps"]["reader.read"]["dependencies"][0]["size"] == 2


def test_a_dependency_value_naming_nothing_on_disk_counts_by_its_words(cli, plugin_site):
    # A word the step knows (a shipped model's name): no content to hash, no record.
    module = plugin_site.add("reader", READER)
    run_ok(cli, "reader.read", "--run-id", "r1", "--data", "shipped")
    assert "dependencies" not in read_manifest(RUN)["steps"]["reader.read"]
    assert "up to date" in run_ok(cli, "reader.read", "--run-id", "r1", "--data", "shipped").stdout
    result = run_ok(cli, "reader.read", "--run-id", "r1", "--data", "other")
    assert calls(module) == ["read", "read"]
    assert "data 'shipped' -> 'other'" in result.stdout


def test_a_field_left_out_of_the_fingerprint_does_not_make_its_step_stale(cli, plugin_site):
    module = plugin_site.add("reader", READER)
    run_ok(cli, "reader.read", "--run-id", "r1", "--every", "10")
    fingerprint = read_manifest(RUN)["steps"]["reader.read"]["fingerprint"]
    result = run_ok(cli, "reader.read", "--run-id", "r1", "--every", "500")
    assert calls(module) == ["read"]
    assert "up to date" in result.stdout
    manifest = read_manifest(RUN)
    assert manifest["steps"]["reader.read"]["fingerprint"] == fingerprint
    assert manifest["config"]["reader.read"]["every"] == 500  # recorded all the same
    result = run_ok(cli, "reader.read", "--run-id", "r1", "--every", "7", "--label", "y")
    assert calls(module) == ["read", "read"]
    assert "label 'x' -> 'y'" in result.stdout and "every" not in result.stdout


def test_a_step_sees_the_command_that_started_the_run(cli, plugin_site):
    module = plugin_site.add("reader", READER.replace(
        'CALLS.append("read")', 'CALLS.append(ctx.command)'
    ))  # fmt: skip
    run_ok(cli, "read", "--run-id", "r1", "--label", "y")
    assert calls(module) == [("framework", "run", "read", "--run-id", "r1", "--label", "y")]
    assert read_manifest(RUN)["command"] == list(calls(module)[0])


def test_steps_without_dependencies_record_none(cli, plugin_site):
    plugin_site.add("reader", READER)
    run_ok(cli, "reader.read", "--run-id", "r1")
    assert "dependencies" not in read_manifest(RUN)["steps"]["reader.read"]


def test_upstream_rerun_with_identical_output_leaves_downstream_up_to_date(cli, plugin_site):
    module = plugin_site.add("pipe", PIPELINE)
    run_ok(cli, "pipe.report", "--run-id", "r1")
    bumped = PIPELINE.replace(
        'outputs=["data/numbers.json"],', 'outputs=["data/numbers.json"], version="2",'
    )
    module = plugin_site.add("pipe", bumped)
    run_ok(cli, "pipe.report", "--run-id", "r1")
    assert calls(module) == ["prepare"]
    assert statuses(RUN) == {
        "pipe.prepare": "completed",
        "pipe.train": "skipped",
        "pipe.report": "skipped",
    }


def test_step_code_version_change_reruns_it_and_says_so(cli, plugin_site):
    plugin_site.add("pipe", PIPELINE)
    run_ok(cli, "pipe.report", "--run-id", "r1")
    bumped = PIPELINE.replace(
        'description="reduce numbers"', 'description="reduce numbers", version="2"'
    )
    module = plugin_site.add("pipe", bumped)
    result = run_ok(cli, "pipe.report", "--run-id", "r1")
    assert calls(module)[0] == "train"
    assert read_manifest(RUN)["steps"]["pipe.train"]["code_version"] == "2"
    assert "code version 1 -> 2" in result.stdout


def test_plugin_version_change_reruns_its_steps_and_says_so(cli, plugin_site):
    plugin_site.add("pipe", PIPELINE)
    run_ok(cli, "pipe.report", "--run-id", "r1")
    shutil.rmtree(plugin_site.root / "fwtest_pipe-0.1.0.dist-info")
    module = plugin_site.add("pipe", PIPELINE, version="0.2.0")
    result = run_ok(cli, "pipe.report", "--run-id", "r1")
    assert calls(module) == ["prepare", "train", "report"]
    assert read_manifest(RUN)["steps"]["pipe.prepare"]["plugin_version"] == "0.2.0"
    assert "plugin version 0.1.0 -> 0.2.0" in result.stdout


def test_changed_seed_reruns_every_step(cli, pipeline):
    run_ok(cli, "pipe.report", "--run-id", "r1")
    calls(pipeline).clear()
    result = run_ok(cli, "pipe.report", "--run-id", "r1", "--seed", "1")
    assert calls(pipeline) == ["prepare", "train", "report"]
    assert "seed 0 -> 1" in result.stdout


def test_force_reruns_every_step(cli, pipeline):
    run_ok(cli, "pipe.report", "--run-id", "r1")
    calls(pipeline).clear()
    result = run_ok(cli, "pipe.report", "--run-id", "r1", "--force")
    assert calls(pipeline) == ["prepare", "train", "report"]
    assert "forced" in result.stdout


def test_from_step_reruns_it_and_downstream_only(cli, pipeline):
    run_ok(cli, "pipe.report", "--run-id", "r1")
    calls(pipeline).clear()
    run_ok(cli, "pipe.report", "--run-id", "r1", "--from", "train")
    assert calls(pipeline) == ["train", "report"]
    assert statuses(RUN) == {
        "pipe.prepare": "skipped",
        "pipe.train": "completed",
        "pipe.report": "completed",
    }


def test_only_runs_the_target_alone_on_earlier_outputs_of_the_run(cli, pipeline):
    run_ok(cli, "pipe.train", "--run-id", "r1")
    calls(pipeline).clear()
    run_ok(cli, "pipe.report", "--run-id", "r1", "--only")
    assert calls(pipeline) == ["report"]
    assert (RUN / "report.txt").read_text() == "value=56.0\n"
    assert statuses(RUN) == dict.fromkeys(
        ["pipe.prepare", "pipe.train", "pipe.report"], "completed"
    )


def test_only_without_upstream_outputs_refuses_naming_them_and_their_command(cli, pipeline):
    result = cli("run", "pipe.report", "--run-id", "r1", "--only")
    expect_error(result, 2, "model/value.json", "framework run pipe.train --run-id r1")
    assert calls(pipeline) == []
    assert not RUN.exists()


# -- the content-addressed store and the hash cache --------------------------------------


def test_new_run_with_same_config_reuses_stored_outputs_without_running(cli, pipeline, isolated):
    run_ok(cli, "pipe.report", "--run-id", "r1")
    calls(pipeline).clear()
    result = run_ok(cli, "pipe.report", "--run-id", "r2")
    assert calls(pipeline) == []
    r2 = isolated / "runs" / "r2"
    assert statuses(r2) == dict.fromkeys(["pipe.prepare", "pipe.train", "pipe.report"], "reused")
    for rel in ("data/numbers.json", "model/value.json", "report.txt"):
        assert (r2 / rel).read_bytes() == (RUN / rel).read_bytes()
    assert "reused" in result.stdout


def test_new_run_with_other_config_reuses_only_unchanged_steps(cli, pipeline, isolated):
    run_ok(cli, "pipe.report", "--run-id", "r1")
    calls(pipeline).clear()
    run_ok(cli, "pipe.report", "--run-id", "r2", "--scale", "3")
    assert calls(pipeline) == ["train", "report"]
    assert statuses(isolated / "runs" / "r2")["pipe.prepare"] == "reused"


def test_an_output_edited_in_place_reaches_neither_the_store_nor_a_new_run(cli, pipeline, isolated):
    run_ok(cli, "pipe.report", "--run-id", "r1")
    with open(RUN / "model" / "value.json", "r+") as fh:  # in place, as an editor may
        fh.write('{"value": -1}')
        fh.truncate()
    calls(pipeline).clear()
    run_ok(cli, "pipe.report", "--run-id", "r2")
    assert calls(pipeline) == []  # the stored object is intact: reused
    assert json.loads((isolated / "runs" / "r2" / "model" / "value.json").read_text()) == {
        "value": 56.0
    }


def test_noop_rerun_reads_no_file_content(cli, pipeline, monkeypatch):
    run_ok(cli, "pipe.report", "--run-id", "r1")
    hashed: list[str] = []
    real = framework.hashing.hash_file
    monkeypatch.setattr(
        framework.hashing, "hash_file", lambda path: hashed.append(str(path)) or real(path)
    )
    run_ok(cli, "pipe.report", "--run-id", "r1")
    assert set(statuses(RUN).values()) == {"skipped"}
    assert hashed == []


def test_file_with_new_mtime_is_rehashed_and_same_content_stays_up_to_date(
    cli, pipeline, monkeypatch
):
    run_ok(cli, "pipe.report", "--run-id", "r1")
    numbers = RUN / "data" / "numbers.json"
    st = numbers.stat()
    os.utime(numbers, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    hashed: list[str] = []
    real = framework.hashing.hash_file
    monkeypatch.setattr(
        framework.hashing, "hash_file", lambda path: hashed.append(str(path)) or real(path)
    )
    run_ok(cli, "pipe.report", "--run-id", "r1")
    assert str(numbers.resolve()) in hashed
    assert set(statuses(RUN).values()) == {"skipped"}


# -- fingerprints ---------------------------------------------------------------------

BASE = {
    "step": "pipe.train",
    "code_version": "1",
    "plugin_version": "0.1.0",
    "config": {"scale": 2.0, "mode": "sum"},
    "execution": {"seed": 0, "precision": "32", "deterministic": False},
    "inputs": {"a.json": "sha256:aa", "b.json": "sha256:bb"},
}


@pytest.mark.parametrize(
    "change",
    [
        {"step": "pipe.report"},
        {"code_version": "2"},
        {"plugin_version": "0.2.0"},
        {"config": {"scale": 3.0, "mode": "sum"}},
        {"execution": {"seed": 1, "precision": "32", "deterministic": False}},
        {"inputs": {"a.json": "sha256:aa", "b.json": "sha256:cc"}},
    ],
    ids=["step-id", "code-version", "plugin-version", "config-value", "seed", "input-content"],
)
def test_fingerprint_changes_with(change):
    assert StepState(**{**BASE, **change}).fingerprint() != StepState(**BASE).fingerprint()


def test_fingerprint_ignores_key_order():
    reordered = {
        **BASE,
        "config": {"mode": "sum", "scale": 2.0},
        "inputs": {"b.json": "sha256:bb", "a.json": "sha256:aa"},
    }
    assert StepState(**reordered).fingerprint() == StepState(**BASE).fingerprint()


# -- the manifest ---------------------------------------------------------------------


def test_manifest_matches_the_schema(cli, pipeline):
    run_ok(cli, "pipe.report", "--run-id", "r1")
    jsonschema.validate(read_manifest(RUN), manifest_schema())


def test_manifest_records_run_id_command_and_versions(cli, pipeline):
    run_ok(cli, "pipe.report", "--run-id", "r1", "--scale", "3")
    manifest = read_manifest(RUN)
    assert manifest["run_id"] == "r1"
    assert manifest["status"] == "completed"
    assert manifest["target"] == "pipe.report"
    assert manifest["command"] == [
        "framework",
        "run",
        "pipe.report",
        "--run-id",
        "r1",
        "--scale",
        "3",
    ]
    versions = manifest["versions"]
    assert versions["framework"] == framework.__version__
    assert versions["python"] == platform.python_version()
    assert versions["plugins"]["pipe"] == "0.1.0"
    try:
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch_version = None
    assert versions["torch"] == torch_version


def test_manifest_records_resolved_config_and_its_hash(cli, pipeline):
    run_ok(cli, "pipe.report", "--run-id", "r1", "--scale", "3", "--set", "pipe.prepare.size=4")
    manifest = read_manifest(RUN)
    assert manifest["config"]["pipe.train"] == {"size": 8, "scale": 3.0, "mode": "sum"}
    assert manifest["config"]["pipe.prepare"] == {"size": 4}
    assert manifest["execution"]["seed"] == 0
    assert manifest["hash_algorithm"] == "sha256"
    first_hash = manifest["config_hash"]
    run_ok(cli, "pipe.report", "--run-id", "r1", "--scale", "4", "--set", "pipe.prepare.size=4")
    assert read_manifest(RUN)["config_hash"] != first_hash


def test_manifest_records_plan_and_each_steps_status_times_and_fingerprint(cli, pipeline):
    run_ok(cli, "pipe.report", "--run-id", "r1")
    manifest = read_manifest(RUN)
    assert manifest["plan"] == ["pipe.prepare", "pipe.train", "pipe.report"]
    for step in manifest["plan"]:
        record = manifest["steps"][step]
        assert record["status"] == "completed"
        assert record["started_at"] <= record["finished_at"]
        assert record["duration_s"] >= 0
        assert record["fingerprint"].startswith("sha256:")
        assert record["code_version"] == "1"
        assert record["plugin_version"] == "0.1.0"


def test_manifest_hashes_and_sizes_match_the_files(cli, pipeline):
    run_ok(cli, "pipe.report", "--run-id", "r1")
    records = [
        art
        for record in read_manifest(RUN)["steps"].values()
        for art in record["inputs"] + record["outputs"]
    ]
    assert {art["path"] for art in records} == {
        "data/numbers.json",
        "model/value.json",
        "report.txt",
    }
    for art in records:
        data = (RUN / art["path"]).read_bytes()
        assert art["size"] == len(data)
        assert art["hash"] == "sha256:" + hashlib.sha256(data).hexdigest()


def git(cwd: Path, *args: str) -> str:
    cmd = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args]
    return subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def git_checkout(isolated):
    """The working directory as a git checkout with one committed file."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    git(isolated, "init", "-q")
    (isolated / "tracked.txt").write_text("one\n")
    git(isolated, "add", "tracked.txt")
    git(isolated, "commit", "-q", "-m", "init")
    return isolated


def test_manifest_records_git_commit_of_a_clean_checkout(cli, pipeline, git_checkout):
    run_ok(cli, "pipe.report", "--run-id", "r1")
    assert read_manifest(RUN)["git"] == {
        "commit": git(git_checkout, "rev-parse", "HEAD"),
        "dirty": False,
    }


def test_manifest_marks_a_checkout_with_changes_dirty(cli, pipeline, git_checkout):
    (git_checkout / "tracked.txt").write_text("two\n")
    run_ok(cli, "pipe.report", "--run-id", "r1")
    assert read_manifest(RUN)["git"]["dirty"] is True


def test_manifest_is_on_disk_after_every_step(cli, pipeline, recorder):
    run_ok(cli, "pipe.report", "--run-id", "r1")
    assert recorder.ON_DISK == [
        ("pipe.prepare", "completed"),
        ("pipe.train", "completed"),
        ("pipe.report", "completed"),
    ]


# -- a step that fails --------------------------------------------------------------------


def test_step_that_raises_fails_the_run_and_keeps_earlier_steps(cli, edge):
    result = cli("run", "edge.explode", "--run-id", "r1")
    expect_error(result, 1, "edge.explode", "ValueError: bad value")
    manifest = read_manifest(RUN)
    jsonschema.validate(manifest, manifest_schema())
    assert manifest["status"] == "failed"
    assert manifest["steps"]["edge.first"]["status"] == "completed"
    assert manifest["steps"]["edge.explode"]["status"] == "failed"
    assert manifest["steps"]["edge.explode"]["error"] == "ValueError: bad value"


def test_failed_step_runs_again_next_time(cli, edge):
    cli("run", "edge.explode", "--run-id", "r1")
    result = cli("run", "edge.explode", "--run-id", "r1")
    assert result.exit_code == 1
    assert statuses(RUN) == {"edge.first": "skipped", "edge.explode": "failed"}


def test_debug_shows_the_traceback_of_a_failed_step(cli, edge):
    result = cli("--debug", "run", "edge.explode", "--run-id", "r1")
    assert result.exit_code == 1
    assert "Traceback" in result.stderr
    assert "bad value" in result.stderr


def test_exception_inside_output_block_leaves_no_file_behind(cli, edge):
    result = cli("run", "edge.half", "--run-id", "r1")
    expect_error(result, 1, "edge.half", "died mid-write")
    assert not [p.name for p in RUN.iterdir() if "half" in p.name]
    assert read_manifest(RUN)["steps"]["edge.half"]["status"] == "failed"


def test_step_that_writes_no_declared_output_fails(cli, edge):
    result = cli("run", "edge.lazy", "--run-id", "r1")
    expect_error(result, 1, "edge.lazy", "never.txt", "missing")
    assert read_manifest(RUN)["steps"]["edge.lazy"]["status"] == "failed"


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("../x", "escapes the run directory"),
        ("{abs}", "must be a relative path"),
        ("other.txt", "did not declare"),
    ],
    ids=["parent-dir", "absolute", "undeclared"],
)
def test_step_writing_outside_its_declared_outputs_fails(cli, edge, isolated, path, reason):
    path = path.format(abs=isolated / "abs.txt")
    result = cli("run", "edge.write_to", "--run-id", "r1", "--path", path)
    expect_error(result, 1, "edge.write_to", reason)
    assert read_manifest(RUN)["steps"]["edge.write_to"]["status"] == "failed"
    assert not (isolated / "runs" / "x").exists()
    assert not (isolated / "abs.txt").exists()
    assert not (RUN / "other.txt").exists()


def test_step_reading_an_undeclared_input_fails(cli, edge):
    result = cli("run", "edge.read_undeclared", "--run-id", "r1")
    expect_error(result, 1, "edge.read_undeclared", "first.txt", "did not declare")
    assert read_manifest(RUN)["steps"]["edge.read_undeclared"]["status"] == "failed"


def test_ctrl_c_in_a_step_leaves_a_valid_manifest_marked_interrupted(cli, edge):
    result = cli("run", "edge.interrupt", "--run-id", "r1")
    assert result.exit_code == 130
    assert result.err_lines == ["interrupted"]
    manifest = read_manifest(RUN)
    jsonschema.validate(manifest, manifest_schema())
    assert manifest["status"] == "interrupted"
    assert manifest["steps"]["edge.first"]["status"] == "completed"
    assert manifest["steps"]["edge.interrupt"]["error"] == "interrupted"


# -- the run dir: lock and damaged manifest -------------------------------------------------


def test_run_dir_locked_by_another_process_is_refused(cli, pipeline):
    run_ok(cli, "pipe.report", "--run-id", "r1")
    before = (RUN / "manifest.json").read_bytes()
    calls(pipeline).clear()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from framework.manifest import RunLock\n"
            "with RunLock(sys.argv[1]):\n    print('held', flush=True); sys.stdin.read()",
            str(RUN),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        result = cli("run", "pipe.report", "--run-id", "r1", "--force")
    finally:
        holder.communicate(timeout=30)
    expect_error(result, 2, "locked", f"pid {holder.pid}")
    assert calls(pipeline) == []
    assert (RUN / "manifest.json").read_bytes() == before


def test_run_dir_is_unlocked_once_the_run_ends(cli, pipeline):
    from framework.manifest import RunLock

    run_ok(cli, "pipe.report", "--run-id", "r1")
    with RunLock(RUN):
        pass


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"run_id": "r1", "steps": {', "corrupted"),
        ('{"run_id": "r1", "status": "done"}', "does not match the manifest schema"),
    ],
    ids=["invalid-json", "schema-violation"],
)
def test_damaged_manifest_is_refused_and_left_as_it_was(cli, pipeline, content, reason):
    RUN.mkdir(parents=True)
    (RUN / "manifest.json").write_text(content)
    result = cli("run", "pipe.report", "--run-id", "r1")
    expect_error(result, 2, "manifest.json", reason)
    assert (RUN / "manifest.json").read_text() == content
    assert calls(pipeline) == []


def test_rerun_recomputes_an_output_changed_after_the_run(cli, pipeline):
    run_ok(cli, "pipe.report", "--run-id", "r1")
    (RUN / "model" / "value.json").write_text('{"value": -1}')
    result = run_ok(cli, "pipe.report", "--run-id", "r1")
    assert json.loads((RUN / "model" / "value.json").read_text()) == {"value": 56.0}
    assert statuses(RUN)["pipe.train"] in ("completed", "reused")
    assert "model/value.json" in result.stdout


def test_rerun_restores_an_output_that_vanished(cli, pipeline):
    run_ok(cli, "pipe.report", "--run-id", "r1")
    (RUN / "report.txt").unlink()
    run_ok(cli, "pipe.report", "--run-id", "r1")
    assert (RUN / "report.txt").read_text() == "value=56.0\n"
    assert statuses(RUN)["pipe.report"] in ("completed", "reused")


# -- events and lifecycle hooks -------------------------------------------------------------


def test_events_file_holds_one_json_object_a_line(cli, pipeline):
    run_ok(cli, "pipe.report", "--run-id", "r1")
    lines = (RUN / "events.jsonl").read_text().splitlines()
    assert len(lines) > 3
    for line in lines:
        event = json.loads(line)
        assert set(event) == {"ts", "run_id", "step", "event", "fields"}
        assert event["run_id"] == "r1"
    events = read_events(RUN)
    assert (events[0]["event"], events[-1]["event"]) == ("run_started", "run_finished")
    assert events[-1]["fields"]["status"] == "completed"


def test_run_started_event_carries_identity_plugins_hooks_and_config(cli, pipeline):
    run_ok(cli, "pipe.report", "--run-id", "r1", "--scale", "3")
    started = read_events(RUN)[0]["fields"]
    manifest = read_manifest(RUN)
    assert started["run_id"] == "r1"
    assert started["config_hash"] == manifest["config_hash"]
    assert started["git_commit"] == manifest["git"]["commit"]
    assert started["git_dirty"] == manifest["git"]["dirty"]
    assert started["plugins"]["pipe"] == "0.1.0"
    assert "register_steps" in started["hooks"]["pipe"]
    assert started["config"]["values"]["pipe.train"]["scale"] == 3.0
    assert list(started["config"]["overrides"]) == ["pipe.train"]


def test_logged_metrics_reach_events_and_on_metrics_hooks(cli, pipeline, recorder):
    run_ok(cli, "pipe.report", "--run-id", "r1")
    metrics = [e for e in read_events(RUN) if e["event"] == "metrics"]
    assert [(e["step"], e["fields"]) for e in metrics] == [
        ("pipe.train", {"value": 56.0, "step": 1})
    ]
    assert recorder.METRICS == [("pipe.train", {"value": 56.0, "step": 1})]


def test_lifecycle_hooks_fire_in_order(cli, pipeline, recorder):
    run_ok(cli, "pipe.train", "--run-id", "r1")
    assert recorder.SEEN == [
        ("before_run",),
        ("before_step", "pipe.prepare"),
        ("after_step", "pipe.prepare", "completed"),
        ("before_step", "pipe.train"),
        ("after_step", "pipe.train", "completed"),
        ("after_run", "completed"),
    ]


def test_lifecycle_hooks_see_a_failing_step(cli, edge, recorder):
    cli("run", "edge.explode", "--run-id", "r1")
    assert recorder.SEEN == [
        ("before_run",),
        ("before_step", "edge.first"),
        ("after_step", "edge.first", "completed"),
        ("before_step", "edge.explode"),
        ("on_step_error", "edge.explode", "ValueError"),
        ("after_run", "failed"),
    ]


# -- data splits ----------------------------------------------------------------------


def test_reading_an_undeclared_split_fails_the_step(cli, edge):
    result = cli("run", "edge.peek", "--run-id", "r1")
    expect_error(result, 1, "edge.peek", "TEST", "did not declare")
    assert read_manifest(RUN)["steps"]["edge.peek"]["status"] == "failed"


def test_overlapping_splits_fail_the_step(cli, edge):
    result = cli("run", "edge.overlap", "--run-id", "r1")
    expect_error(result, 1, "edge.overlap", "overlap", "TRAIN", "TEST")


def test_split_counts_and_hashes_land_in_the_manifest(cli, edge):
    run_ok(cli, "edge.split_train", "--run-id", "r1")
    splits = read_manifest(RUN)["splits"]
    assert {name: s["count"] for name, s in splits.items()} == {"TRAIN": 3, "TEST": 2}
    assert all(s["hash"].startswith("sha256:") for s in splits.values())
    assert splits["TRAIN"]["hash"] != splits["TEST"]["hash"]


# -- metrics in the manifest ------------------------------------------------------------

METRIC = """
from framework import Step, hookimpl

def fit(ctx):
    ctx.log_metrics(step=0, loss=3.0)
    ctx.log_metrics(step=1, loss=1.0, accuracy=0.5)
    ctx.log_metrics(step=2, grad_norm=float("nan"))
    ctx.write_text("done.txt", "ok")

@hookimpl
def register_steps(register):
    register(Step(id="metric.fit", run=__name__ + ":fit", outputs=["done.txt"]))
"""


@pytest.fixture
def metric(plugin_site):
    return plugin_site.add("metric", METRIC)


def test_manifest_keeps_the_last_value_of_each_metric(cli, metric, isolated):
    run_ok(cli, "metric.fit", "--run-id", "r1")
    recorded = read_manifest(RUN)["steps"]["metric.fit"]["metrics"]
    assert {k: recorded[k] for k in ("loss", "accuracy")} == {"loss": 1.0, "accuracy": 0.5}


def test_a_nan_metric_is_recorded_as_a_string_in_valid_json(cli, metric, isolated):
    run_ok(cli, "metric.fit", "--run-id", "r1")
    manifest = read_manifest(RUN)
    assert manifest["steps"]["metric.fit"]["metrics"]["grad_norm"] == "nan"
    jsonschema.validate(manifest, manifest_schema())
    nan_events = [e for e in read_events(RUN) if e["fields"].get("grad_norm") is not None]
    assert nan_events[0]["fields"]["grad_norm"] == "nan"


def test_skipped_and_reused_steps_keep_their_metrics(cli, metric, isolated):
    run_ok(cli, "metric.fit", "--run-id", "r1")
    run_ok(cli, "metric.fit", "--run-id", "r1")
    run_ok(cli, "metric.fit", "--run-id", "r2")
    first = read_manifest(RUN)["steps"]["metric.fit"]
    second = read_manifest(isolated / "runs" / "r2")["steps"]["metric.fit"]
    assert first["status"] == "skipped"
    assert second["status"] == "reused"
    assert first["metrics"]["loss"] == second["metrics"]["loss"] == 1.0
