"""What a step is called with, besides its config: the config bridges registered for it
applied and recorded, and the splits its upstream steps saw; and, before a run, what is
wrong with its callable or its config class."""

from __future__ import annotations

import json
from typing import Any

from framework import dag
from framework.config import canonical_json
from framework.errors import UsageError
from framework.freshness import DONE
from framework.plugins import Plugins, import_object, short_error


def apply_bridges(run: Any, step_id: str, config: Any) -> dict[str, dict[str, Any]]:
    """Each bridge registered for this step, applied exactly once, recorded in the manifest."""
    legacy: dict[str, dict[str, Any]] = {}
    for bridge, plugin in run.plugins.bridges:
        if step_id not in bridge.steps:
            continue
        values = import_object(bridge.function)(config)
        if not isinstance(values, dict):
            raise UsageError(
                f"config bridge {bridge.name} ({plugin}) returned {type(values).__name__}, not a dict"
            )
        plain = json.loads(canonical_json(values))
        legacy[bridge.name] = values
        run.manifest["bridges"].setdefault(step_id, {})[bridge.name] = {
            "plugin": plugin,
            "values": plain,
        }
        run.emit("bridge_applied", step_id, bridge=bridge.name, keys=sorted(plain))
    return legacy


def upstream_splits(
    plugins: Plugins, step_id: str, manifest: dict[str, Any]
) -> dict[str, tuple[str, str]]:
    """Split name -> (hash, step) as recorded by the completed steps `step_id` depends on."""
    seen: dict[str, tuple[str, str]] = {}
    for up in sorted(dag.upstream(plugins.steps, step_id) - {step_id}):
        record = manifest["steps"].get(up, {})
        if record.get("status") in DONE:
            for name, split in record.get("splits", {}).items():
                seen.setdefault(name, (split["hash"], up))
    return seen


def config_class_problem(path: str) -> str | None:
    try:
        cls = import_object(path)
    except Exception as exc:  # the plugin's import failed: any exception is its fault
        return f"cannot import its config class {path}: {short_error(exc)}"
    import attrs

    if not (isinstance(cls, type) and attrs.has(cls)):
        return f"its config class {path} is not an attrs class (decorate it with @attrs.define)"
    return None


def callable_problem(path: str) -> str | None:
    try:
        func = import_object(path)
    except Exception as exc:
        return f"cannot import its callable {path}: {short_error(exc)}"
    if not callable(func):
        return f"its callable {path} is a {type(func).__name__}, not a function"
    import inspect

    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return None  # a builtin or an extension: nothing to check
    try:
        signature.bind(object())
    except TypeError:
        return f"its callable {path}{signature} must take one argument, the step context"
    return None
