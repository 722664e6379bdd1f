"""The options of `framework run` (and of the commands that run steps, like `sweep`): the
fixed ones, and one per config field of the plan's steps."""

from __future__ import annotations

from typing import Any

import click


def run_options(artifact_root_default: str | None) -> list[click.Parameter]:
    return [
        click.Option(
            ["--config", "config_file"],
            metavar="FILE",
            help="YAML or JSON config (sections per step id or short name).",
        ),
        click.Option(
            ["--set", "sets"],
            multiple=True,
            metavar="STEP.FIELD=VALUE",
            help="Set a field of one step (repeatable).",
        ),
        click.Option(
            ["--run-id"],
            metavar="ID",
            help="Run directory name; reuse one to continue or skip what is done.",
        ),
        click.Option(
            ["--artifact-root"],
            metavar="DIR",
            default=artifact_root_default,
            help="Where run directories live [default: runs, or $FRAMEWORK_ARTIFACT_ROOT].",
        ),
        click.Option(
            ["--only"],
            is_flag=True,
            help="Run the target alone, using upstream outputs already in the run.",
        ),
        click.Option(
            ["--from", "from_step"],
            metavar="STEP",
            help="Re-run from STEP on; steps before it are skipped if up to date.",
        ),
        click.Option(
            ["--force"], is_flag=True, help="Re-run every step of the plan even if up to date."
        ),
        click.Option(
            ["--print-config"],
            is_flag=True,
            help="Show the resolved config and where each value came from, then exit.",
        ),
        click.Option(["--device"], hidden=True, help="Deprecated: use --accelerator."),
    ]


# No config field gets an option that `run` has itself: its names as options and parameters.
RUN_STATIC = {"help"} | {
    name.lstrip("-").replace("-", "_") for p in run_options(None) for name in (*p.opts, str(p.name))
}


def field_options(
    sections: list[Any], reserved: set[str] = RUN_STATIC
) -> tuple[list[click.Parameter], dict[str, str]]:
    """One option per distinct field name across the plan's config classes (none for a
    `reserved` name: an option of the command itself)."""
    params: list[click.Parameter] = []
    seen: dict[str, str] = {}
    for section in sections:
        for f in section.fields():
            if f.name in seen or f.name in reserved:
                continue
            dashed = f.name.replace("_", "-")
            owners = [s.key for s in sections if f.name in s.field_names()]
            default = "required" if f.required else f"default: {f.default}"
            help_text = f"{f.help} [{default}; {', '.join(owners)}]".strip()
            shape: dict[str, Any] = {}
            if f.type is bool:  # a --flag/--no-flag pair, with no aliases
                decls = [f"--{dashed}/--no-{dashed}"]
            else:
                decls = [f"--{dashed}", *(f"--{a.replace('_', '-')}" for a in f.aliases)]
                repeatable = f.type_name().startswith("list[")  # --tracker a --tracker b = a,b
                shape["metavar"] = f.type_name().upper().replace(" ", "_")
                shape["multiple"] = repeatable
                shape["callback"] = _comma_joined if repeatable else None
            params.append(click.Option([*decls, f.name], default=None, help=help_text, **shape))
            seen[f.name] = f"--{dashed}"
    return params, seen


def _comma_joined(ctx: click.Context, param: click.Parameter, value: Any) -> str | None:
    """A repeated list option as the one comma list it means (None when not given)."""
    return ",".join(value) if value else None


def parse_plan_args(command: click.Command, args: list[str], ctx: click.Context) -> click.Context:
    """`command`'s context from `args`, under `ctx`'s root; ``--batch_size`` is read as
    ``--batch-size``."""
    known = {o for p in command.params for o in p.opts + p.secondary_opts}
    argv = []
    for arg in args:
        name, eq, value = arg.partition("=")
        dashed = name.replace("_", "-")
        argv.append(dashed + eq + value if arg.startswith("--") and dashed in known else arg)
    return command.make_context(str(command.name), argv, parent=ctx.find_root())
