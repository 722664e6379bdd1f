"""The committed JSON Schemas in schemas/: in step with their classes, and true to real output."""

from __future__ import annotations

import json

import attrs
import jsonschema
import pytest
from framework.config import schema_for, to_plain
from framework.execution import ExecutionSettings
from framework.plugins import Plugins
from framework.runner import load_config_class

from tests.conftest import REPO, read_manifest

SCHEMAS = REPO / "schemas"


def manifest_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / "manifest.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def assert_valid_manifest(run_dir) -> dict:
    manifest = read_manifest(run_dir)
    errors = [
        f"{list(e.absolute_path)}: {e.message}" for e in manifest_validator().iter_errors(manifest)
    ]
    assert errors == []
    return manifest


# -- committed schemas match their classes --------------------------------------------------


def own_plugins() -> list[str]:
    """Entry-point names of the plugins this repository ships (not whatever else is installed)."""
    import tomllib

    names = []
    for pyproject in sorted(
        [*REPO.glob("plugins/*/pyproject.toml"), *REPO.glob("examples/*/pyproject.toml")]
    ):
        project = tomllib.loads(pyproject.read_text())["project"]
        names += list(project.get("entry-points", {}).get("framework.plugins", {}))
    return names


@pytest.fixture
def only_own_plugins(monkeypatch):
    monkeypatch.setenv("FRAMEWORK_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("FRAMEWORK_PLUGINS", ",".join(own_plugins()))


def check_committed_schemas(cli) -> None:
    result = cli("schema", "--check", "--out", str(SCHEMAS))
    assert result.exit_code == 0, result.stderr
    assert "up to date" in result.stdout


def test_committed_schemas_match_the_classes_of_our_own_plugins(cli, only_own_plugins):
    assert {"classifier", "lm", "hello"} <= set(own_plugins())
    check_committed_schemas(cli)


DRIFT_V1 = """
import attrs
from framework import Step, field, hookimpl

@attrs.define
class FitConfig:
    epochs: int = field(10, min=1)

def fit(ctx):
    pass

@hookimpl
def register_steps(register):
    register(Step(id="drift.fit", run=__name__ + ":fit", config=__name__ + ":FitConfig"))
"""

DRIFT_V2 = DRIFT_V1.replace(
    "epochs: int = field(10, min=1)", "epochs: int = field(20, min=1)\n    lr: float = field(0.1)"
)


def test_check_fails_when_a_config_class_changed_after_its_schema_was_written(
    cli, plugin_site, isolated
):
    plugin_site.add("drift", DRIFT_V1)
    assert cli("schema", "--out", "out").exit_code == 0
    written = json.loads((isolated / "out" / "steps" / "drift.fit.schema.json").read_text())
    assert written["properties"]["epochs"]["default"] == 10
    assert cli("schema", "--check", "--out", "out").exit_code == 0

    plugin_site.add("drift", DRIFT_V2)
    result = cli("schema", "--check", "--out", "out")
    assert result.exit_code == 1
    assert result.err_lines == [
        "error: schemas out of date in out: steps/drift.fit.schema.json (run 'framework schema')"
    ]
    assert json.loads((isolated / "out" / "steps" / "drift.fit.schema.json").read_text()) == written


def test_check_fails_when_a_schema_file_is_missing(cli, plugin_site, isolated):
    plugin_site.add("drift", DRIFT_V1)
    assert cli("schema", "--out", "out").exit_code == 0
    (isolated / "out" / "execution.schema.json").unlink()
    result = cli("schema", "--check", "--out", "out")
    assert result.exit_code == 1
    assert "execution.schema.json" in result.err_lines[0]


def test_a_schema_for_a_step_that_no_longer_exists_fails_the_check(cli, plugin_site, isolated):
    plugin_site.add("drift", DRIFT_V1)
    assert cli("schema", "--out", "out").exit_code == 0
    orphan = isolated / "out" / "steps" / "drift.gone.schema.json"
    orphan.write_text("{}\n")
    foreign = isolated / "out" / "steps" / "other.step.schema.json"
    foreign.write_text("{}\n")  # a plugin that is not loaded here: not ours to judge

    result = cli("schema", "--check", "--out", "out")
    assert result.exit_code == 1
    assert "steps/drift.gone.schema.json (no such step)" in result.err_lines[0]
    assert "other.step" not in result.err_lines[0]

    assert cli("schema", "--out", "out").exit_code == 0
    assert not orphan.exists()
    assert foreign.exists()
    assert cli("schema", "--check", "--out", "out").exit_code == 0


# -- schemas accept what the classes produce --------------------------------------------------


def config_classes() -> list[type]:
    """ExecutionSettings and the config class of every working step of the installed plugins
    (a broken step is its plugin's failure, reported by `framework plugins`)."""
    plugins = Plugins()
    steps = [e.spec for e in plugins.steps if e.spec.config]
    working = [s for s in steps if plugins.step_problem(s.id, callable_too=False) is None]
    return [ExecutionSettings] + [load_config_class(s.config, s.id) for s in working]


def sample_value(prop: dict):
    """A value the schema `prop` accepts, for a required field (one without a default)."""
    if "enum" in prop:
        return prop["enum"][0]
    kinds = prop.get("type", "string")
    kind = kinds[0] if isinstance(kinds, list) else kinds
    low = prop.get("minimum", prop.get("exclusiveMinimum", 0))
    return {"integer": int(low) + 1, "number": float(low) + 1.0, "boolean": False,
            "array": [], "object": {}, "null": None}.get(kind, "x")  # fmt: skip


def with_required_filled(cls: type):
    schema = schema_for(cls)
    required = {f.name for f in attrs.fields(cls) if f.default is attrs.NOTHING}
    return cls(**{n: sample_value(schema["properties"][n]) for n in required}), schema


def check_defaults_validate() -> None:
    classes = config_classes()
    assert len(classes) > 1, "no plugin with a config class is installed"
    for cls in classes:
        instance, schema = with_required_filled(cls)
        jsonschema.Draft202012Validator.check_schema(schema)
        jsonschema.validate(to_plain(instance), schema)


def test_every_config_schema_accepts_its_class_defaults():
    check_defaults_validate()


EXTRA = """
import attrs
from framework import Step, field, hookimpl

@attrs.define
class NeedsConfig:
    corpus: str = field(help="required: no default")
    limit: int = field(3, min=1)

def run(ctx):
    pass

@hookimpl
def register_steps(register):
    register(Step(id="extra.needs", run=__name__ + ":run", config=__name__ + ":NeedsConfig"))
"""

SIBLING = """
from framework import Step, hookimpl

class NotAttrs:
    size = 1

@hookimpl
def register_steps(register):
    register(Step(id="sibling.bad", run=__name__ + ":nothing", config=__name__ + ":NotAttrs"))
"""


def test_schema_checks_hold_with_a_third_party_plugin_installed(cli, plugin_site, monkeypatch):
    plugin_site.add("extra", EXTRA)
    plugin_site.add("sibling", SIBLING)
    monkeypatch.delenv("FRAMEWORK_DISABLE_PLUGIN_AUTOLOAD")  # load everything, as a user's venv
    names = {i.name: i.status for i in Plugins().infos.values()}
    assert names["extra"] == "loaded" and "classifier" in names
    assert any(cls.__name__ == "NeedsConfig" for cls in config_classes())
    check_defaults_validate()
    monkeypatch.setenv("FRAMEWORK_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("FRAMEWORK_PLUGINS", ",".join(own_plugins()))
    check_committed_schemas(cli)


def test_config_schema_rejects_values_its_class_forbids():
    schema = schema_for(ExecutionSettings)
    with pytest.raises(jsonschema.ValidationError, match="less than the minimum"):
        jsonschema.validate({**to_plain(ExecutionSettings()), "devices": 0}, schema)
    with pytest.raises(jsonschema.ValidationError, match="Additional properties"):
        jsonschema.validate({**to_plain(ExecutionSettings()), "sed": 1}, schema)


# -- real manifests match the committed manifest schema --------------------------------------


def test_manifest_of_a_completed_run_matches_the_committed_schema(cli, isolated):
    result = cli("run", "hello.evaluate", "--run-id", "r", "--quiet", "--epochs", "5")
    assert result.exit_code == 0, result.stderr
    manifest = assert_valid_manifest(isolated / "runs" / "r")
    assert manifest["splits"], "the example records its splits"


def test_manifest_of_a_rerun_with_skipped_steps_matches_the_committed_schema(
    cli, pipeline, isolated
):
    assert cli("run", "pipe.report", "--run-id", "r", "--quiet").exit_code == 0
    assert cli("run", "pipe.report", "--run-id", "r", "--quiet").exit_code == 0
    manifest = assert_valid_manifest(isolated / "runs" / "r")
    assert {s["status"] for s in manifest["steps"].values()} == {"skipped"}


FAILING = """
from framework import Step, hookimpl

def ok(ctx):
    ctx.write_text("ok.txt", "ok")

def boom(ctx):
    raise RuntimeError("boom")

@hookimpl
def register_steps(register):
    register(Step(id="failing.ok", run=__name__ + ":ok", outputs=["ok.txt"]))
    register(Step(id="failing.boom", run=__name__ + ":boom", requires=["ok"], inputs=["ok.txt"]))
"""


def test_manifest_of_a_failed_run_matches_the_committed_schema(cli, plugin_site, isolated):
    plugin_site.add("failing", FAILING)
    result = cli("run", "failing.boom", "--run-id", "r", "--quiet")
    assert result.exit_code == 1, result.stderr
    manifest = assert_valid_manifest(isolated / "runs" / "r")
    assert manifest["status"] == "failed"
    assert [s["status"] for s in manifest["steps"].values()] == ["completed", "failed"]
