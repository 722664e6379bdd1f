"""The last error paths: `run` without a step, artifact roots that cannot hold a run, a
full disk, plugins whose steps are broken, `show latest`, and what `verify` counts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import expect_error, read_manifest

RUN = Path("runs") / "r1"


def test_run_without_a_step_is_a_usage_error(cli, pipeline):
    expect_error(cli("run"), 2, "missing the STEP", "framework run --help")


def test_run_help_lists_the_plan_wide_options_and_where_a_steps_own_are(cli, pipeline):
    result = cli("run", "--help")
    assert result.exit_code == 0
    for option in ("--run-id", "--artifact-root", "--only", "--from", "--force", "--config",
                   "--set", "--print-config", "--precision", "--seed", "--accelerator",
                   "--nproc-per-node", "--nnodes"):  # fmt: skip
        assert option in result.stdout, option
    assert "framework run STEP --help" in result.stdout
    assert "--scale" not in result.stdout  # a field of one step's config


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs /proc")
def test_an_artifact_root_that_cannot_be_created_is_a_usage_error(cli, pipeline):
    line = expect_error(
        cli("run", "pipe.prepare", "--artifact-root", "/proc/forbidden"), 2, "/proc/forbidden"
    )
    assert "internal error" not in line


def test_a_run_dir_path_that_is_a_plain_file_is_a_usage_error(cli, pipeline):
    Path("runs").mkdir()
    RUN.write_text("not a directory")
    expect_error(cli("run", "pipe.prepare", "--run-id", "r1"), 2, str(RUN), "not a directory")


def test_an_artifact_root_that_is_a_plain_file_is_a_usage_error(cli, pipeline):
    Path("here").write_text("a file")
    expect_error(cli("run", "pipe.prepare", "--artifact-root", "here"), 2, "here")


FULL_DISK = """
import errno, os
from framework import Step, hookimpl

def fill(ctx):
    with ctx.output("big.bin") as tmp:
        tmp.write_bytes(b"half of it")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp))

@hookimpl
def register_steps(register):
    register(Step(id="disk.fill", run=__name__ + ":fill", outputs=["big.bin"]))
"""


def test_a_full_disk_fails_the_step_in_one_line_and_keeps_nothing(cli, plugin_site):
    plugin_site.add("disk", FULL_DISK)
    run_dir = Path("runs") / "full"
    expect_error(cli("run", "disk.fill", "--run-id", "full"), 2, "No space left", "disk.fill")
    record = read_manifest(run_dir)["steps"]["disk.fill"]
    assert record["status"] == "failed" and "outputs" not in record
    assert sorted(p.name for p in run_dir.iterdir()) == [".lock", "events.jsonl", "manifest.json"]
    assert not (Path("runs") / ".store" / "steps").exists()


BROKEN_STEPS = """
class PlainConfig:  # not an attrs class
    size = 3

def good(ctx):
    ctx.write_text("out.txt", "ok")

def no_context():
    pass
"""

BROKEN = """
from framework import Step, hookimpl

CODE = "fwtest_broken_steps"

@hookimpl
def register_steps(register):
    register(Step(id="broken.plain", run=CODE + ":good", config=CODE + ":PlainConfig",
                  outputs=["out.txt"]))
    register(Step(id="broken.missing", run="fwtest_nowhere:run", outputs=["out.txt"]))
    register(Step(id="broken.signature", run=CODE + ":no_context", outputs=["out.txt"]))
"""


@pytest.fixture
def broken(plugin_site):
    import sys

    sys.modules.pop("fwtest_broken_steps", None)
    plugin_site.add("broken", BROKEN, files={"fwtest_broken_steps.py": BROKEN_STEPS})
    yield "fwtest_broken_steps"
    sys.modules.pop("fwtest_broken_steps", None)


@pytest.mark.parametrize(
    ("step", "what"),
    [("broken.plain", "not an attrs class"), ("broken.missing", "cannot import"),
     ("broken.signature", "must take one argument")],
)  # fmt: skip
def test_a_broken_step_is_blamed_on_its_plugin_before_anything_runs(cli, broken, step, what):
    line = expect_error(cli("run", step, "--run-id", "r1"), 2, "plugin 'broken'", step, what)
    assert "internal error" not in line
    assert not RUN.exists()


def test_describe_of_a_broken_step_is_one_line(cli, broken):
    result = cli("describe", "broken.plain")
    expect_error(result, 2, "plugin 'broken'", "not an attrs class")
    assert result.stdout == ""


def test_plugins_reports_a_plugin_with_a_broken_step_as_failed(cli, broken, pipeline):
    rows = {p["name"]: p for p in json.loads(cli("plugins", "--json").stdout)}
    assert rows["broken"]["status"] == "failed"
    assert "broken." in rows["broken"]["error"]
    assert rows["pipe"]["status"] == "loaded"


def test_list_steps_of_a_broken_plugin_imports_none_of_its_code(cli, broken):
    import sys

    result = cli("list-steps")
    assert result.exit_code == 0 and "broken.plain" in result.stdout
    assert broken not in sys.modules


def test_show_latest_is_the_run_updated_last(cli, pipeline):
    for run_id in ("old", "new"):
        assert cli("run", "pipe.prepare", "--run-id", run_id).exit_code == 0
    assert cli("run", "pipe.prepare", "--run-id", "old", "--force").exit_code == 0
    assert "run       old" in cli("show", "latest").stdout


def test_verify_counts_each_file_once(cli, pipeline):
    assert cli("run", "pipe.report", "--run-id", "r1").exit_code == 0
    result = cli("verify", "r1")
    assert result.exit_code == 0
    # three outputs; two of them are also inputs of the next step
    assert "3 outputs and 0 inputs" in result.stdout


def test_verify_failure_says_what_it_counted(cli, pipeline):
    assert cli("run", "pipe.report", "--run-id", "r1").exit_code == 0
    os.chmod(RUN / "report.txt", 0o644)
    (RUN / "report.txt").write_text("edited")
    expect_error(cli("verify", "r1"), 1, "1 of the 3 outputs and 0 inputs")


def test_a_signal_while_the_end_of_a_run_is_written_waits_until_it_is_written():
    # Ctrl+C reaches a sweep's workers and the sweep, which then stops each worker with
    # SIGTERM: that second signal must not cut the write of 'interrupted' short.
    import signal

    from framework.failures import signals_held, sigterm_as_interrupt

    written = []
    with pytest.raises(KeyboardInterrupt), sigterm_as_interrupt():
        with signals_held():
            os.kill(os.getpid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGINT)
            written.append("manifest")  # still runs: the signals wait
        written.append("after")  # never: the held signal acts on leaving the block
    assert written == ["manifest"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
