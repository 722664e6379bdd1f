"""The specs plugins register (a Step; a config bridge, sweep preset or run launcher),
and the registry that resolves step names."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, NamedTuple

from framework.errors import PluginError, UsageError


class Frozen:
    """An immutable record; subclasses fill their `_FIELDS` (also `__slots__`) with `_set`.
    Not attrs: list-steps builds specs, and importing attrs costs more than the CLI."""

    __slots__ = ()
    _FIELDS: ClassVar[tuple[str, ...]] = ()

    def _set(self, *values: Any) -> None:
        for name, value in zip(self._FIELDS, values, strict=True):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen: cannot set {name}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen: cannot delete {name}")

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._FIELDS)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._FIELDS)
        return f"{type(self).__name__}({fields})"


def _as_tuple(value: Iterable[str] | str | None) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value or ())


def check_relative_path(path: str, what: str) -> str:
    """Return `path` normalised, or raise ValueError if it could leave the run dir."""
    if not path or path.startswith(("/", "\\")) or (len(path) > 1 and path[1] == ":"):
        raise ValueError(f"{what} {path!r} must be a relative path inside the run directory")
    norm = posixpath.normpath(path.replace("\\", "/"))
    if norm == "." or norm == ".." or norm.startswith("../"):
        raise ValueError(f"{what} {path!r} escapes the run directory")
    return norm


def _check_import_path(step_id: str, field: str, value: str | None) -> None:
    if value is not None and (":" not in value or value.startswith(":") or value.endswith(":")):
        raise ValueError(
            f"step {step_id}: {field} {value!r} must be an import path 'package.module:name'"
        )


class Step(Frozen):
    """What a plugin declares about one step: import paths (never imported code), and
    artifact paths in the run directory; an output may be a glob (``checkpoints/*.pt``)."""

    _FIELDS = ("id", "run", "description", "config", "requires", "inputs", "outputs",
               "splits", "version")  # fmt: skip
    __slots__ = _FIELDS
    id: str
    run: str
    description: str
    config: str | None
    requires: tuple[str, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    splits: tuple[str, ...]
    version: str

    def __init__(
        self,
        id: str,
        run: str,
        description: str = "",
        config: str | None = None,
        requires: Iterable[str] | str | None = (),
        inputs: Iterable[str] | str | None = (),
        outputs: Iterable[str] | str | None = (),
        splits: Iterable[str] | str | None = (),
        version: str = "1",
    ) -> None:
        plugin, _, name = id.partition(".")
        if not all(p.replace("_", "").replace("-", "").isalnum() for p in (plugin, name)):
            raise ValueError(f"step id {id!r} must look like 'plugin.step'")
        _check_import_path(id, "run", run)
        _check_import_path(id, "config", config)
        ins, outs = _as_tuple(inputs), _as_tuple(outputs)
        for kind, paths in (("input", ins), ("output", outs)):
            for path in paths:
                check_relative_path(path, f"step {id}: {kind}")
        # A bare name in `requires` means a step of the same plugin.
        needs = tuple(r if "." in r else f"{plugin}.{r}" for r in _as_tuple(requires))
        self._set(id, run, description, config, needs, ins, outs, _as_tuple(splits), version)

    @property
    def plugin(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.id.split(".", 1)[1]


class ConfigBridge(Frozen):
    """Copies a step's typed config into a legacy flat dict before the step runs: `function`
    is an import path to ``f(config) -> dict``, handed to the step as ``ctx.legacy[name]``."""

    _FIELDS = ("name", "steps", "function")
    __slots__ = _FIELDS
    name: str
    steps: tuple[str, ...]
    function: str

    def __init__(self, name: str, steps: str | tuple[str, ...] | list[str], function: str = ""):
        self._set(name, _as_tuple(steps), function)


class SweepPreset(Frozen):
    """A named parameter matrix over a step (a dose x overlap study), run by `framework sweep
    --preset NAME`: each axis maps to values, or to named bundles of several fields."""

    _FIELDS = ("name", "step", "matrix", "description")
    __slots__ = _FIELDS
    name: str
    step: str
    matrix: dict[str, Any]
    description: str

    def __init__(self, name: str, step: str, matrix: dict[str, Any], description: str = "") -> None:
        self._set(name, step, matrix, description)


class RunLauncher(Frozen):
    """Takes `framework run` over when its own `options` ask for it (several processes);
    docs/writing-plugins.md says how `function` and `job` are called."""

    _FIELDS = ("name", "function", "options", "job")
    __slots__ = _FIELDS
    name: str
    function: str
    options: tuple[str, ...]
    job: str

    def __init__(
        self, name: str, function: str, options: tuple[str, ...] = (), job: str = ""
    ) -> None:
        self._set(name, function, tuple(options), job)


def is_pattern(path: str) -> bool:
    return any(ch in path for ch in "*?[")


class RegisteredStep(NamedTuple):
    """A Step together with the plugin that registered it (not attrs: start-up time)."""

    spec: Step
    plugin: str
    distribution: str | None = None
    plugin_version: str | None = None

    @property
    def id(self) -> str:
        return self.spec.id

    def origin(self) -> str:
        dist = f" ({self.distribution} {self.plugin_version})" if self.distribution else ""
        return f"plugin '{self.plugin}'{dist}"


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """A ' (did you mean X?)' suffix, or '' when nothing is close."""
    import difflib  # only on the error path: keeps start-up lean

    matches = difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.6)
    return " (did you mean " + " or ".join(map(repr, matches)) + "?)" if matches else ""


class StepRegistry:
    """All steps of the loaded plugins, by qualified id, with short-name lookup."""

    def __init__(self) -> None:
        self._steps: dict[str, RegisteredStep] = {}
        self.conflicts: dict[str, list[RegisteredStep]] = {}
        self.unloaded: dict[str, str] = {}  # plugin name -> "is disabled" / "failed to load"

    def add(self, entry: RegisteredStep) -> None:
        if entry.id in self._steps:
            self.conflicts.setdefault(entry.id, [self._steps[entry.id]]).append(entry)
        else:
            self._steps[entry.id] = entry

    def check_conflicts(self) -> None:
        """Raise for the first step id registered by more than one plugin."""
        for step_id, entries in self.conflicts.items():
            who = " and ".join(e.origin() for e in entries)
            raise PluginError(
                f"duplicate step id '{step_id}': registered by {who}",
                hint="uninstall one or disable it with --no-plugin NAME",
            )

    def __iter__(self) -> Iterator[RegisteredStep]:
        return iter(sorted(self._steps.values(), key=lambda e: e.id))

    def ids(self) -> list[str]:
        return sorted(self._steps)

    def get(self, step_id: str) -> RegisteredStep:
        return self._steps[step_id]

    def resolve(self, name: str) -> RegisteredStep:
        """Find a step by qualified id or unambiguous short name."""
        self.check_conflicts()
        if name in self._steps:
            return self._steps[name]
        matches = [e for e in self._steps.values() if e.spec.name == name]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            ids = ", ".join(sorted(e.id for e in matches))
            raise UsageError(
                f"step name '{name}' is ambiguous: it matches {ids}", hint="use the qualified id"
            )
        prefix = name.partition(".")[0]
        if prefix in self.unloaded:  # `ptycho.train` with the ptycho plugin blocked or broken
            raise UsageError(
                f"unknown step '{name}': plugin '{prefix}' {self.unloaded[prefix]}",
                hint="see 'framework plugins'",
            )
        known = list(self._steps) + [e.spec.name for e in self._steps.values()]
        hint = (
            "run 'framework list-steps' to see them"
            if self._steps
            else "no plugin registers any step"
        )
        raise UsageError(f"unknown step '{name}'{did_you_mean(name, known)}", hint=hint)

    def validate_requires(self) -> None:
        """Every `requires` entry must name a registered step."""
        for entry in self._steps.values():
            for req in entry.spec.requires:
                if req not in self._steps:
                    raise PluginError(
                        f"step '{entry.id}' requires unknown step '{req}'{did_you_mean(req, self._steps)}",
                        hint=f"fix the Step spec in {entry.origin()}",
                    )
