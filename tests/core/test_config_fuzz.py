"""Property-based tests of the config path: whatever a user types (a config file, --set,
an environment variable, a flag) resolves to a config its schema accepts, or ends in
one `error:` line with exit code 2. Never another exception, never a traceback.

The suite runs a bounded number of examples (the `framework-ci` profile, see
tests/conftest.py); for a long run:

    pytest tests/core/test_config_fuzz.py --hypothesis-profile=long
"""

from __future__ import annotations

import json
import os
from functools import cache

import jsonschema
import pytest
import yaml
from framework.config import env_name, schema_for, to_plain
from framework.errors import FrameworkError
from framework.plugins import Plugins
from framework.runner import EXECUTION, RunRequest, config_sections, prepare, resolve_plan

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

# Steps of the plugins this repository ships, whose config classes are fuzzed.
TARGETS = ("hello.evaluate", "lm.train", "classifier.sweep_thresholds", "ptycho.train")
FIXTURES_OK = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


@cache
def plugins() -> Plugins:
    return Plugins()


@cache
def fields_of(target: str) -> dict[str, dict[str, list[str]]]:
    """Section key -> field name -> its JSON Schema 'type' names, for the target's plan."""
    _, order = resolve_plan(plugins(), target, only=False)
    out = {}
    for section in config_sections(plugins(), order):
        props = schema_for(section.cls)["properties"]
        out[section.key] = {
            name: (p.get("type") if isinstance(p.get("type"), list) else [p.get("type", "string")])
            for name, p in props.items()
        }
    return out


def field_names(target: str) -> list[str]:
    return sorted({n for fields in fields_of(target).values() for n in fields})


# Text that looks like what users type for a value, and text that does not.
NUMBERISH = st.sampled_from(
    ["0", "-1", "1e3", "1e999", "nan", "inf", "-inf", "0x10", "1_000", "3.5", " 7 ", "", "true",
     "no", "null", "~", "[1, 2]", "{a: 1}", "32", "bf16", "cpu", "auto", "'", '"', "\\", "é", "\x00"]
)  # fmt: skip
TEXT = st.one_of(NUMBERISH, st.text(max_size=12), st.integers().map(str), st.floats().map(str))
SCALAR = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12), NUMBERISH
)
VALUE = st.recursive(
    SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)  # fmt: skip


def outcome(cli, target: str, *args: str) -> None:
    """The CLI either accepts the config or refuses it in one line with exit 2."""
    result = cli("run", target, "--print-config", *args)
    assert "Traceback" not in result.stderr, result.stderr
    if result.exit_code == 0:
        return
    assert result.exit_code == 2, result
    assert len(result.err_lines) == 1, result.stderr
    assert result.err_lines[0].startswith("error: "), result.stderr
    assert "internal error" not in result.stderr, result.stderr


def resolves_to_valid_config(request: RunRequest, environ: dict[str, str]) -> None:
    """The same input through the API: a FrameworkError (exit 2), or configs that validate."""
    try:
        prepared = prepare(request, plugins(), environ)
    except FrameworkError as exc:
        assert exc.exit_code == 2, exc
        return
    classes = {s.key: s.cls for s in config_sections(plugins(), prepared.plan)}
    built = {**prepared.configs, EXECUTION: prepared.execution}
    for key, config in built.items():
        jsonschema.validate(to_plain(config), schema_for(classes[key]))


@st.composite
def config_documents(draw):
    """A config file's mapping: sections by step id, short name, or nonsense, holding real
    field names (mostly) with values of any type."""
    target = draw(st.sampled_from(TARGETS))
    sections = list(fields_of(target)) + [k.split(".")[-1] for k in fields_of(target)] + ["nope"]
    doc = {}
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from(sections))
        names = [*field_names(target), "not_a_field"]
        doc[key] = draw(
            st.one_of(
                st.dictionaries(st.sampled_from(names), VALUE, max_size=4),
                VALUE,
            )
        )
    if draw(st.booleans()):
        doc.update(draw(st.dictionaries(st.sampled_from(field_names(target)), VALUE, max_size=2)))
    return target, doc


@FIXTURES_OK
@given(config_documents(), st.sampled_from(["yaml", "json", "raw"]), st.text(max_size=30))
@example(("hello.evaluate", {"hello.train": {"\r": None}}), "yaml", "")  # once two lines
def test_any_config_file_resolves_or_is_refused_in_one_line(cli, isolated, case, form, raw):
    target, doc = case
    if form == "yaml":
        path, text = "cfg.yaml", yaml.safe_dump(doc, allow_unicode=True)
    elif form == "json":
        path, text = "cfg.json", json.dumps(doc)
    else:  # whatever bytes a broken editor left behind
        path, text = "cfg.yaml", raw
    (isolated / path).write_text(text, encoding="utf-8")
    outcome(cli, target, "--config", path)
    resolves_to_valid_config(RunRequest(target=target, config_file=path), {})


@st.composite
def assignments(draw):
    target = draw(st.sampled_from(TARGETS))
    steps = [k for k in fields_of(target) if k != EXECUTION]
    step = draw(
        st.one_of(st.sampled_from(steps + [s.split(".")[-1] for s in steps]), st.text(max_size=6))
    )
    name = draw(st.one_of(st.sampled_from(field_names(target)), st.text(max_size=6)))
    eq = draw(st.sampled_from(["=", "=", ":", ""]))
    return target, f"{step}.{name}{eq}{draw(TEXT)}"


@FIXTURES_OK
@given(st.lists(assignments(), min_size=1, max_size=3))
def test_any_set_assignment_resolves_or_is_refused_in_one_line(cli, cases):
    target = cases[0][0]
    sets = [a for t, a in cases if t == target]
    args = [arg for a in sets for arg in ("--set", a)]
    outcome(cli, target, *args)
    resolves_to_valid_config(RunRequest(target=target, sets=sets), {})


@st.composite
def environments(draw):
    target = draw(st.sampled_from(TARGETS))
    names = draw(st.lists(st.sampled_from(field_names(target)), min_size=1, max_size=3))
    return target, {env_name(n): draw(TEXT.filter(lambda t: "\x00" not in t)) for n in names}


@FIXTURES_OK
@given(environments())
def test_any_environment_value_resolves_or_is_refused_in_one_line(cli, monkeypatch, case):
    target, environ = case
    with monkeypatch.context() as patch:
        for var, value in environ.items():
            patch.setenv(var, value)
        outcome(cli, target)
    resolves_to_valid_config(RunRequest(target=target), {**os.environ, **environ})


@st.composite
def flag_lines(draw):
    """`--field VALUE` pairs for real fields of the plan (bool fields as --x / --no-x)."""
    target = draw(st.sampled_from(TARGETS))
    types = {n: t for fields in fields_of(target).values() for n, t in fields.items()}
    args, flags = [], {}
    for name in draw(st.lists(st.sampled_from(sorted(types)), min_size=1, max_size=4, unique=True)):
        dashed = "--" + name.replace("_", "-")
        if "boolean" in types[name]:
            on = draw(st.booleans())
            args.append(dashed if on else "--no-" + dashed[2:])
            flags[name] = (on, args[-1])
        else:
            text = draw(TEXT.filter(lambda t: "\x00" not in t and not t.startswith("-")))
            args += [dashed, text]
            flags[name] = (text, dashed)
    return target, args, flags


@FIXTURES_OK
@given(flag_lines())
def test_any_generated_flags_resolve_or_are_refused_in_one_line(cli, case):
    target, args, flags = case
    outcome(cli, target, *args)
    resolves_to_valid_config(RunRequest(target=target, flags=flags), {})
