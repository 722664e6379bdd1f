"""The informational commands: list-steps, describe, --help, --version, and a light start-up."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import framework
import pytest

SUBCOMMANDS = [
    "list-steps",
    "describe",
    "graph",
    "plugins",
    "run",
    "runs",
    "show",
    "verify",
    "schema",
]

# A plugin whose config has a required field and a choice, next to the `pipe` pipeline.
SETTINGS = """
import attrs
from framework import Step, field, hookimpl

@attrs.define
class GreetConfig:
    name: str = field(help="who to greet")
    style: str = field("plain", choices=["plain", "loud"], help="how to greet")

@hookimpl
def register_steps(register):
    register(Step(id="greeter.greet", run=__name__ + ":greet", config=__name__ + ":GreetConfig",
                  outputs=["greeting.txt"], splits=["TRAIN"], version="3", description="say hello"))
"""


def describe_rows(output: str) -> dict[str, list[str]]:
    """The config table of `framework describe`: flag -> [type, default, help words...]."""
    rows = {}
    for line in output.splitlines():
        words = line.split()
        if words and words[0].startswith("--"):
            rows[words[0]] = words[1:]
    return rows


def describe_fields(output: str) -> dict[str, str]:
    """The `name  value` lines of `framework describe` above the config table."""
    fields = {}
    for line in output.splitlines()[1:]:
        name, _, value = line.strip().partition(" ")
        if name in {"callable", "requires", "inputs", "outputs", "splits", "config"}:
            fields[name] = value.strip()
    return fields


# -- list-steps ---------------------------------------------------------------------------


def test_list_steps_shows_each_step_id_with_its_description(cli, pipeline):
    result = cli("list-steps")

    assert result.exit_code == 0, result.stderr
    lines = [line.split(None, 1) for line in result.stdout.splitlines()]
    assert lines == [
        ["pipe.prepare", "write numbers"],
        ["pipe.report", "write a report"],
        ["pipe.train", "reduce numbers"],
    ]


def test_list_steps_json_is_machine_readable(cli, pipeline):
    result = cli("list-steps", "--json")

    assert result.exit_code == 0, result.stderr
    rows = {row["id"]: row for row in json.loads(result.stdout)}
    assert set(rows) == {"pipe.prepare", "pipe.train", "pipe.report"}
    assert rows["pipe.train"] == {
        "id": "pipe.train",
        "plugin": "pipe",
        "distribution": "fwtest-pipe",
        "version": "0.1.0",
        "description": "reduce numbers",
        "requires": ["pipe.prepare"],
    }


def test_list_steps_plugin_filter_shows_only_that_plugins_steps(cli, pipeline, plugin_site):
    plugin_site.add("greeter", SETTINGS)

    result = cli("list-steps", "--plugin", "greeter")

    assert result.exit_code == 0, result.stderr
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["greeter.greet"]


def test_list_steps_plugin_filter_applies_to_json(cli, pipeline, plugin_site):
    plugin_site.add("greeter", SETTINGS)

    result = cli("list-steps", "--plugin", "pipe", "--json")

    assert [row["id"] for row in json.loads(result.stdout)] == [
        "pipe.prepare",
        "pipe.report",
        "pipe.train",
    ]


def test_list_steps_plugin_filter_says_when_a_plugin_has_no_steps(cli, pipeline):
    result = cli("list-steps", "--plugin", "executors")

    assert result.exit_code == 0, result.stderr
    assert "no steps for plugin 'executors'" in result.stdout


def test_list_steps_unknown_plugin_filter_gets_a_did_you_mean(cli, pipeline):
    result = cli("list-steps", "--plugin", "pip")

    assert result.exit_code == 2
    assert len(result.err_lines) == 1
    assert result.err_lines[0].startswith("error: unknown plugin 'pip'")
    assert "did you mean 'pipe'" in result.err_lines[0]


def test_list_steps_without_any_step_plugin_says_so(cli, plugin_site):
    result = cli("list-steps")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("no steps")


# -- describe -----------------------------------------------------------------------------


def test_describe_shows_the_step_origin_and_code_version(cli, plugin_site):
    plugin_site.add("greeter", SETTINGS, dist="acme-greeter", version="4.5.6")

    result = cli("describe", "greeter.greet")

    assert result.exit_code == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("greeter.greet ")
    assert "acme-greeter 4.5.6" in first
    assert "code version 3" in first
    assert "say hello" in result.stdout


def test_describe_shows_requires_inputs_outputs_and_splits(cli, pipeline):
    result = cli("describe", "pipe.train")

    fields = describe_fields(result.stdout)
    assert fields["callable"] == f"{pipeline}:train"
    assert fields["requires"] == "pipe.prepare"
    assert fields["inputs"] == "data/numbers.json"
    assert fields["outputs"] == "model/value.json"
    assert fields["splits"] == "-"
    assert fields["config"] == f"{pipeline}:TrainConfig"


def test_describe_lists_config_fields_with_type_default_and_help(cli, pipeline):
    result = cli("describe", "pipe.train")

    rows = describe_rows(result.stdout)
    assert list(rows) == ["--size", "--scale", "--mode"]
    assert rows["--size"] == ["int", "8", "how", "many", "numbers"]
    assert rows["--scale"] == ["float", "2.0", "multiplier"]
    assert rows["--mode"] == ["sum|max", "'sum'", "reduction"]


def test_describe_marks_a_field_without_default_as_required(cli, plugin_site):
    plugin_site.add("greeter", SETTINGS)

    result = cli("describe", "greet")

    rows = describe_rows(result.stdout)
    assert rows["--name"] == ["str", "required", "who", "to", "greet"]
    assert describe_fields(result.stdout)["splits"] == "TRAIN"


def test_describe_says_when_a_step_has_no_config(cli, pipeline):
    result = cli("describe", "pipe.report")

    assert result.exit_code == 0, result.stderr
    assert describe_fields(result.stdout)["config"] == "none"
    assert describe_rows(result.stdout) == {}


def test_describe_reports_a_config_class_that_cannot_be_imported(cli, plugin_site):
    plugin_site.add(
        "bad",
        """
        from framework import Step, hookimpl

        @hookimpl
        def register_steps(register):
            register(Step(id="bad.step", run=__name__ + ":run", config="no_such_module_xyz:Config"))
        """,
    )

    result = cli("describe", "bad.step")

    assert result.exit_code == 2
    assert len(result.err_lines) == 1
    assert result.err_lines[0].startswith(
        "error: plugin 'bad' is broken: step bad.step: cannot import its config class"
    )
    assert "no_such_module_xyz" in result.err_lines[0]


# -- help and version ---------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_group_help_lists_every_command(cli, flag):
    result = cli(flag)

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("Usage: framework ")
    commands = result.stdout.split("Commands:", 1)[1]
    listed = {line.split()[0] for line in commands.splitlines() if line.strip()}
    assert set(SUBCOMMANDS) <= listed


def test_group_help_shows_the_global_options(cli):
    result = cli("--help")

    for option in ("--no-plugin", "--strict-plugins", "--debug", "--version"):
        assert option in result.stdout


def test_framework_without_a_command_shows_the_usage(cli):
    result = cli()

    output = result.stdout + result.stderr
    assert "Usage: framework " in output
    # The help keeps its layout: each command on a line of its own.
    assert any(line.split()[:1] == ["list-steps"] for line in output.splitlines())


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(cli, command):
    result = cli(command, "--help")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"Usage: framework {command}")
    assert result.stderr == ""


def test_run_help_for_a_step_lists_its_config_options(cli, pipeline):
    result = cli("run", "pipe.train", "--help")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("Usage: framework run pipe.train")
    for option in ("--size", "--scale", "--mode", "--seed", "--run-id", "--only", "--force"):
        assert option in result.stdout


def test_version_prints_the_package_version(cli):
    result = cli("--version")

    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"framework {framework.__version__}\n"


def test_python_dash_m_framework_shows_help():
    proc = subprocess.run(
        [sys.executable, "-m", "framework", "--help"], capture_output=True, text=True, timeout=60
    )

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Usage: framework ")
    assert "list-steps" in proc.stdout


def test_python_dash_m_framework_exits_with_the_cli_exit_code():
    proc = subprocess.run(
        [sys.executable, "-m", "framework", "describe", "no.such_step"],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert proc.returncode == 2
    assert proc.stderr.startswith("error: unknown step 'no.such_step'")


# -- start-up stays light -------------------------------------------------------------------

HEAVY = [
    "torch",
    "numpy",
    "attrs",  # the registered specs are plain classes: attrs alone costs more than the CLI
    "mlflow",  # trackers load only when a run selects them
    "tensorboard",
    "framework.runner",  # the run path: only `run` needs it (it pulls in pathlib, signal, ...)
    "framework.failures",
    "framework.prepare",
    "framework_hello.steps",
    "framework_hello.config",
    "framework_hello.models",
]

PROBE = textwrap.dedent(
    """
    import json, sys
    from framework.cli import main
    code = 0
    try:
        main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
    sys.stdout.flush()
    loaded = {name: name in sys.modules for name in HEAVY_NAMES}
    loaded["framework_hello.plugin"] = "framework_hello.plugin" in sys.modules
    print("\\nPROBE " + json.dumps({"code": code, "loaded": loaded}))
    """
).replace("HEAVY_NAMES", repr(HEAVY))


def _probe(*args: str) -> tuple[dict, str]:
    """Run the CLI in a fresh interpreter (real plugin discovery) and report what it imported."""
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=60
    )
    head, _, tail = proc.stdout.rpartition("\nPROBE ")
    assert tail, proc.stdout + proc.stderr
    return json.loads(tail), head


@pytest.mark.parametrize(
    "args",
    [["list-steps"], ["--help"], ["sweep", "--help"], ["sweep", "--presets"]],
    ids=["list-steps", "help", "sweep-help", "sweep-presets"],
)
def test_cli_start_up_imports_no_heavy_or_step_modules(args):
    report, output = _probe(*args)

    assert report["code"] in (0, None), output
    # The example plugin was discovered and loaded, so its step modules could have leaked in.
    assert report["loaded"].pop("framework_hello.plugin") is True
    assert report["loaded"] == dict.fromkeys(HEAVY, False)


def test_list_steps_in_a_fresh_process_lists_the_example_plugin_it_probed():
    _, output = _probe("list-steps")

    assert "hello.train" in output
    assert "hello.evaluate" in output
