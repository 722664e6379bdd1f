"""A config value as text and back: what the command line and the environment carry."""

from __future__ import annotations

import contextlib
import typing
from typing import Any

import attrs

from framework.config.fields import unwrap_optional

TRUE = {"1", "true", "yes", "on", "y"}
FALSE = {"0", "false", "no", "off", "n"}


def parse_text(text: str, tp: Any) -> Any:
    """A command-line or environment string as a value of type `tp`; a ValueError's message
    fits after 'invalid value for ...: '."""
    inner, optional = unwrap_optional(tp)
    if optional and text.strip().lower() in {"none", "null", ""}:
        return None
    origin = typing.get_origin(inner)
    if inner is bool:
        low = text.strip().lower()
        if low not in TRUE | FALSE:
            raise ValueError(f"{text!r} is not a boolean (use true or false)")
        return low in TRUE
    if inner is int:  # also written as a float with nothing after the point (1e3)
        with contextlib.suppress(ValueError):
            return int(text)
        with contextlib.suppress(ValueError):
            if float(text).is_integer():
                return int(float(text))
        raise ValueError(f"{text!r} is not an integer")
    if inner is float:
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a number") from None
    if origin in (list, tuple):
        args = [a for a in typing.get_args(inner) if a is not Ellipsis]
        parts = [p.strip() for p in text.split(",")] if text.strip() else []
        return [parse_text(p, args[0]) if args else p for p in parts]
    if origin is typing.Literal:  # text no choice matches is rejected by the schema
        return next((c for c in typing.get_args(inner) if str(c) == text), text)
    if origin is dict or attrs.has(inner):  # a mapping or a nested config typed inline
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ValueError(f"{text!r} is not valid YAML: {problem}") from None
    return text  # a string, a path, an enum's value (the schema checks it): the text itself


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
