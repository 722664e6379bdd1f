"""Between a config instance and its plain values: building, flattening, hashing."""

from __future__ import annotations

import enum
import hashlib
import json
import pathlib
import typing
from collections.abc import Mapping
from typing import Any

import attrs

from framework.config.fields import config_fields, unwrap_optional


def plain_value(value: Any) -> Any:
    """A value as JSON holds it: paths as strings, enums by value, configs as dicts."""
    if isinstance(value, pathlib.PurePath):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple):
        return [plain_value(v) for v in value]
    if attrs.has(type(value)):
        return {k: plain_value(v) for k, v in attrs.asdict(value, recurse=False).items()}
    return value


def build_instance(cls: type, values: Mapping[str, Any]) -> Any:
    """Make the attrs instance from validated plain values (lists, paths, nested)."""
    kwargs = {}
    for f in config_fields(cls):
        if f.name not in values:
            continue
        kwargs[f.name] = _to_python(values[f.name], f.type)
    return cls(**kwargs)


def _to_python(value: Any, tp: Any) -> Any:
    inner, _ = unwrap_optional(tp)
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
    """The one JSON text of a value (sorted keys, no spaces, no NaN): what is hashed."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), default=plain_value, allow_nan=False
    )


def config_hash(values: Any) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(values).encode()).hexdigest()


def to_plain(config: Any) -> dict[str, Any]:
    """A config instance as JSON-ready values."""
    return plain_value(config) if attrs.has(type(config)) else dict(config)


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
