"""The small specs plugins register besides steps: config bridges, sweep presets and
run launchers."""

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


class RunLauncher(Frozen):
    """Takes `framework run` over when its own options ask for it (several processes).

    Registered through ``register_cli_options`` next to the options it reads (`options`,
    their names: they are the launcher's, not handed to the run). `function` is an import
    path to ``f(ctx, target, args, values, prepared) -> int | None``, called once the
    run's config is checked: an exit code ends the command with it; None lets the run go
    on in this process.
    """

    _FIELDS = ("name", "function", "options")
    __slots__ = _FIELDS
    name: str
    function: str
    options: tuple[str, ...]

    def __init__(self, name: str, function: str, options: tuple[str, ...] = ()) -> None:
        self._set(name, function, tuple(options))
