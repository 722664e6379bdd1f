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
    if optional:
        return {"anyOf": [type_schema(inner), {"type": "null"}]}
    origin = typing.get_origin(tp)
    if tp in (bool, int, float, str, pathlib.Path):  # a path is a string
        return {"type": {bool: "boolean", int: "integer", float: "number"}.get(tp, "string")}
    if origin is typing.Literal:
        return {"enum": list(typing.get_args(tp))}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"enum": [m.value for m in tp]}
    if origin in (list, tuple):
        items = [a for a in typing.get_args(tp) if a is not Ellipsis]
        return {"type": "array", "items": type_schema(items[0])} if items else {"type": "array"}
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
    fields = config_fields(cls)
    props: dict[str, Any] = {}
    for f in fields:
        prop = type_schema(f.type)
        facets = {
            "description": f.help or None,
            "minimum": f.min,
            "maximum": f.max,
            "enum": list(f.choices) if f.choices else None,
            "x-aliases": list(f.aliases) or None,
            "x-dependency": f.dependency or None,
        }
        prop.update((k, v) for k, v in facets.items() if v is not None)
        if not f.required:
            prop["default"] = plain_value(f.default)
        props[f.name] = prop
    schema: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if top_level:
        draft = "https://json-schema.org/draft/2020-12/schema"
        schema = {"$schema": draft, "title": title or cls.__name__, **schema}
    required = [f.name for f in fields if f.required]
    return {**schema, "required": required} if required else schema


def first_error(cls: type, values: Mapping[str, Any]) -> Any:
    """The first schema violation of `values` by path (a stable message), or None; NaN and
    infinities are not numbers: manifests are strict JSON."""
    import jsonschema

    def is_finite_number(checker: Any, value: Any) -> bool:
        return (
            isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        )

    base = jsonschema.Draft202012Validator
    finite = base.TYPE_CHECKER.redefine("number", is_finite_number)
    validator = jsonschema.validators.extend(base, type_checker=finite)(schema_for(cls))
    return min(validator.iter_errors(values), key=lambda e: list(e.absolute_path), default=None)


def error_message(err: Any) -> str:
    """A schema violation in the user's words: the values accepted and the one given."""
    if err.validator == "enum":
        return f"{err.instance!r} is not one of {', '.join(map(repr, err.validator_value))}"
    if err.validator == "type":
        return f"expected {_expected({'type': err.validator_value})}, got {err.instance!r}"
    if err.validator == "anyOf":  # the schemas of ``X | None``
        return f"expected {' or '.join(map(_expected, err.validator_value))}, got {err.instance!r}"
    return str(err.message)


def _expected(schema: Mapping[str, Any]) -> str:
    """A schema's accepted values in words: 'integer', 'one of 'a', 'b'', 'null'."""
    if "enum" in schema:
        return "one of " + ", ".join(map(repr, schema["enum"]))
    kinds = schema.get("type", "a value of another shape")
    return " or ".join(kinds) if isinstance(kinds, list) else str(kinds)
