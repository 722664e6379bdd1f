"""The JSON Schema of a config class, and values checked against it."""

from __future__ import annotations

import enum
import math
import pathlib
import typing
from collections.abc import Mapping
from typing import Any

import attrs

from framework.config.fields import config_fields, plain_value, unwrap_optional


def type_schema(tp: Any) -> dict[str, Any]:
    """The schema of one field type (``X | None`` as ``anyOf`` with null)."""
    inner, optional = unwrap_optional(tp)
    schema = _plain_type_schema(inner)
    return {"anyOf": [schema, {"type": "null"}]} if optional else schema


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
            prop["default"] = plain_value(f.default)
        props[f.name] = prop
    schema: dict[str, Any] = {}
    if top_level:
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["title"] = title or cls.__name__
    schema.update({"type": "object", "properties": props, "additionalProperties": False})
    if required:
        schema["required"] = required
    return schema


# -- validation -----------------------------------------------------------------------


def first_error(cls: type, values: Mapping[str, Any]) -> Any:
    """The first schema violation of `values` (a jsonschema ValidationError, ordered by
    path so the message is stable), or None when they are valid."""
    import jsonschema

    validator = _finite_validator(jsonschema)(schema_for(cls))
    errors = sorted(validator.iter_errors(values), key=lambda e: list(e.absolute_path))
    return errors[0] if errors else None


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


def error_message(err: Any) -> str:
    """A schema violation in the user's words: the values accepted and the one given."""
    if err.validator == "enum":
        return f"{err.instance!r} is not one of {', '.join(map(repr, err.validator_value))}"
    if err.validator == "type":
        return f"expected {_expected({'type': err.validator_value})}, got {err.instance!r}"
    if err.validator == "anyOf":
        return f"expected {' or '.join(_expected(s) for s in err.validator_value)}, got {err.instance!r}"
    return str(err.message)


def _expected(schema: Mapping[str, Any]) -> str:
    """A schema's accepted values in words: 'integer', 'one of 'a', 'b'', 'null'."""
    if "enum" in schema:
        return "one of " + ", ".join(map(repr, schema["enum"]))
    kinds = schema.get("type", "a value of another shape")
    return " or ".join(kinds) if isinstance(kinds, list) else str(kinds)
