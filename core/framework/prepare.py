"""A run request resolved before anything runs: the plan, each step's config from defaults,
file, environment and command line, validated; what is wrong with a step's code, found first."""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from framework import dag
from framework.config import ConfigResolver, Section, load_config_file
from framework.errors import MissingInputsError, UsageError, short_error
from framework.execution import ExecutionSettings
from framework.plugins import Plugins, import_object
from framework.request import ARTIFACT_ROOT_ENV, RunRequest
from framework.steps import RegisteredStep, is_pattern

EXECUTION = "execution"
RESERVED_ENV = {
    "FRAMEWORK_DISABLE_PLUGINS",
    "FRAMEWORK_DISABLE_PLUGIN_AUTOLOAD",
    "FRAMEWORK_PLUGINS",
    "FRAMEWORK_STRICT_PLUGINS",
    "FRAMEWORK_LAUNCHED_COMMAND",
    "FRAMEWORK_CACHE_DIR",  # where entry-point scans are cached
    ARTIFACT_ROOT_ENV,
}


@attrs.define
class Prepared:
    """A request resolved against the registry: the plan and its validated config."""

    request: RunRequest
    target: str
    plan: list[str]
    steps: dict[str, RegisteredStep]
    resolver: ConfigResolver
    execution: ExecutionSettings
    configs: dict[str, Any]
    forced: set[str]  # steps to run even if up to date (--force, --from and downstream)


def config_sections(plugins: Plugins, step_ids: list[str]) -> list[Section]:
    plugins.check_steps(step_ids, callable_too=False)  # a broken config class blames its plugin
    configs = {s: plugins.steps.get(s).spec.config for s in step_ids}
    sections = [Section(s, load_config_class(path, s)) for s, path in configs.items() if path]
    return [*sections, Section(EXECUTION, ExecutionSettings)]


def load_config_class(path: str, step_id: str) -> type:
    try:
        return import_object(path)
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"step {step_id}: cannot import its config class {path}: {exc}") from exc


def config_class_problem(path: str) -> str | None:
    """What is wrong with a step's config class, said for its plugin's error; None: nothing."""
    try:
        cls = import_object(path)
    except Exception as exc:  # the plugin's import failed: any exception is its fault
        return f"cannot import its config class {path}: {short_error(exc)}"
    if not (isinstance(cls, type) and attrs.has(cls)):
        return f"its config class {path} is not an attrs class (decorate it with @attrs.define)"
    return None


def callable_problem(path: str) -> str | None:
    """What is wrong with a step's callable (it must take the context); None: nothing."""
    try:
        func = import_object(path)
    except Exception as exc:
        return f"cannot import its callable {path}: {short_error(exc)}"
    if not callable(func):
        return f"its callable {path} is a {type(func).__name__}, not a function"
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return None  # a builtin or an extension: nothing to check
    try:
        signature.bind(object())
    except TypeError:
        return f"its callable {path}{signature} must take one argument, the step context"
    return None


def short_names(plugins: Plugins, step_ids: list[str]) -> dict[str, str]:
    """Short name -> id for the plan's steps whose short name is unique within the plan:
    `--set train.epochs=3` means the plan's `train`, even when other plugins also have one."""
    counts: dict[str, list[str]] = {}
    for step_id in step_ids:
        counts.setdefault(plugins.steps.get(step_id).spec.name, []).append(step_id)
    return {name: ids[0] for name, ids in counts.items() if len(ids) == 1}


def resolve_plan(plugins: Plugins, target: str, *, only: bool) -> tuple[str, list[str]]:
    """The target's qualified id and the steps to run, in order (just it with --only)."""
    target_id = plugins.steps.resolve(target).id
    return target_id, [target_id] if only else dag.plan(plugins.steps, target_id)


def prepare(
    request: RunRequest,
    plugins: Plugins,
    environ: Mapping[str, str] | None = None,
    plan: tuple[str, list[str]] | None = None,
) -> Prepared:
    """Resolve the target, plan and config; raise before anything runs or is written.
    `plan` is `resolve_plan`'s answer when the caller has it already."""
    environ = os.environ if environ is None else environ
    registry = plugins.steps
    target, order = plan or resolve_plan(plugins, request.target, only=request.only)
    forced = set(order) if request.force else set()
    if request.from_step:
        start = registry.resolve(request.from_step).id
        if start not in order:
            raise UsageError(
                f"--from {request.from_step}: {start} is not part of the plan for {target}"
            )
        forced |= set(dag.downstream_of(registry, order, start))
    resolver = ConfigResolver(config_sections(plugins, order), short_names(plugins, order))
    if request.config_file:
        resolver.apply_file(
            load_config_file(request.config_file), request.config_file, registry.ids()
        )
    resolver.apply_env(environ, RESERVED_ENV)
    for name, flag in request.flags.items():
        resolver.apply_flag(name, flag.value, flag.source)
    for assignment in request.sets:
        resolver.apply_set(assignment)
    resolver.validate()
    configs = {key: resolver.build(key) for key in resolver.sections if key != EXECUTION}
    return Prepared(
        request=request,
        target=target,
        plan=order,
        steps={s: registry.get(s) for s in order},
        forced=forced,
        resolver=resolver,
        execution=resolver.build(EXECUTION),
        configs=configs,
    )


def check_only_inputs(prepared: Prepared, plugins: Plugins, run_dir: Path, run_id: str) -> None:
    """`--only STEP` runs STEP alone: its declared inputs must already be in the run."""
    entry = prepared.steps[prepared.target]
    missing = [
        rel for rel in entry.spec.inputs if not is_pattern(rel) and not (run_dir / rel).exists()
    ]
    if not missing:
        return
    producers = sorted({p.id for p in plugins.steps for rel in missing if rel in p.spec.outputs})
    cmd = f"framework run {producers[0]} --run-id {run_id}" if producers else "the upstream steps"
    raise MissingInputsError(
        f"--only {prepared.target}: missing inputs {', '.join(missing)} in {run_dir}"
        + (f" (produced by {', '.join(producers)})" if producers else ""),
        hint=f"run {cmd} first, or drop --only",
    )
