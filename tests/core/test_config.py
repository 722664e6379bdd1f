"""The config bridge: layers and their precedence, generated options, validation, legacy bridges."""

from __future__ import annotations

import importlib
import json
import pathlib
import sys

import attrs
import pytest
from framework import flatten_config
from framework.config import schema_for

from tests.conftest import PIPELINE, expect_error, read_manifest

# -- helpers ------------------------------------------------------------------------------


def resolved(result) -> dict[str, dict[str, tuple[object, str]]]:
    """Parse `--print-config` output into {section: {field: (value, source)}}."""
    assert result.exit_code == 0, result.stderr
    sections: dict[str, dict[str, tuple[object, str]]] = {}
    current = None
    for line in result.stdout.splitlines():
        if not line.startswith(" ") and line.endswith(":"):
            current = sections.setdefault(line[:-1], {})
        elif line.strip():
            assert current is not None, line
            name, _, rest = line.strip().partition(": ")
            value, _, source = rest.partition("    # ")
            current[name] = (json.loads(value), source)
    return sections


def assert_config_error(result, isolated, *fragments: str) -> None:
    """Exit 2, one 'error:' line naming each fragment, no traceback, no run directory."""
    expect_error(result, 2, *fragments)
    assert not (isolated / "runs").exists(), "a run directory was created for a rejected config"


def write(path: pathlib.Path, text: str) -> str:
    path.write_text(text)
    return path.name


# -- precedence ---------------------------------------------------------------------------


def test_defaults_come_from_the_config_classes(cli, pipeline):
    config = resolved(cli("run", "pipe.report", "--print-config"))
    assert config["pipe.train"]["size"] == (8, "default")
    assert config["pipe.train"]["mode"] == ("sum", "default")
    assert config["execution"]["seed"] == (0, "default")


def test_yaml_file_sections_keyed_by_step_id_override_defaults(cli, pipeline, isolated):
    name = write(isolated / "c.yaml", "pipe.train:\n  size: 3\n  mode: max\n")
    config = resolved(cli("run", "pipe.report", "--config", name, "--print-config"))
    assert config["pipe.train"]["size"] == (3, "file c.yaml ($.pipe.train.size)")
    assert config["pipe.train"]["mode"][0] == "max"
    assert config["pipe.prepare"]["size"] == (8, "default")


def test_json_file_sections_keyed_by_short_name_override_defaults(cli, pipeline, isolated):
    name = write(isolated / "c.json", json.dumps({"prepare": {"size": 4}}))
    config = resolved(cli("run", "pipe.report", "--config", name, "--print-config"))
    assert config["pipe.prepare"]["size"] == (4, "file c.json ($.prepare.size)")
    assert config["pipe.train"]["size"] == (8, "default")


def test_execution_section_in_file_sets_execution_settings(cli, pipeline, isolated):
    name = write(isolated / "c.yaml", "execution:\n  seed: 7\n  precision: bf16\n")
    config = resolved(cli("run", "pipe.report", "--config", name, "--print-config"))
    assert config["execution"]["seed"] == (7, "file c.yaml ($.execution.seed)")
    assert config["execution"]["precision"][0] == "bf16"


def test_top_level_field_name_in_file_sets_every_step_that_has_it(cli, pipeline, isolated):
    name = write(isolated / "c.yaml", "size: 5\nseed: 9\n")
    config = resolved(cli("run", "pipe.report", "--config", name, "--print-config"))
    assert config["pipe.prepare"]["size"] == (5, "file c.yaml ($.size)")
    assert config["pipe.train"]["size"] == (5, "file c.yaml ($.size)")
    assert config["execution"]["seed"][0] == 9


def test_environment_overrides_the_file(cli, pipeline, isolated, monkeypatch):
    name = write(isolated / "c.yaml", "train:\n  scale: 5\n")
    monkeypatch.setenv("FRAMEWORK_SCALE", "3")
    config = resolved(cli("run", "pipe.report", "--config", name, "--print-config"))
    assert config["pipe.train"]["scale"] == (3.0, "env FRAMEWORK_SCALE")


def test_command_line_overrides_the_environment(cli, pipeline, monkeypatch):
    monkeypatch.setenv("FRAMEWORK_SCALE", "3")
    config = resolved(cli("run", "pipe.report", "--scale", "4", "--print-config"))
    assert config["pipe.train"]["scale"] == (4.0, "cli --scale")


def test_one_flag_sets_every_step_in_the_plan_that_has_the_field(cli, pipeline):
    config = resolved(cli("run", "pipe.report", "--size", "5", "--print-config"))
    assert config["pipe.prepare"]["size"] == (5, "cli --size")
    assert config["pipe.train"]["size"] == (5, "cli --size")


def test_set_targets_one_step_by_id_or_short_name(cli, pipeline):
    by_id = resolved(
        cli("run", "pipe.report", "--size", "5", "--set", "pipe.train.size=3", "--print-config")
    )
    assert by_id["pipe.prepare"]["size"] == (5, "cli --size")
    assert by_id["pipe.train"]["size"] == (3, "cli --set pipe.train.size")
    by_short = resolved(cli("run", "pipe.report", "--set", "prepare.size=2", "--print-config"))
    assert by_short["pipe.prepare"]["size"][0] == 2
    assert by_short["pipe.train"]["size"] == (8, "default")


def test_set_short_name_means_the_plans_step_when_other_plugins_share_it(cli, plugin_site):
    plugin_site.add("pipe", PIPELINE)
    plugin_site.add("other", PIPELINE.replace('"pipe.', '"other.'))
    config = resolved(cli("run", "pipe.report", "--set", "train.scale=3", "--print-config"))
    assert config["pipe.train"]["scale"] == (3.0, "cli --set train.scale")


def test_steps_receive_the_resolved_values(cli, pipeline, isolated):
    result = cli("run", "pipe.report", "--run-id", "r", "--size", "4", "--set", "train.scale=10")
    assert result.exit_code == 0, result.stderr
    assert (isolated / "runs" / "r" / "report.txt").read_text() == "value=60.0\n"  # (0+1+2+3) * 10
    assert read_manifest(isolated / "runs" / "r")["config"]["pipe.train"]["scale"] == 10.0


def test_print_config_exits_without_creating_a_run(cli, pipeline, isolated):
    result = cli("run", "pipe.report", "--print-config", "--run-id", "r")
    assert result.exit_code == 0
    assert "size: 8    # default" in result.stdout
    assert not (isolated / "runs").exists()
    assert sys.modules[pipeline].CALLS == []


# -- bad input: one line, exit 2, nothing runs --------------------------------------------


def test_malformed_yaml_names_file_line_and_column(cli, pipeline, isolated):
    name = write(isolated / "bad.yaml", "train:\n  size: [1, 2\n  mode: max\n")
    result = cli("run", "pipe.report", "--config", name)
    assert_config_error(result, isolated, "bad.yaml", "line 3, column")
    assert sys.modules[pipeline].CALLS == []


def test_malformed_json_names_file_line_and_column(cli, pipeline, isolated):
    name = write(isolated / "bad.json", '{"train": {"size": 3,}}')
    assert_config_error(
        cli("run", "pipe.report", "--config", name), isolated, "bad.json", "line 1, column"
    )


def test_out_of_range_value_in_file_names_json_path_and_file(cli, pipeline, isolated):
    name = write(isolated / "c.yaml", "pipe.train:\n  size: 0\n")
    result = cli("run", "pipe.report", "--config", name)
    assert_config_error(result, isolated, "$.pipe.train.size", "minimum of 1", "c.yaml")
    assert sys.modules[pipeline].CALLS == []


def test_wrong_enum_value_names_json_path_and_choices(cli, pipeline, isolated):
    name = write(isolated / "c.yaml", "train:\n  mode: mean\n")
    assert_config_error(
        cli("run", "pipe.report", "--config", name),
        isolated,
        "$.pipe.train.mode",
        "'mean'",
        "'sum', 'max'",
    )


def test_wrong_type_in_file_names_json_path(cli, pipeline, isolated):
    name = write(isolated / "c.yaml", "train:\n  size: lots\n")
    result = cli("run", "pipe.report", "--config", name)
    assert_config_error(
        result, isolated, "$.pipe.train.size", "expected integer, got 'lots'", "c.yaml"
    )


def test_non_finite_numbers_are_rejected_from_file_and_command_line(cli, pipeline, isolated):
    name = write(isolated / "c.yaml", "train:\n  scale: .inf\n")
    assert_config_error(
        cli("run", "pipe.report", "--config", name), isolated, "$.pipe.train.scale", "got inf"
    )
    result = cli("run", "pipe.report", "--scale", "nan")
    assert_config_error(
        result, isolated, "$.pipe.train.scale", "expected number, got nan", "--scale"
    )


def test_unknown_key_in_step_section_suggests_the_field(cli, pipeline, isolated):
    name = write(isolated / "c.yaml", "train:\n  sise: 3\n")
    result = cli("run", "pipe.report", "--config", name)
    assert_config_error(
        result, isolated, "c.yaml", "$.train.sise", "unknown key", "did you mean 'size'"
    )


def test_unknown_top_level_key_suggests_the_field(cli, pipeline, isolated):
    name = write(isolated / "c.yaml", "scael: 3\n")
    assert_config_error(
        cli("run", "pipe.report", "--config", name),
        isolated,
        "c.yaml",
        "$.scael",
        "did you mean 'scale'",
    )


def test_wrong_type_on_the_command_line_names_the_flag(cli, pipeline, isolated):
    result = cli("run", "pipe.report", "--size", "abc")
    assert_config_error(result, isolated, "--size", "'abc' is not an integer")
    assert sys.modules[pipeline].CALLS == []


def test_out_of_range_flag_names_json_path_and_flag(cli, pipeline, isolated):
    assert_config_error(
        cli("run", "pipe.report", "--size", "0"), isolated, "$.pipe.prepare.size", "--size"
    )


def test_set_with_unknown_step_suggests_one(cli, pipeline, isolated):
    result = cli("run", "pipe.report", "--set", "pipe.trian.size=3")
    assert_config_error(
        result, isolated, "--set", "no step 'pipe.trian'", "did you mean 'pipe.train'"
    )


def test_set_with_unknown_field_suggests_one(cli, pipeline, isolated):
    result = cli("run", "pipe.report", "--set", "train.sise=3")
    assert_config_error(
        result, isolated, "--set", "pipe.train has no field 'sise'", "did you mean 'size'"
    )


def test_missing_config_file_is_named(cli, pipeline, isolated):
    assert_config_error(
        cli("run", "pipe.report", "--config", "nope.yaml"), isolated, "nope.yaml", "does not exist"
    )


def test_config_file_whose_top_level_is_not_a_mapping_is_refused(cli, pipeline, isolated):
    name = write(isolated / "c.yaml", "- size: 3\n- scale: 2\n")
    assert_config_error(
        cli("run", "pipe.report", "--config", name),
        isolated,
        "c.yaml",
        "top level must be a mapping",
    )


# -- typed conversion ---------------------------------------------------------------------

TYPED = """
import pathlib
from typing import Literal

import attrs
from framework import Step, field, hookimpl

@attrs.define
class Optim:
    lr: float = field(0.1, min=0.0, help="learning rate")
    betas: tuple[float, ...] = field((0.9, 0.999), help="adam betas")

@attrs.define
class FitConfig:
    data_dir: pathlib.Path = field(pathlib.Path("data"), help="where the data lives")
    layers: list[int] = field(factory=lambda: [16, 16], help="hidden widths")
    shape: tuple[int, ...] = field((2, 2), help="input shape")
    limit: int | None = field(None, help="stop after this many samples")
    kind: Literal["linear", "mlp"] = field("linear", help="model kind")
    optim: Optim = field(factory=Optim, help="optimiser")
    verbose: bool = field(False, help="chatty")
    batch_size: int = field(4, min=1, help="samples per batch")

SEEN = []

def fit(ctx):
    SEEN.append(ctx.config)

@hookimpl
def register_steps(register):
    register(Step(id="typed.fit", run=__name__ + ":fit", config=__name__ + ":FitConfig"))
"""


@pytest.fixture
def typed(plugin_site):
    """A one-step plugin whose config uses every supported field type; returns its module."""
    return importlib.import_module(plugin_site.add("typed", TYPED))


def run_fit(cli, *args: str):
    """Run typed.fit (always computed afresh) and return the config instance the step saw."""
    result = cli("run", "typed.fit", "--force", *args)
    assert result.exit_code == 0, result.stderr
    return sys.modules["fwtest_typed"].SEEN[-1]


def test_path_fields_become_pathlib_paths(cli, typed):
    assert run_fit(cli).data_dir == pathlib.Path("data")
    assert run_fit(cli, "--data-dir", "/tmp/elsewhere").data_dir == pathlib.Path("/tmp/elsewhere")


def test_list_and_tuple_fields_parse_comma_separated_flags(cli, typed):
    config = run_fit(cli, "--layers", "8,4,2", "--shape", "3,5")
    assert config.layers == [8, 4, 2]
    assert config.shape == (3, 5)


def test_list_fields_parse_comma_separated_environment(cli, typed, monkeypatch):
    monkeypatch.setenv("FRAMEWORK_LAYERS", "1,2,3")
    assert run_fit(cli).layers == [1, 2, 3]


def test_optional_fields_accept_none_and_null(cli, typed, isolated):
    assert run_fit(cli, "--limit", "7").limit == 7
    assert run_fit(cli, "--limit", "none").limit is None
    name = write(isolated / "c.yaml", "fit:\n  limit: null\n")
    assert run_fit(cli, "--config", name, "--set", "fit.batch_size=2").limit is None


def test_wrong_type_for_an_optional_field_in_file_says_null_is_allowed(cli, typed, isolated):
    name = write(isolated / "c.yaml", "fit:\n  limit: many\n")
    result = cli("run", "typed.fit", "--config", name)
    assert_config_error(
        result, isolated, "$.typed.fit.limit", "expected integer or null, got 'many'"
    )


def test_literal_fields_are_enums_in_the_schema(typed):
    schema = schema_for(typed.FitConfig)
    assert schema["properties"]["kind"]["enum"] == ["linear", "mlp"]


def test_literal_flag_outside_its_choices_is_rejected(cli, typed, isolated):
    assert_config_error(
        cli("run", "typed.fit", "--kind", "tree"),
        isolated,
        "$.typed.fit.kind",
        "'tree'",
        "'linear', 'mlp'",
    )


def test_nested_attrs_class_is_built_from_a_file_section(cli, typed, isolated):
    name = write(isolated / "c.yaml", "typed.fit:\n  optim:\n    lr: 0.5\n")
    config = run_fit(cli, "--config", name)
    assert config.optim == typed.Optim(lr=0.5, betas=(0.9, 0.999))


def test_nested_attrs_class_is_built_from_a_yaml_flag(cli, typed):
    assert run_fit(cli, "--optim", "{lr: 0.25, betas: [0.5, 0.6]}").optim == typed.Optim(
        lr=0.25, betas=(0.5, 0.6)
    )


def test_nested_out_of_range_value_names_the_nested_json_path(cli, typed, isolated):
    name = write(isolated / "c.yaml", "fit:\n  optim:\n    lr: -1\n")
    assert_config_error(
        cli("run", "typed.fit", "--config", name), isolated, "$.typed.fit.optim.lr", "minimum"
    )


def test_underscored_flags_are_accepted_like_dashed_ones(cli, typed):
    assert run_fit(cli, "--batch_size", "7").batch_size == 7
    assert run_fit(cli, "--batch_size=9").batch_size == 9
    assert run_fit(cli, "--batch-size", "3").batch_size == 3


def test_bool_fields_get_on_and_off_flags(cli, typed, monkeypatch):
    assert run_fit(cli, "--verbose").verbose is True
    monkeypatch.setenv("FRAMEWORK_VERBOSE", "true")
    assert run_fit(cli, "--no-verbose").verbose is False


# -- legacy bridges -----------------------------------------------------------------------

LEGACY = """
import attrs
from framework import ConfigBridge, Step, field, flatten_config, hookimpl

@attrs.define
class Inner:
    lr: float = field(0.1)

@attrs.define
class TrainConfig:
    n_images: int = field(8, min=1)
    inner: Inner = field(factory=Inner)

BRIDGE_CALLS = []   # one entry per bridge application
SEEN = []           # what each execution of the step saw

def to_params(config):
    BRIDGE_CALLS.append(config.n_images)
    return flatten_config(config, renames={"n_images": "N", "inner.lr": "learning_rate"})

def prepare(ctx):
    ctx.write_text("data.txt", "x")

def train(ctx):
    SEEN.append({"calls_before": len(BRIDGE_CALLS), "params": dict(ctx.legacy["params"])})
    ctx.write_text("model.txt", "m")

@hookimpl
def register_steps(register):
    register(Step(id="legacy.prepare", run=__name__ + ":prepare", outputs=["data.txt"]))
    register(Step(id="legacy.train", run=__name__ + ":train", config=__name__ + ":TrainConfig",
                  requires=["prepare"], inputs=["data.txt"], outputs=["model.txt"]))

@hookimpl
def register_config_bridges(register):
    register(ConfigBridge(name="params", steps=["legacy.train"], function=__name__ + ":to_params"))
"""


@pytest.fixture
def legacy(plugin_site):
    """A plugin with a legacy bridge on its train step; returns its module (with the spies)."""
    return importlib.import_module(plugin_site.add("legacy", LEGACY))


def test_bridge_is_applied_once_before_the_step_runs(cli, legacy):
    result = cli("run", "legacy.train", "--n-images", "5")
    assert result.exit_code == 0, result.stderr
    module = legacy
    assert module.BRIDGE_CALLS == [5]
    assert module.SEEN == [{"calls_before": 1, "params": {"N": 5, "learning_rate": 0.1}}]


def test_bridge_dict_is_recorded_in_the_manifest(cli, legacy, isolated):
    assert cli("run", "legacy.train", "--run-id", "r").exit_code == 0
    bridges = read_manifest(isolated / "runs" / "r")["bridges"]
    assert bridges == {
        "legacy.train": {
            "params": {"plugin": "legacy", "values": {"N": 8, "learning_rate": 0.1}},
        }
    }


def test_bridge_is_not_applied_for_a_skipped_step(cli, legacy, isolated):
    assert cli("run", "legacy.train", "--run-id", "r").exit_code == 0
    assert cli("run", "legacy.train", "--run-id", "r").exit_code == 0
    assert read_manifest(isolated / "runs" / "r")["steps"]["legacy.train"]["status"] == "skipped"
    assert legacy.BRIDGE_CALLS == [8]


def test_bridge_is_applied_again_for_each_new_execution(cli, legacy):
    assert cli("run", "legacy.train", "--run-id", "r").exit_code == 0
    assert cli("run", "legacy.train", "--run-id", "r", "--force").exit_code == 0
    module = legacy
    assert module.BRIDGE_CALLS == [8, 8]
    assert [seen["calls_before"] for seen in module.SEEN] == [1, 2]


def test_flatten_config_uses_dotted_keys_and_renames():
    @attrs.define
    class Inner:
        lr: float = 0.1
        path: pathlib.Path = pathlib.Path("d")

    @attrs.define
    class Outer:
        n: int = 3
        inner: Inner = attrs.Factory(Inner)

    assert flatten_config(Outer(), renames={"inner.lr": "learning_rate", "n": "N"}) == {
        "N": 3,
        "learning_rate": 0.1,
        "inner.path": "d",
    }


# -- field aliases ------------------------------------------------------------------------

ALIASED = """
import attrs
from framework import Step, field, hookimpl

@attrs.define
class GroupConfig:
    n_groups: int = field(8, min=1, aliases=["n_images"], help="groups to train on")

SEEN = []

def group(ctx):
    SEEN.append(ctx.config)

@hookimpl
def register_steps(register):
    register(Step(id="aliased.group", run=__name__ + ":group", config=__name__ + ":GroupConfig"))
"""


@pytest.fixture
def aliased(plugin_site):
    """A one-step plugin whose field has a command-line alias; returns its module."""
    return importlib.import_module(plugin_site.add("aliased", ALIASED))


def test_field_alias_sets_the_field_like_its_own_flag(cli, aliased):
    for flag in ("--n-groups", "--n-images", "--n_images"):
        result = cli("run", "aliased.group", "--force", flag, "5")
        assert result.exit_code == 0, result.stderr
        assert aliased.SEEN[-1].n_groups == 5


def test_field_alias_is_shown_in_help_describe_and_schema(cli, aliased):
    from framework.config import schema_for

    assert "--n-images" in cli("run", "aliased.group", "--help").stdout
    assert "--n-groups, --n-images" in cli("describe", "aliased.group").stdout
    assert schema_for(aliased.GroupConfig)["properties"]["n_groups"]["x-aliases"] == ["n_images"]
