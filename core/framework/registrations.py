"""The small specs plugins register besides steps: config bridges and sweep presets."""

from __future__ import annotations

from typing import Any

import attrs


def _names(value: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


@attrs.frozen
class ConfigBridge:
    """Copies a step's typed config into a legacy flat dict before the step runs.

    `function` is an import path to ``f(config) -> dict``; the dict is recorded in the
    manifest and handed to the step as ``ctx.legacy[name]``.
    """

    name: str
    steps: tuple[str, ...] = attrs.field(converter=_names)
    function: str = ""


@attrs.frozen
class SweepPreset:
    """A named parameter matrix over a step (e.g. a dose x overlap study)."""

    name: str
    step: str
    matrix: dict[str, tuple[Any, ...]]
    description: str = ""
