"""The small specs plugins register besides steps: config bridges and sweep presets."""

from __future__ import annotations

from typing import Any

from framework.frozen import Frozen


class ConfigBridge(Frozen):
    """Copies a step's typed config into a legacy flat dict before the step runs.

    `function` is an import path to ``f(config) -> dict``; the dict is recorded in the
    manifest and handed to the step as ``ctx.legacy[name]``.
    """

    _FIELDS = ("name", "steps", "function")
    __slots__ = _FIELDS
    name: str
    steps: tuple[str, ...]
    function: str

    def __init__(self, name: str, steps: str | tuple[str, ...] | list[str], function: str = ""):
        self._set(name, (steps,) if isinstance(steps, str) else tuple(steps), function)


class SweepPreset(Frozen):
    """A named parameter matrix over a step (e.g. a dose x overlap study).

    `matrix` maps an axis to its values: ``{"lr": (1e-3, 3e-3)}`` sets the field ``lr``;
    an axis whose values are a mapping of named bundles sets several fields at once,
    ``{"view": {"dense": {"gridsize": 2, "overlap": 0.75}, ...}}``.
    `framework sweep --preset NAME` runs it.
    """

    _FIELDS = ("name", "step", "matrix", "description")
    __slots__ = _FIELDS
    name: str
    step: str
    matrix: dict[str, Any]
    description: str

    def __init__(self, name: str, step: str, matrix: dict[str, Any], description: str = "") -> None:
        self._set(name, step, matrix, description)
