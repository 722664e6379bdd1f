"""The config bridge: typed attrs configs, their JSON Schemas, and value resolution.

Precedence, lowest first: class defaults < ``--config FILE`` < ``FRAMEWORK_*``
environment < command line (shared flags, then ``--set step.field=value``). Every
value remembers where it came from, and the merged values are validated against the
schema generated from the class before any step runs.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import json
import math
import os
import pathlib
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from framework.errors import ConfigError
from framework.steps import did_you_mean

META_KEY = "framework"
SWEEP_SECTION = "sweep"  # a config file's options for `framework sweep`
NOTHING = attrs.NOTHING


def field(
    default: Any = NOTHING,
    *,
    help: str = "",
    min: float | None = None,
    max: float | None = None,
    choices: Iterable[Any] | None = None,
    factory: Any = None,
    aliases: Iterable[str] = (),
    dependency: bool = False,
) -> Any:
    """An attrs field with the metadata the CLI, the schema and validation use.

    `aliases` are other command-line names for the field (``aliases=["n_images"]``
    adds ``--n-images``), for flags users know from older tools.

    `dependency=True` marks a value that names a file or folder outside the run which
    the step reads (a corpus, a data folder): its content hash joins the step's
    fingerprint, so editing the data makes the step stale.
    """
    meta = {"help": help, "min": min, "max": max, "choices": tuple(choices) if choices else None}
    if aliases:
        meta["aliases"] = tuple(aliases)
    if dependency:
        meta["dependency"] = True
    if factory is not None:
        return attrs.field(factory=factory, metadata={META_KEY: meta})
    return attrs.field(default=default, metadata={META_KEY: meta})


# -- introspection --------------------------------------------------------------------


@attrs.frozen
class FieldInfo:
    name: str
    type: Any
    default: Any
    help: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] | None = None
    aliases: tuple[str, ...] = ()
    dependency: bool = False

    @property
    def required(self) -> bool:
        return self.default is NOTHING

    def type_name(self) -> str:
        if self.choices:
            return "|".join(str(c) for c in self.choices)
        return type_label(self.type)


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
    return tp, False


def type_label(tp: Any) -> str:
    inner, optional = _unwrap_optional(tp)
    origin = typing.get_origin(inner)
    if origin is typing.Literal:
        label = "|".join(str(a) for a in typing.get_args(inner))
    elif origin in (list, tuple):
        args = [a for a in typing.get_args(inner) if a is not Ellipsis]
        label = f"list[{type_label(args[0]) if args else 'any'}]"
    elif isinstance(inner, type) and issubclass(inner, enum.Enum):
        label = "|".join(str(m.value) for m in inner)
    elif isinstance(inner, type):
        label = "path" if inner is pathlib.Path else inner.__name__
    else:
        label = str(inner)
    return f"{label} or null" if optional else label


@functools.cache
def config_fields(cls: type) -> tuple[FieldInfo, ...]:
    """The fields of an attrs config class, types resolved (once per class: resolving
    type hints is slow, and resolution asks for a section's fields many times)."""
    if not attrs.has(cls):
        raise TypeError(f"{cls!r} is not an attrs class")
    hints = typing.get_type_hints(cls)
    out = []
    for a in attrs.fields(cls):
        meta = a.metadata.get(META_KEY, {})
        default = a.default
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            default = default.factory() if not default.takes_self else NOTHING
        out.append(
            FieldInfo(
                name=a.name,
                type=hints.get(a.name, a.type),
                default=default,
                help=meta.get("help", ""),
                min=meta.get("min"),
                max=meta.get("max"),
                choices=meta.get("choices"),
                aliases=meta.get("aliases", ()),
                dependency=meta.get("dependency", False),
            )
        )
    return tuple(out)


# -- JSON Schema ----------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, pathlib.PurePath):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple):
        return [_json_default(v) for v in value]
    if attrs.has(type(value)):
        return {k: _json_default(v) for k, v in attrs.asdict(value, recurse=False).items()}
    return value


def type_schema(tp: Any) -> dict[str, Any]:
    inner, optional = _unwrap_optional(tp)
    schema = _plain_type_schema(inner)
    if optional:
        return {"anyOf": [schema, {"type": "null"}]}
    return schema


def _plain_type_schema(tp: Any) -> dict[str, Any]:
    origin = typing.get_origin(tp)
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    if tp is str or tp is pathlib.Path:
        return {"type": "string"}
    if origin is typing.Literal:
        return {"enum": list(typing.get_args(tp))}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"enum": [m.value for m in tp]}
    if origin in (list, tuple):
        items = [a for a in typing.get_args(tp) if a is not Ellipsis]
        schema: dict[str, Any] = {"type": "array"}
        if items:
            schema["items"] = type_schema(items[0])
        return schema
    if origin is dict:
        kv = typing.get_args(tp)
        return {"type": "object", "additionalProperties": type_schema(kv[1]) if kv else {}}
    if attrs.has(tp):
        return schema_for(tp, top_level=False)
    if tp is Any:
        return {}
    raise TypeError(f"config field type {tp!r} is not supported")


def schema_for(cls: type, *, top_level: bool = True, title: str | None = None) -> dict[str, Any]:
    """The JSON Schema of an attrs config class (deterministic, for committing)."""
    props: dict[str, Any] = {}
    required: list[str] = []
    for f in config_fields(cls):
        prop = type_schema(f.type)
        if f.help:
            prop["description"] = f.help
        if f.min is not None:
            prop["minimum"] = f.min
        if f.max is not None:
            prop["maximum"] = f.max
        if f.choices:
            prop["enum"] = list(f.choices)
        if f.aliases:
            prop["x-aliases"] = list(f.aliases)
        if f.dependency:
            prop["x-dependency"] = True
        if f.required:
            required.append(f.name)
        else:
            prop["default"] = _json_default(f.default)
        props[f.name] = prop
    schema: dict[str, Any] = {}
    if top_level:
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["title"] = title or cls.__name__
    schema.update({"type": "object", "properties": props, "additionalProperties": False})
    if required:
        schema["required"] = required
    return schema


# -- values from strings (command line, environment) ----------------------------------

TRUE = {"1", "true", "yes", "on", "y"}
FALSE = {"0", "false", "no", "off", "n"}


def parse_text(text: str, tp: Any) -> Any:
    """Turn a command-line or environment string into a value of type `tp`.

    Raises ValueError with a message that fits after 'invalid value ...: '.
    """
    inner, optional = _unwrap_optional(tp)
    if optional and text.strip().lower() in {"none", "null", ""}:
        return None
    origin = typing.get_origin(inner)
    if inner is bool:
        low = text.strip().lower()
        if low in TRUE:
            return True
        if low in FALSE:
            return False
        raise ValueError(f"{text!r} is not a boolean (use true or false)")
    if inner is int:
        try:
            return int(text)
        except ValueError:
            try:
                as_float = float(text)
            except ValueError:
                raise ValueError(f"{text!r} is not an integer") from None
            if as_float.is_integer():
                return int(as_float)
            raise ValueError(f"{text!r} is not an integer") from None
    if inner is float:
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a number") from None
    if origin in (list, tuple):
        args = [a for a in typing.get_args(inner) if a is not Ellipsis]
        parts = [p.strip() for p in text.split(",")] if text.strip() else []
        return [parse_text(p, args[0]) if args else p for p in parts]
    if origin is typing.Literal:
        for choice in typing.get_args(inner):
            if str(choice) == text:
                return choice
        return text  # rejected by the schema with the list of choices
    if isinstance(inner, type) and issubclass(inner, enum.Enum):
        return text
    if inner in (str, pathlib.Path) or inner is Any:
        return text
    if origin is dict or attrs.has(inner):
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ValueError(f"{text!r} is not valid YAML: {problem}") from None
    return text


def format_text(value: Any, short: bool = False) -> str:
    """A value as the command line types it (what `parse_text` reads back exactly);
    `short` writes floats with 6 digits, for names."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return ",".join(format_text(v, short) for v in value)
    if isinstance(value, float):
        return f"{value:g}" if short else repr(value)
    return str(value)


# -- resolution -----------------------------------------------------------------------


@attrs.define
class Source:
    """Where a config value came from: default, a file, an env var, a flag."""

    kind: str
    where: str = ""

    def __str__(self) -> str:
        return self.kind if not self.where else f"{self.kind} {self.where}"


@attrs.define
class Section:
    """The resolved values of one config class (a step, or the execution settings)."""

    key: str  # step id or "execution"
    cls: type | None
    values: dict[str, Any] = attrs.Factory(dict)
    sources: dict[str, Source] = attrs.Factory(dict)

    def set(self, name: str, value: Any, source: Source) -> None:
        self.values[name] = value
        self.sources[name] = source

    def fields(self) -> tuple[FieldInfo, ...]:
        return config_fields(self.cls) if self.cls else ()

    def field_names(self) -> list[str]:
        return [f.name for f in self.fields()]


def load_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML or JSON config file safely; errors name the file and position."""
    p = pathlib.Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {p} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {p}: {exc.strerror}") from None
    if p.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{p}: line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    else:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ConfigError(f"{p}: {where}{problem}", hint="fix the YAML syntax") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{p}: the top level must be a mapping of sections, not {type(data).__name__}"
        )
    return data


ENV_PREFIX = "FRAMEWORK_"


def env_name(field_name: str) -> str:
    return ENV_PREFIX + field_name.upper()


class ConfigResolver:
    """Merges the layers for every section of a plan and validates the result."""

    def __init__(self, sections: list[Section], short_names: Mapping[str, str]) -> None:
        self.sections = {s.key: s for s in sections}
        self.short_names = dict(short_names)  # short name -> step id (unambiguous ones)
        for s in sections:
            for f in s.fields():
                if not f.required:
                    s.set(f.name, _json_default(f.default), Source("default"))

    def _with_field(self, name: str) -> list[Section]:
        return [s for s in self.sections.values() if name in s.field_names()]

    def _section(self, key: str) -> Section | None:
        return self.sections.get(key) or self.sections.get(self.short_names.get(key, ""))

    def all_field_names(self) -> set[str]:
        return {n for s in self.sections.values() for n in s.field_names()}

    def apply_file(
        self, data: Mapping[str, Any], origin: str, known_steps: Iterable[str] = ()
    ) -> None:
        known = set(known_steps)
        for key, value in data.items():
            if key == SWEEP_SECTION and key not in self.sections:
                continue  # read by `framework sweep`, not by the runs
            section = self._section(str(key))
            if section is not None:
                if not isinstance(value, dict):
                    raise ConfigError(
                        f"{origin}: $.{key}: expected a mapping of fields, got {type(value).__name__}"
                    )
                for name, item in value.items():
                    if name not in section.field_names():
                        raise ConfigError(
                            f"{origin}: $.{key}.{name}: unknown key for {section.key}"
                            f"{did_you_mean(str(name), section.field_names())}",
                            hint="run 'framework describe " + section.key + "' for its fields",
                        )
                    section.set(name, item, Source("file", f"{origin} ($.{key}.{name})"))
                continue
            if key in known or key in {k.split(".", 1)[-1] for k in known}:
                continue  # a section for a step outside this plan
            targets = self._with_field(str(key))
            if not targets:
                candidates = (
                    list(self.all_field_names()) + list(self.sections) + list(self.short_names)
                )
                raise ConfigError(
                    f"{origin}: $.{key}: unknown key{did_you_mean(str(key), candidates)}",
                    hint="top-level keys are step ids, 'execution', or field names shared by steps",
                )
            for section in targets:
                section.set(str(key), value, Source("file", f"{origin} ($.{key})"))

    def apply_env(self, environ: Mapping[str, str], reserved: Iterable[str] = ()) -> None:
        skip = set(reserved)
        for name in sorted(self.all_field_names()):
            var = env_name(name)
            if var in skip or var not in environ:
                continue
            for section in self._with_field(name):
                self._set_text(section, name, environ[var], Source("env", var))

    def apply_flag(self, name: str, text: str | Any, flag: str) -> None:
        for section in self._with_field(name):
            self._set_text(section, name, text, Source("cli", flag))

    def apply_set(self, assignment: str) -> None:
        """``step.field=value`` (step by id or short name) for one step only."""
        target, eq, text = assignment.partition("=")
        if not eq or "." not in target:
            raise ConfigError(f"--set {assignment!r}: expected STEP.FIELD=VALUE")
        step_key, _, name = target.rpartition(".")
        section = self._section(step_key)
        if section is None:
            raise ConfigError(
                f"--set {assignment!r}: no step '{step_key}' in this plan"
                f"{did_you_mean(step_key, list(self.sections) + list(self.short_names))}"
            )
        if name not in section.field_names():
            raise ConfigError(
                f"--set {assignment!r}: {section.key} has no field '{name}'"
                f"{did_you_mean(name, section.field_names())}"
            )
        self._set_text(section, name, text, Source("cli", f"--set {target}"))

    def _set_text(self, section: Section, name: str, text: Any, source: Source) -> None:
        tp = next(f.type for f in section.fields() if f.name == name)
        if isinstance(text, str):
            try:
                value = parse_text(text, tp)
            except ValueError as exc:
                raise ConfigError(f"invalid value for {source.where}: {exc}") from None
        else:
            value = text
        section.set(name, value, source)

    # -- validation -------------------------------------------------------------------

    def validate(self) -> None:
        """Check every section against its schema; the first error names path and source."""
        import jsonschema

        for section in self.sections.values():
            if section.cls is None:
                continue
            schema = schema_for(section.cls)
            validator = _finite_validator(jsonschema)(schema)
            errors = sorted(
                validator.iter_errors(section.values), key=lambda e: list(e.absolute_path)
            )
            if not errors:
                continue
            err = errors[0]
            path = list(err.absolute_path)
            if not path and err.validator == "required":
                missing = err.message.split("'")[1] if "'" in err.message else err.message
                raise ConfigError(
                    f"$.{section.key}.{missing}: required value is missing",
                    hint=f"pass --{missing.replace('_', '-')} or set it in the config file",
                )
            name = str(path[0]) if path else ""
            json_path = (
                "$."
                + section.key
                + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
            )
            source = section.sources.get(name)
            where = f" (from {source})" if source and source.kind != "default" else ""
            raise ConfigError(f"invalid config: {json_path}: {_schema_message(err)}{where}")

    def build(self, key: str) -> Any:
        section = self.sections[key]
        assert section.cls is not None
        return build_instance(section.cls, section.values)

    def resolved(self) -> dict[str, dict[str, Any]]:
        return {k: dict(s.values) for k, s in self.sections.items() if s.cls is not None}

    def provenance(self) -> dict[str, dict[str, str]]:
        return {k: {n: str(src) for n, src in s.sources.items()} for k, s in self.sections.items()}


def _finite_validator(jsonschema: Any) -> Any:
    """Draft 2020-12, except NaN and infinities are not numbers: manifests are strict JSON."""

    def is_finite_number(checker: Any, value: Any) -> bool:
        return (
            isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        )

    base = jsonschema.Draft202012Validator
    return jsonschema.validators.extend(
        base, type_checker=base.TYPE_CHECKER.redefine("number", is_finite_number)
    )


def _schema_message(err: Any) -> str:
    if err.validator == "enum":
        return f"{err.instance!r} is not one of {', '.join(map(repr, err.validator_value))}"
    if err.validator == "type":
        return f"expected {_expected({'type': err.validator_value})}, got {err.instance!r}"
    if err.validator == "anyOf":
        return f"expected {' or '.join(_expected(s) for s in err.validator_value)}, got {err.instance!r}"
    return err.message


def _expected(schema: Mapping[str, Any]) -> str:
    """A schema's accepted values in words: 'integer', 'one of 'a', 'b'', 'null'."""
    if "enum" in schema:
        return "one of " + ", ".join(map(repr, schema["enum"]))
    kinds = schema.get("type", "a value of another shape")
    return " or ".join(kinds) if isinstance(kinds, list) else str(kinds)


def build_instance(cls: type, values: Mapping[str, Any]) -> Any:
    """Make the attrs instance from validated plain values (lists, paths, nested)."""
    kwargs = {}
    for f in config_fields(cls):
        if f.name not in values:
            continue
        kwargs[f.name] = _to_python(values[f.name], f.type)
    return cls(**kwargs)


def _to_python(value: Any, tp: Any) -> Any:
    inner, _ = _unwrap_optional(tp)
    if value is None:
        return None
    origin = typing.get_origin(inner)
    if inner is pathlib.Path:
        return pathlib.Path(value)
    if inner is float and isinstance(value, int):
        return float(value)
    if origin is tuple:
        items = [a for a in typing.get_args(inner) if a is not Ellipsis]
        return tuple(_to_python(v, items[0]) if items else v for v in value)
    if origin is list:
        (item,) = typing.get_args(inner) or (Any,)
        return [_to_python(v, item) for v in value]
    if isinstance(inner, type) and issubclass(inner, enum.Enum):
        return inner(value)
    if attrs.has(inner) and isinstance(value, dict):
        return build_instance(inner, value)
    return value


def canonical_json(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), default=_json_default, allow_nan=False
    )


def config_hash(values: Any) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(values).encode()).hexdigest()


def to_plain(config: Any) -> dict[str, Any]:
    """A config instance as JSON-ready values."""
    return _json_default(config) if attrs.has(type(config)) else dict(config)


def flatten_config(config: Any, renames: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A nested config as a flat dict with dotted keys, keys renamed (for legacy bridges)."""
    renames = renames or {}
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}{k}.", v)
        else:
            key = prefix[:-1]
            flat[renames.get(key, key)] = value

    walk("", to_plain(config))
    return flat
