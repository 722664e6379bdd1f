"""The answers to a shell: step ids, a plan's generated options and their values, run and
sweep ids.

They come from the plugins' registrations, the config classes of the plan's steps and the
folder names under the artifact root; none imports torch, numpy or a step's code, so an
answer costs about what ``framework list-steps`` costs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from framework.cli import _plugins

if TYPE_CHECKING:  # click imports its completion module only when a shell asks
    from click.shell_completion import CompletionItem

    from framework.cli import PlanCommand

LATEST = "latest"


def _items(pairs: Iterable[tuple[str, str | None]], incomplete: str) -> list[CompletionItem]:
    from click.shell_completion import CompletionItem

    return [CompletionItem(v, help=h) for v, h in pairs if v.startswith(incomplete)]


def _path(incomplete: str, kind: str = "file") -> list[CompletionItem]:
    """Let the shell complete a file (or folder) name itself."""
    from click.shell_completion import CompletionItem

    return [CompletionItem(incomplete, type=kind)]


def answer(
    ctx: click.Context, param: click.Parameter | None, incomplete: str
) -> list[CompletionItem] | None:
    """What completes `param` of ``ctx.command`` (None: an option name), by the param's name."""
    from framework.cli import PlanCommand

    command = ctx.command
    if param is None:
        return plan_options(ctx, command, incomplete) if isinstance(command, PlanCommand) else None
    if param.name in ("target", "step"):
        return complete_step(ctx, param, incomplete)
    if param.name == "args" and isinstance(command, PlanCommand):
        return complete_plan(ctx, command, param, incomplete)
    if param.name == "run":
        return run_ids(_artifact_root(ctx), incomplete)
    if param.name == "sweep_id":
        return sweep_ids(_artifact_root(ctx), incomplete)
    return None


# -- steps --------------------------------------------------------------------------------


def step_names(plugins: Any, among: Iterable[str] | None = None) -> list[tuple[str, str | None]]:
    """Every step id, then the short names no other step shares (as `run` resolves them)."""
    entries = [e for e in plugins.steps if among is None or e.id in among]
    counts: dict[str, int] = {}
    for entry in plugins.steps:
        counts[entry.spec.name] = counts.get(entry.spec.name, 0) + 1
    names = [(e.id, e.spec.description or None) for e in entries]
    names += [
        (e.spec.name, e.spec.description or None) for e in entries if counts[e.spec.name] == 1
    ]
    return names


def complete_step(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    return _items(step_names(_plugins(ctx)), incomplete)


# -- runs and sweeps under the artifact root ---------------------------------------------


def _artifact_root(ctx: click.Context, args: list[str] | None = None) -> Path:
    explicit = ctx.params.get("artifact_root")
    for i, arg in enumerate(args or []):
        if arg == "--artifact-root" and i + 1 < len(args or []):
            explicit = (args or [])[i + 1]
        elif arg.startswith("--artifact-root="):
            explicit = arg.partition("=")[2]
    return Path(explicit or os.environ.get("FRAMEWORK_ARTIFACT_ROOT") or "runs")


def _folders_with(root: Path, marker: str) -> list[tuple[str, float]]:
    try:
        entries = list(os.scandir(root))
    except OSError:
        return []
    found = []
    for entry in entries:
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        try:
            found.append((entry.name, os.stat(os.path.join(entry.path, marker)).st_mtime))
        except OSError:
            continue
    return found


def _newest_first(
    found: list[tuple[str, float]], incomplete: str, what: str
) -> list[CompletionItem]:
    pairs: list[tuple[str, str | None]] = [(LATEST, f"the newest {what}")] if found else []
    pairs += [(name, None) for name, _ in sorted(found, key=lambda f: -f[1])]
    return _items(pairs, incomplete)


def run_ids(root: Path, incomplete: str) -> list[CompletionItem]:
    """Run ids under `root` (folders holding a manifest), newest first, after 'latest'."""
    return _newest_first(_folders_with(root, "manifest.json"), incomplete, "run")


def sweep_ids(root: Path, incomplete: str) -> list[CompletionItem]:
    return _newest_first(_folders_with(root / "sweeps", "sweep_manifest.json"), incomplete, "sweep")


# -- the plan's options after `run STEP` and `sweep STEP` ----------------------------------


class Plan:
    """The options a `PlanCommand` (`framework run STEP`, `sweep STEP`) accepts, with what
    completes each value."""

    def __init__(self, ctx: click.Context, target: str | None, *, fields: bool = True) -> None:
        """`fields=False` leaves out the config fields: no config class is imported."""
        from framework.cli import PlanCommand, options

        assert isinstance(ctx.command, PlanCommand)
        self.ctx = ctx
        self.plugins = _plugins(ctx)
        self.order: list[str] = self._order(target) if target is not None else []
        self.fields: dict[str, Any] = {}
        self.step_fields: list[tuple[str, str]] = []  # (step id, field) for --set
        fixed = ctx.command.fixed_options(ctx)
        field_params: list[click.Parameter] = []
        if self.order and fields:
            sections = self._sections()
            reserved = options.RUN_STATIC | {str(p.name) for p in fixed}
            field_params, _ = options.field_options(sections, reserved)
            for section in sections:
                for f in section.fields():
                    self.fields.setdefault(f.name, f)
                    if section.key != "execution":
                        self.step_fields.append((section.key, f.name))
            taken = {o for p in fixed for o in getattr(p, "opts", [])}
            field_params = [p for p in field_params if not set(getattr(p, "opts", [])) & taken]
        # the options plugins add to the command (the launcher's) come last, as in its help
        added = [i for i, _ in self.plugins.cli_extensions if isinstance(i, click.Option)]
        own = [p for p in fixed if not any(p is a for a in added)]
        extra = [p for p in fixed if any(p is a for a in added)]
        self.params = [p for p in own + field_params + extra if isinstance(p, click.Option)]

    def _order(self, target: str) -> list[str]:
        """The plan's step ids, as `run` resolves them; none for a name that resolves to none."""
        from framework import dag
        from framework.errors import FrameworkError

        try:
            return dag.plan(self.plugins.steps, self.plugins.steps.resolve(target).id)
        except FrameworkError:
            return []

    def _sections(self) -> list[Any]:
        from framework.config import Section
        from framework.execution import ExecutionSettings
        from framework.plugins import import_object

        sections = []
        for step_id in self.order:
            spec = self.plugins.steps.get(step_id).spec
            if spec.config:
                try:
                    sections.append(Section(step_id, import_object(spec.config)))
                except (ImportError, AttributeError):
                    continue
        return [*sections, Section("execution", ExecutionSettings)]

    def option(self, name: str) -> click.Option | None:
        for param in self.params:
            if name in param.opts or name in param.secondary_opts:
                return param
        return None

    def option_names(self, incomplete: str, given: list[str]) -> list[CompletionItem]:
        pairs = []
        for param in self.params:
            if param.hidden:
                continue
            if not param.multiple and any(o in given for o in param.opts + param.secondary_opts):
                continue
            pairs += [
                (o, param.help) for o in param.opts + param.secondary_opts if o.startswith("--")
            ]
        return _items(pairs, incomplete)

    def values(self, param: click.Option, incomplete: str, args: list[str]) -> list[CompletionItem]:
        """What may follow `param`: its choices, step, run or sweep ids, a path, or nothing."""
        name = param.name or ""
        if name in ("run_id", "resume"):
            found = run_ids(_artifact_root(self.ctx, args), incomplete)
            return found + (_path(incomplete) if name == "resume" else [])
        if name == "sweep_id":
            return sweep_ids(_artifact_root(self.ctx, args), incomplete)
        if name == "params":  # a sweep's axis: FIELD=V1,V2
            return _items(((f"{n}=", f.help or None) for n, f in self.fields.items()), incomplete)
        if name == "sets":  # STEP.FIELD=VALUE, one step's field
            return _items(((f"{s}.{f}=", None) for s, f in self.step_fields), incomplete)
        if name == "from_step":
            return _items(step_names(self.plugins, self.order), incomplete)
        if name == "preset":
            return _items(
                ((p.name, p.description or p.step) for p, _ in self.plugins.sweeps), incomplete
            )
        if name == "executor":
            return _items(
                ((n, f"from {p}") for n, (_, p) in self.plugins.executors.items()), incomplete
            )
        if name in ("config_file", "config"):
            return _path(incomplete)
        if name == "artifact_root":
            return _path(incomplete, "dir")
        if isinstance(param.type, click.Choice):
            return _items(((str(c), None) for c in param.type.choices), incomplete)
        field = self.fields.get(name)
        if field is not None:
            label = field.type_name()
            if field.choices or ("|" in label and not label.startswith("list")):
                return _items(((c, None) for c in label.split("|")), incomplete)
            if field.dependency:
                return _path(incomplete)
        return []


def complete_plan(
    ctx: click.Context, command: PlanCommand, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Values in the free-form arguments of `run STEP ...` and `sweep [STEP] ...`."""
    args = [str(a) for a in ctx.params.get(param.name or "args") or ()]
    if not args and "target" not in ctx.params:  # the STEP is the first free-form argument
        return complete_step(ctx, param, incomplete)
    target = command.plan_target(ctx, args)
    if args and args[-1].startswith("-"):
        plan = Plan(ctx, target, fields=False)  # the fixed options answer fastest
        option = plan.option(args[-1])
        if option is None or option.name in ("params", "sets"):  # needs the plan's fields
            plan = Plan(ctx, target)
            option = plan.option(args[-1])
        if option is not None and not option.is_flag and not option.count:
            return plan.values(option, incomplete, args)
    return []


def plan_options(ctx: click.Context, command: PlanCommand, incomplete: str) -> list[CompletionItem]:
    """The option names of `run STEP` or `sweep STEP`: the fixed ones and the plan's fields."""
    args = [str(a) for a in ctx.params.get("args") or ()]
    plan = Plan(ctx, command.plan_target(ctx, args))
    given = [a.partition("=")[0] for a in args]
    found = plan.option_names(incomplete, given)
    help_ = _items([("--help", "Show this message and exit.")], incomplete)
    return found + [i for i in help_ if i.value not in {f.value for f in found}]
