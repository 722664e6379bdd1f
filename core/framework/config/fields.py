"""A config class: its fields (`field()` declares one, `config_fields()` reads them back),
and its instances to and from plain values (what JSON holds, what is hashed)."""

from __future__ import annotations

import enum
import functools
import pathlib
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

META_KEY = "framework"
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
    fingerprint: bool = True,
) -> Any:
    """An attrs field with the metadata the CLI, the schema and validation use (`aliases`,
    `dependency` and `fingerprint` are explained in docs/writing-plugins.md)."""
    meta = {
        "help": help,
        "min": min,
        "max": max,
        "choices": tuple(choices) if choices else None,
        "aliases": tuple(aliases),
        "dependency": dependency,
        "fingerprint": fingerprint,
    }
    default = default if factory is None else attrs.Factory(factory)
    return attrs.field(default=default, metadata={META_KEY: meta})


@attrs.frozen
class FieldInfo:
    """One field of a config class, its type resolved and its `field()` metadata read."""

    name: str
    type: Any
    default: Any
    help: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] | None = None
    aliases: tuple[str, ...] = ()
    dependency: bool = False
    fingerprint: bool = True

    @property
    def required(self) -> bool:
        return self.default is NOTHING

    def type_name(self) -> str:
        return "|".join(map(str, self.choices)) if self.choices else type_label(self.type)


def unwrap_optional(tp: Any) -> tuple[Any, bool]:
    """``X | None`` as ``(X, True)``; any other type as ``(tp, False)``."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:  # a union holds each type once: the other one is None
            return args[0], True
    return tp, False


def type_label(tp: Any) -> str:
    """A field type in words, for help and `describe`: ``int``, ``a|b``, ``list[path]``."""
    inner, optional = unwrap_optional(tp)
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
        meta = a.metadata.get(META_KEY, {})  # what field() recorded: FieldInfo's own names
        default = a.default
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            default = default.factory() if not default.takes_self else NOTHING
        out.append(FieldInfo(name=a.name, type=hints.get(a.name, a.type), default=default, **meta))
    return tuple(out)


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
    fields = config_fields(cls)
    return cls(**{f.name: _to_python(values[f.name], f.type) for f in fields if f.name in values})


def _to_python(value: Any, tp: Any) -> Any:
    inner, _ = unwrap_optional(tp)
    if value is None:
        return None
    origin = typing.get_origin(inner)
    if inner is pathlib.Path:
        return pathlib.Path(value)
    if inner is float and isinstance(value, int):
        return float(value)
    if origin in (list, tuple):
        items = [a for a in typing.get_args(inner) if a is not Ellipsis]
        converted = [_to_python(v, items[0]) if items else v for v in value]
        return tuple(converted) if origin is tuple else converted
    if isinstance(inner, type) and issubclass(inner, enum.Enum):
        return inner(value)
    if attrs.has(inner) and isinstance(value, dict):
        return build_instance(inner, value)
    return value


def canonical_json(value: Any) -> str:
    """The one JSON text of a value (sorted keys, no spaces, no NaN): what is hashed."""
    import json  # imported here: completing an option must not pay for it

    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), default=plain_value, allow_nan=False
    )


def config_hash(values: Any) -> str:
    from framework.hashing import hash_bytes

    return hash_bytes(canonical_json(values).encode())


def to_plain(config: Any) -> dict[str, Any]:
    """A config instance as JSON-ready values."""
    return plain_value(config) if attrs.has(type(config)) else dict(config)


def flatten_config(config: Any, renames: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A nested config as a flat dict with dotted keys, keys renamed (for legacy bridges)."""
    flat: dict[str, Any] = {}
    for key, value in to_plain(config).items():
        if isinstance(value, dict):
            flat.update({f"{key}.{k}": v for k, v in flatten_config(value).items()})
        else:
            flat[str(key)] = value
    return {(renames or {}).get(k, k): v for k, v in flat.items()}
