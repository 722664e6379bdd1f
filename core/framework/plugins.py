"""Plugin discovery and the manager facade: each plugin loads inside a guard, so one that
fails to import, carries a misspelled hook or whose registration hook raises is recorded
(``framework plugins``) and skipped; ``--strict-plugins`` makes those failures errors."""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import types
from collections.abc import Callable, Iterable
from functools import cached_property, partial
from typing import Any

import pluggy

from framework import hookspecs
from framework.entrypoints import entry_points, import_object
from framework.errors import PluginError, UsageError, short_error
from framework.steps import (
    ConfigBridge,
    RegisteredStep,
    Step,
    StepRegistry,
    SweepPreset,
    did_you_mean,
)

# What the registration hooks fill (cached properties of `Plugins`).
REGISTRIES = ("cli_extensions", "steps", "models", "executors", "bridges", "sweeps", "schemas")

# Built-in behaviours (the modules framework.builtin.NAME), registered like third-party plugins.
BUILTIN_PLUGINS = [
    "events",
    "console",
    "executors",
    "sweep",
    "launch",
    "trackers",
    "schema",
    "history",
    "completion",
]


class PluginInfo:
    """What `framework plugins` shows about one plugin (not attrs: start-up time)."""

    __slots__ = ("detail", "distribution", "error", "module", "name", "status", "version")

    def __init__(
        self,
        name: str,
        module: str,
        distribution: str | None = None,
        version: str | None = None,
        status: str = "loaded",  # loaded | builtin | failed | disabled
    ) -> None:
        self.name = name
        self.module = module
        self.distribution = distribution
        self.version = version
        self.status = status
        self.error: str | None = None
        self.detail: str | None = None  # the failure's full traceback, for --debug


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, "").split(",") if part.strip()]


class _Manager(pluggy.PluginManager):
    def parse_hookimpl_opts(self, plugin: object, name: str) -> Any:
        """A module plugin's hooks read from its namespace: pluggy's lookup, made safe for
        class instances, cost list-steps a millisecond per ten plugins."""
        if not isinstance(plugin, types.ModuleType):
            return super().parse_hookimpl_opts(plugin, name)
        value = vars(plugin).get(name)
        opts = getattr(value, f"{self.project_name}_impl", None)
        return opts if inspect.isroutine(value) and isinstance(opts, dict) else None


class Plugins:
    """The pluggy manager with our guarded loading and typed registries."""

    def __init__(self, *, disabled: Iterable[str] = (), strict: bool | None = None) -> None:
        self.pm = _Manager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.disabled = set(disabled) | set(env_list("FRAMEWORK_DISABLE_PLUGINS"))
        self.strict = env_flag("FRAMEWORK_STRICT_PLUGINS") if strict is None else strict
        self.infos: dict[str, PluginInfo] = {}
        self._problems: dict[tuple[str, bool], str | None] = {}
        for name in BUILTIN_PLUGINS:
            builtin = PluginInfo(name, f"framework.builtin.{name}", status="builtin")
            self._load(builtin, partial(importlib.import_module, builtin.module))
        autoload = not env_flag("FRAMEWORK_DISABLE_PLUGIN_AUTOLOAD")
        explicit = set(env_list("FRAMEWORK_PLUGINS"))
        for ep in entry_points("framework.plugins"):
            if autoload or ep.name in explicit:  # explicit ones even without autoload
                self._load(PluginInfo(ep.name, ep.value, ep.distribution, ep.version), ep.load)

    def _load(self, info: PluginInfo, loader: Callable[[], object]) -> None:
        name = info.name
        other = self.infos.get(name)
        if other is not None and other.status != "disabled":
            taken = f"plugin name '{name}' is already taken by {other.distribution or other.module}"
            # kept under its own key, so `framework plugins` and the warning show it
            self.infos[f"{name} ({info.distribution or info.module})"] = info
            self._fail(info, PluginError(taken))
            return
        self.infos[name] = info
        if name in self.disabled:
            info.status = "disabled"
            return
        try:
            self.pm.register(loader(), name=name)
            self.pm.check_pending()
        except Exception as exc:  # a broken plugin must not break the CLI
            if self.pm.has_plugin(name):  # registered, but with a misspelled hook
                self.pm.unregister(name=name)
            self._fail(info, exc)

    def _fail(self, info: PluginInfo, exc: BaseException) -> None:
        info.status = "failed"
        info.error = short_error(exc)
        import traceback  # only when a plugin fails: keeps start-up lean

        info.detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        if self.strict:
            raise PluginError(f"plugin '{info.name}' failed: {info.error}") from exc

    def active(self) -> list[PluginInfo]:
        return [i for i in self.infos.values() if i.status in ("loaded", "builtin")]

    def hook_names(self) -> dict[str, list[str]]:
        """Plugin name -> the hooks it implements (for the run's start event)."""
        return {
            name: sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
            for name, plugin in self.pm.list_name_plugin()
        }

    def _collect(self, hook_name: str, add: Callable[..., None]) -> None:
        """Call one registration hook plugin by plugin, then ``add(plugin, *args)`` for each of
        its buffered ``register(*args)`` calls: a hook that raises is blamed, registers nothing."""
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
            try:
                impl.function(lambda *args, **kwargs: calls.append((args, kwargs)))  # noqa: B023
                for args, kwargs in calls:
                    add(impl.plugin_name, *args, **kwargs)
            except Exception as exc:
                info = self.infos[impl.plugin_name]
                if info.status == "failed":
                    continue
                error = PluginError(f"hook {hook_name} raised {short_error(exc)}")
                error.__cause__ = exc
                self.pm.unregister(name=impl.plugin_name)
                self._fail(info, error)

    def collect_registrations(self) -> None:
        """Call every registration hook now, so a hook that raises is known (and reported) up front."""
        for name in REGISTRIES:
            getattr(self, name)

    @cached_property
    def steps(self) -> StepRegistry:
        registry = StepRegistry()
        for step, plugin in self._listed("register_steps", Step):
            info = self.infos[plugin]
            registry.add(RegisteredStep(step, plugin, info.distribution, info.version))
        registry.unloaded = {
            i.name: "is disabled" if i.status == "disabled" else "failed to load"
            for i in self.infos.values()
            if i.status in ("disabled", "failed")
        }
        return registry

    def _named(self, hook_name: str, kind: str) -> dict[str, tuple[str, str]]:
        """Name -> (import path, plugin) of what `hook_name` registers; a name taken twice
        is an error of the second plugin."""
        found: dict[str, tuple[str, str]] = {}

        def add(plugin: str, name: str, path: str) -> None:
            if name in found:
                raise PluginError(
                    f"{kind} '{name}' is already registered by plugin '{found[name][1]}'"
                )
            found[name] = (path, plugin)

        self._collect(hook_name, add)
        return found

    @cached_property
    def models(self) -> dict[str, tuple[str, str]]:
        return self._named("register_models", "model")

    @cached_property
    def schemas(self) -> dict[str, tuple[str, str]]:
        """Schema file name -> (the import path of the function that renders it, plugin)."""
        return self._named("register_schemas", "schema")

    @cached_property
    def executors(self) -> dict[str, tuple[str, str]]:
        return self._named("register_executors", "executor")

    def _listed(self, hook_name: str, kind: type) -> list[tuple[Any, str]]:
        """(item, plugin) of what `hook_name` registers, each checked to be a `kind`."""
        found: list[tuple[Any, str]] = []

        def add(plugin: str, item: Any) -> None:
            if not isinstance(item, kind):
                raise TypeError(
                    f"register() expects a framework.{kind.__name__}, got {type(item).__name__}"
                )
            found.append((item, plugin))

        self._collect(hook_name, add)
        return found

    @cached_property
    def bridges(self) -> list[tuple[ConfigBridge, str]]:
        return self._listed("register_config_bridges", ConfigBridge)

    @cached_property
    def sweeps(self) -> list[tuple[SweepPreset, str]]:
        return self._listed("register_sweeps", SweepPreset)

    @cached_property
    def cli_extensions(self) -> list[tuple[Any, str]]:
        return self._listed("register_cli_options", object)

    def step_problem(self, step_id: str, *, callable_too: bool = True) -> str | None:
        """What is wrong with a registered step's config class or callable, or None (checked
        when a step is planned, run or described: listing steps imports no plugin code)."""
        key = (step_id, callable_too)
        if key not in self._problems:
            from framework.prepare import callable_problem, config_class_problem

            spec = self.steps.get(step_id).spec
            problem = config_class_problem(spec.config) if spec.config else None
            if problem is None and callable_too:
                problem = callable_problem(spec.run)
            self._problems[key] = problem
        return self._problems[key]

    def check_steps(self, step_ids: Iterable[str], *, callable_too: bool = True) -> None:
        """Raise a PluginError, blaming the plugin, for the first broken step of `step_ids`."""
        for step_id in step_ids:
            problem = self.step_problem(step_id, callable_too=callable_too)
            if problem:
                entry = self.steps.get(step_id)
                raise PluginError(
                    f"plugin '{entry.plugin}' is broken: step {step_id}: {problem}",
                    hint=f"a fault of {entry.origin()}: update it, or disable it with "
                    f"--no-plugin {entry.plugin}",
                )

    def check_all_steps(self) -> None:
        """Mark each loaded plugin with a broken step as failed (for `framework plugins`)."""
        for entry in self.steps:
            problem = self.step_problem(entry.id)
            info = self.infos[entry.plugin]
            if problem and info.status != "failed":
                info.status = "failed"
                info.error = f"step {entry.id}: {problem}"

    def model_factory(self, name: str) -> Callable[..., Any]:
        return self._lookup("model", self.models, name)

    def executor(self, name: str) -> Any:
        return self._lookup("executor", self.executors, name)()

    def _lookup(self, kind: str, found: dict[str, tuple[str, str]], name: str) -> Any:
        """The object registered as `name`, imported; an unknown name is a usage error."""
        if name not in found:
            raise UsageError(
                f"unknown {kind} '{name}'{did_you_mean(name, found)}",
                hint=f"{kind}s: " + (", ".join(sorted(found)) or "none registered"),
            )
        return import_object(found[name][0])

    def warn_failures(self) -> None:
        """One line per failed plugin on stderr; the command itself goes on."""
        for info in (i for i in self.infos.values() if i.status == "failed"):
            print(
                f"warning: plugin '{info.name}' was skipped: {info.error} (see 'framework plugins')",
                file=sys.stderr,
            )
