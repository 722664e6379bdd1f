"""Plugin discovery, failure reporting, strict mode, blocking, models and CLI extensions."""

from __future__ import annotations

import json
import sys

import pytest

# A healthy plugin with one step; several tests load it next to a broken one.
GOOD = """
from framework import Step, hookimpl

def run(ctx):
    ctx.write_text("out.txt", "ok\\n")

@hookimpl
def register_steps(register):
    register(Step(id="good.work", run=__name__ + ":run", outputs=["out.txt"], description="does work"))
"""

# Importing this module leaves a marker file, then fails: proves whether it was imported.
BROKEN_IMPORT = """
import pathlib
pathlib.Path("imported-{name}.marker").write_text("imported")
raise RuntimeError("boom at import")
"""

RAISING_HOOK = """
from framework import Step, hookimpl

@hookimpl
def register_steps(register):
    register(Step(id="flaky.first", run=__name__ + ":run"))
    raise ValueError("cannot register today")
"""

MISSPELLED_HOOK = """
from framework import Step, hookimpl

@hookimpl
def register_step(register):
    register(Step(id="typo.work", run=__name__ + ":run"))
"""


def _marked_broken(name: str) -> str:
    return BROKEN_IMPORT.replace("{name}", name)


def _plugin_lines(output: str) -> dict[str, str]:
    return {line.split()[0]: line for line in output.splitlines() if line.strip()}


# -- discovery ------------------------------------------------------------------------


def test_steps_of_a_plugin_installed_with_an_entry_point_are_listed(cli, plugin_site):
    plugin_site.add("good", GOOD)

    result = cli("list-steps")

    assert result.exit_code == 0, result.stderr
    assert "good.work" in result.stdout
    assert "does work" in result.stdout


def test_plugins_command_shows_distribution_and_version_of_a_loaded_plugin(cli, plugin_site):
    plugin_site.add("good", GOOD, dist="acme-good", version="1.2.3")

    result = cli("plugins")

    assert result.exit_code == 0, result.stderr
    line = _plugin_lines(result.stdout)["good"]
    assert "loaded" in line
    assert "acme-good 1.2.3" in line
    assert "register_steps" in line


def test_builtin_behaviours_are_listed_as_plugins(cli, plugin_site):
    result = cli("plugins", "--json")

    assert result.exit_code == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert {"events", "console", "executors"} <= set(rows)
    assert all(rows[name]["status"] == "builtin" for name in ("events", "console", "executors"))
    assert "on_event" in rows["events"]["hooks"]
    assert "register_executors" in rows["executors"]["hooks"]


def test_autoload_discovers_plugins_installed_in_the_environment(cli, plugin_site, monkeypatch):
    plugin_site.add("good", GOOD)
    monkeypatch.delenv("FRAMEWORK_DISABLE_PLUGIN_AUTOLOAD")
    monkeypatch.delenv("FRAMEWORK_PLUGINS")

    result = cli("list-steps")

    assert result.exit_code == 0, result.stderr
    # The example plugin is pip-installed in the test environment; `good` lives in the site.
    assert "hello.train" in result.stdout
    assert "good.work" in result.stdout


def test_autoload_off_loads_only_builtins_and_the_named_plugins(
    cli, plugin_site, monkeypatch, isolated
):
    plugin_site.add("good", GOOD)
    plugin_site.add("other", _marked_broken("other"))
    monkeypatch.setenv("FRAMEWORK_PLUGINS", "good")

    result = cli("plugins", "--json")

    assert result.exit_code == 0, result.stderr
    names = {row["name"] for row in json.loads(result.stdout)}
    assert names == {
        "events",
        "console",
        "executors",
        "sweep",
        "launch",
        "trackers",
        "schema",
        "history",
        "completion",
        "good",
    }
    assert not (isolated / "imported-other.marker").exists()


def test_a_second_plugin_of_the_same_name_is_listed_as_failed_and_warned_about(cli, plugin_site):
    plugin_site.add("good", GOOD, dist="acme-good", version="1.0")
    plugin_site.add("good", GOOD, module="fwtest_good_copy", dist="other-good", version="2.0")

    result = cli("plugins")

    assert result.exit_code == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("good ")]
    assert len(lines) == 2, result.stdout
    assert any("failed" in line and "already taken by acme-good" in line for line in lines)
    assert "plugin 'good' was skipped" in cli("list-steps").stderr


# -- a plugin that fails to import ------------------------------------------------------


def test_plugin_that_fails_to_import_is_listed_with_its_error(cli, plugin_site):
    plugin_site.add("broken", _marked_broken("broken"), dist="acme-broken", version="2.3.4")

    result = cli("plugins")

    assert result.exit_code == 0, result.stderr
    line = _plugin_lines(result.stdout)["broken"]
    assert "failed" in line
    assert "acme-broken 2.3.4" in line
    assert "RuntimeError: boom at import" in line


def test_plugin_that_fails_to_import_is_reported_in_plugins_json(cli, plugin_site):
    plugin_site.add("broken", _marked_broken("broken"), dist="acme-broken", version="2.3.4")

    result = cli("plugins", "--json")

    row = next(r for r in json.loads(result.stdout) if r["name"] == "broken")
    assert row["status"] == "failed"
    assert (row["distribution"], row["version"]) == ("acme-broken", "2.3.4")
    assert row["error"] == "RuntimeError: boom at import"


def test_other_plugins_keep_working_when_one_fails_to_import(cli, plugin_site):
    plugin_site.add("broken", _marked_broken("broken"))
    plugin_site.add("good", GOOD)

    result = cli("list-steps")

    assert result.exit_code == 0
    assert "good.work" in result.stdout
    assert len(result.err_lines) == 1
    assert result.err_lines[0].startswith(
        "warning: plugin 'broken' was skipped: RuntimeError: boom at import"
    )


def test_steps_of_other_plugins_still_run_when_one_fails_to_import(cli, plugin_site, isolated):
    plugin_site.add("broken", _marked_broken("broken"))
    plugin_site.add("good", GOOD)

    result = cli("run", "good.work", "--run-id", "r1", "--quiet")

    assert result.exit_code == 0, result.stderr
    assert (isolated / "runs" / "r1" / "out.txt").read_text() == "ok\n"


def test_plugin_import_failure_shows_no_traceback_without_debug(cli, plugin_site):
    plugin_site.add("broken", _marked_broken("broken"))

    result = cli("plugins")

    assert "Traceback" not in result.stdout + result.stderr


def test_plugins_debug_shows_the_traceback_of_a_failed_plugin(cli, plugin_site):
    plugin_site.add("broken", _marked_broken("broken"))

    result = cli("--debug", "plugins")

    assert "Traceback" in result.stderr
    assert "boom at import" in result.stderr


# -- a registration hook that raises ----------------------------------------------------


def test_registration_hook_that_raises_is_listed_with_its_error(cli, plugin_site):
    plugin_site.add("flaky", RAISING_HOOK, dist="acme-flaky", version="0.9.0")

    result = cli("plugins")

    assert result.exit_code == 0, result.stderr
    line = _plugin_lines(result.stdout)["flaky"]
    assert "failed" in line
    assert "acme-flaky 0.9.0" in line
    assert "register_steps raised ValueError: cannot register today" in line


def test_plugin_whose_hook_raises_is_skipped_and_the_rest_listed(cli, plugin_site):
    plugin_site.add("flaky", RAISING_HOOK)
    plugin_site.add("good", GOOD)

    result = cli("list-steps")

    assert result.exit_code == 0
    assert "good.work" in result.stdout
    # What the hook registered before raising is skipped with the plugin.
    assert "flaky.first" not in result.stdout
    assert len(result.err_lines) == 1
    assert result.err_lines[0].startswith("warning: plugin 'flaky' was skipped:")
    assert "cannot register today" in result.err_lines[0]


# -- a misspelled hook implementation ---------------------------------------------------


def test_misspelled_hook_implementation_is_reported_as_a_failure(cli, plugin_site):
    plugin_site.add("typo", MISSPELLED_HOOK)
    plugin_site.add("good", GOOD)

    result = cli("plugins")

    assert result.exit_code == 0, result.stderr
    line = _plugin_lines(result.stdout)["typo"]
    assert "failed" in line
    assert "register_step" in line
    assert "good" in _plugin_lines(result.stdout)


def test_misspelled_hook_implementation_does_not_break_other_plugins(cli, plugin_site):
    plugin_site.add("typo", MISSPELLED_HOOK)
    plugin_site.add("good", GOOD)

    result = cli("list-steps")

    assert result.exit_code == 0
    assert "good.work" in result.stdout
    assert "typo.work" not in result.stdout
    assert len(result.err_lines) == 1
    assert "plugin 'typo' was skipped" in result.err_lines[0]


# -- strict mode --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source, error",
    [
        (_marked_broken("bad"), "RuntimeError: boom at import"),
        (RAISING_HOOK, "cannot register today"),
        (MISSPELLED_HOOK, "register_step"),
    ],
    ids=["import-error", "raising-hook", "misspelled-hook"],
)
def test_strict_plugins_flag_turns_a_plugin_failure_into_an_error(cli, plugin_site, source, error):
    plugin_site.add("bad", source)
    plugin_site.add("good", GOOD)

    result = cli("--strict-plugins", "list-steps")

    assert result.exit_code == 2
    assert len(result.err_lines) == 1
    assert result.err_lines[0].startswith("error: plugin 'bad' failed:")
    assert error in result.err_lines[0]
    assert "Traceback" not in result.stderr


def test_strict_plugins_env_var_turns_a_plugin_failure_into_an_error(cli, plugin_site, monkeypatch):
    plugin_site.add("bad", _marked_broken("bad"))
    monkeypatch.setenv("FRAMEWORK_STRICT_PLUGINS", "1")

    result = cli("list-steps")

    assert result.exit_code == 2
    assert result.err_lines == ["error: plugin 'bad' failed: RuntimeError: boom at import"]


def test_strict_plugins_passes_when_every_plugin_loads(cli, plugin_site):
    plugin_site.add("good", GOOD)

    result = cli("--strict-plugins", "list-steps")

    assert result.exit_code == 0, result.stderr
    assert "good.work" in result.stdout


# -- blocking before import ----------------------------------------------------------------


def test_no_plugin_option_blocks_a_plugin_before_it_is_imported(cli, plugin_site, isolated):
    plugin_site.add("broken", _marked_broken("broken"))
    plugin_site.add("good", GOOD)

    result = cli("--no-plugin", "broken", "list-steps")

    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert "good.work" in result.stdout
    assert not (isolated / "imported-broken.marker").exists()


def test_disabled_plugin_is_listed_as_disabled(cli, plugin_site):
    plugin_site.add("broken", _marked_broken("broken"))

    result = cli("--no-plugin", "broken", "plugins")

    assert result.exit_code == 0, result.stderr
    line = _plugin_lines(result.stdout)["broken"]
    assert "disabled" in line
    assert "error" not in line


def test_disable_plugins_env_var_blocks_each_named_plugin_before_import(
    cli, plugin_site, monkeypatch, isolated
):
    plugin_site.add("one", _marked_broken("one"))
    plugin_site.add("two", _marked_broken("two"))
    plugin_site.add("good", GOOD)
    monkeypatch.setenv("FRAMEWORK_DISABLE_PLUGINS", "one, two")

    result = cli("--strict-plugins", "list-steps")

    assert result.exit_code == 0, result.stderr
    assert "good.work" in result.stdout
    assert not (isolated / "imported-one.marker").exists()
    assert not (isolated / "imported-two.marker").exists()


def test_plugin_that_is_not_blocked_is_really_imported(cli, plugin_site, isolated):
    # The counterpart of the blocking tests: the marker does appear when the plugin loads.
    plugin_site.add("broken", _marked_broken("broken"))

    cli("list-steps")

    assert (isolated / "imported-broken.marker").exists()


def test_no_plugin_blocks_a_steps_plugin_so_its_steps_are_unknown(cli, plugin_site):
    plugin_site.add("good", GOOD)

    result = cli("--no-plugin", "good", "run", "good.work")

    assert result.exit_code == 2
    assert len(result.err_lines) == 1
    assert result.err_lines[0].startswith("error: unknown step 'good.work'")
    assert "plugin 'good' is disabled" in result.err_lines[0]


def test_a_step_of_a_plugin_that_failed_to_import_is_unknown_and_says_why(cli, plugin_site):
    plugin_site.add("broken", _marked_broken("broken"))

    result = cli("run", "broken.work")

    assert result.exit_code == 2
    assert result.err_lines[0].startswith("warning: plugin 'broken' was skipped")
    assert result.err_lines[-1].startswith(
        "error: unknown step 'broken.work': plugin 'broken' failed to load"
    )


# -- models -------------------------------------------------------------------------------

MODELS = """
import attrs
from framework import Step, field, hookimpl

class Doubler:
    def __init__(self, factor=2):
        self.factor = factor
    def __call__(self, x):
        return self.factor * x

class Negator:
    def __call__(self, x):
        return -x

@attrs.define
class ApplyConfig:
    model: str = field("zoo.doubler", help="model to apply")

def apply(ctx):
    model = ctx.models.build(ctx.config.model)
    ctx.write_json("result.json", {"value": model(21), "models": ctx.models.names()})

@hookimpl
def register_models(register):
    register("zoo.doubler", __name__ + ":Doubler")
    register("zoo.negator", __name__ + ":Negator")

@hookimpl
def register_steps(register):
    register(Step(id="zoo.apply", run=__name__ + ":apply", config=__name__ + ":ApplyConfig",
                  outputs=["result.json"]))
"""


def test_step_builds_a_registered_model_by_name(cli, plugin_site, isolated):
    plugin_site.add("zoo", MODELS)

    result = cli("run", "zoo.apply", "--run-id", "r1", "--quiet")

    assert result.exit_code == 0, result.stderr
    saved = json.loads((isolated / "runs" / "r1" / "result.json").read_text())
    assert saved["value"] == 42
    assert {"zoo.doubler", "zoo.negator"} <= set(saved["models"])


def test_config_chooses_which_registered_model_a_step_builds(cli, plugin_site, isolated):
    plugin_site.add("zoo", MODELS)

    result = cli("run", "zoo.apply", "--model", "zoo.negator", "--run-id", "r1", "--quiet")

    assert result.exit_code == 0, result.stderr
    assert json.loads((isolated / "runs" / "r1" / "result.json").read_text())["value"] == -21


def test_model_registered_by_another_plugin_can_be_built_by_name(cli, plugin_site, isolated):
    plugin_site.add("zoo", MODELS)
    plugin_site.add(
        "extra",
        """
        from framework import hookimpl

        class Tripler:
            def __call__(self, x):
                return 3 * x

        @hookimpl
        def register_models(register):
            register("extra.tripler", __name__ + ":Tripler")
        """,
    )

    result = cli("run", "zoo.apply", "--model", "extra.tripler", "--run-id", "r1", "--quiet")

    assert result.exit_code == 0, result.stderr
    assert json.loads((isolated / "runs" / "r1" / "result.json").read_text())["value"] == 63


def test_unknown_model_name_gets_a_did_you_mean(cli, plugin_site):
    plugin_site.add("zoo", MODELS)

    result = cli("run", "zoo.apply", "--model", "zoo.dubler", "--quiet")

    assert result.exit_code == 2
    assert len(result.err_lines) == 1
    line = result.err_lines[0]
    assert line.startswith("error: ")
    assert "unknown model 'zoo.dubler'" in line
    assert "did you mean 'zoo.doubler'" in line
    assert "zoo.apply" in line
    assert "Traceback" not in result.stderr


# -- CLI extensions ------------------------------------------------------------------------

CLI_EXTENSION = """
import click
from framework import Step, hookimpl

SEEN = []

@click.command("greet", help="Say hello from a plugin.")
@click.argument("who")
def greet(who):
    click.echo(f"hello, {who}")

def work(ctx):
    ctx.write_text("out.txt", "done\\n")

@hookimpl
def register_cli_options(register):
    register(greet)
    register(click.Option(["--tag"], default="untagged", help="A label the ext plugin records."))

@hookimpl
def register_steps(register):
    register(Step(id="ext.work", run=__name__ + ":work", outputs=["out.txt"]))

@hookimpl
def before_run(run):
    SEEN.append(("before_run", {"tag": run.options["tag"]}))

@hookimpl
def after_run(run, status):
    SEEN.append(("after_run", run.options.get("tag")))
"""


def test_command_added_by_a_plugin_appears_in_help(cli, plugin_site):
    plugin_site.add("ext", CLI_EXTENSION)

    result = cli("--help")

    assert result.exit_code == 0, result.stderr
    assert "greet" in result.stdout
    assert "Say hello from a plugin." in result.stdout


def test_command_added_by_a_plugin_runs(cli, plugin_site):
    plugin_site.add("ext", CLI_EXTENSION)

    result = cli("greet", "world")

    assert result.exit_code == 0, result.stderr
    assert result.stdout == "hello, world\n"


def test_command_of_a_blocked_plugin_is_unknown(cli, plugin_site):
    plugin_site.add("ext", CLI_EXTENSION)

    result = cli("--no-plugin", "ext", "greet", "world")

    assert result.exit_code == 2
    assert "No such command 'greet'" in result.stderr


def test_option_added_by_a_plugin_appears_in_run_help(cli, plugin_site):
    plugin_site.add("ext", CLI_EXTENSION)

    result = cli("run", "ext.work", "--help")

    assert result.exit_code == 0, result.stderr
    assert "--tag" in result.stdout
    assert "A label the ext plugin records." in result.stdout


def test_option_added_by_a_plugin_reaches_lifecycle_hooks(cli, plugin_site):
    module = plugin_site.add("ext", CLI_EXTENSION)

    result = cli("run", "ext.work", "--tag", "nightly", "--quiet")

    assert result.exit_code == 0, result.stderr
    seen = sys.modules[module].SEEN
    assert seen[0] == ("before_run", {"tag": "nightly"})
    assert seen[-1] == ("after_run", "nightly")


def test_option_added_by_a_plugin_has_its_default_when_not_given(cli, plugin_site):
    module = plugin_site.add("ext", CLI_EXTENSION)

    result = cli("run", "ext.work", "--quiet")

    assert result.exit_code == 0, result.stderr
    assert sys.modules[module].SEEN[0] == ("before_run", {"tag": "untagged"})
