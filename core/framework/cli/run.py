"""`framework run STEP`: its options from the plan's config fields, `--print-config`, and
the hand-off to a registered `RunLauncher` (which takes the run over, or lets it go on)."""

from __future__ import annotations

import sys
from typing import Any

import click

from framework.cli import PlanCommand, _plugins, cli, complete
from framework.cli.options import RUN_STATIC, field_options, parse_plan_args, run_options


def _plugin_options(plugins: Any) -> list[click.Parameter]:
    """The options plugins add to `framework run` (the launcher's, say)."""
    return [item for item, _ in plugins.cli_extensions if isinstance(item, click.Option)]


@cli.command(
    cls=PlanCommand,
    fixed_options=lambda ctx: run_options(None) + _plugin_options(_plugins(ctx)),
    plan_target=lambda ctx, args: ctx.params.get("target"),
    context_settings={
        "ignore_unknown_options": True,
        "allow_extra_args": True,
        "help_option_names": [],
    },
)
@click.argument("target", required=False, shell_complete=complete)
@click.argument("args", nargs=-1, type=click.UNPROCESSED, shell_complete=complete)
@click.pass_context
def run(ctx: click.Context, target: str | None, args: tuple[str, ...]) -> None:
    """Run STEP and everything upstream of it that is not up to date.

    Options are generated from the config fields of every step in the plan:
    see `framework run STEP --help`.
    """
    if target in ("-h", "--help"):
        click.echo(_plan_wide_command(_plugins(ctx)).get_help(ctx))
        return
    if target is None:
        raise click.UsageError("missing the STEP to run", ctx=ctx)
    from framework.entrypoints import import_object
    from framework.prepare import config_sections, prepare, resolve_plan
    from framework.request import Flag, RunRequest, artifact_root, command_as_typed
    from framework.steps import RunLauncher

    plugins = _plugins(ctx)
    target_id, order = resolve_plan(plugins, target, only="--only" in args)
    sections = config_sections(plugins, order)
    plugin_params = _plugin_options(plugins)
    reserved = RUN_STATIC | {str(p.name) for p in plugin_params}
    field_params, flag_names = field_options(sections, reserved)
    params = run_options(str(artifact_root())) + field_params + plugin_params
    command = click.Command(  # -h/--help comes from the root's settings: help, then exit 0
        f"run {target_id}", params=params, help=f"Run {target_id}: plan {' -> '.join(order)}."
    )
    values = parse_plan_args(command, list(args), ctx).params
    if values.get("device"):
        click.echo("warning: --device is deprecated; use --accelerator", err=True)
        if values.get("accelerator") is None:
            values["accelerator"] = values["device"]
    flags = {
        name: Flag(values[name], flag)
        for name, flag in flag_names.items()
        if values.get(name) is not None
    }
    request = RunRequest(
        target=target_id,
        artifact_root=values["artifact_root"],
        run_id=values["run_id"],
        only=values["only"],
        from_step=values["from_step"],
        force=values["force"],
        config_file=values["config_file"],
        flags=flags,
        sets=list(values["sets"]),
        command=command_as_typed(["framework", "run", target, *args]),
    )
    launchers = [item for item, _ in plugins.cli_extensions if isinstance(item, RunLauncher)]
    launcher_options = {name for launcher in launchers for name in launcher.options}
    plugin_values = {
        p.name: values.get(p.name) for p in plugin_params if p.name not in launcher_options
    }
    prepared = prepare(request, plugins, plan=(target_id, order))
    if values["print_config"]:  # each value, and where it came from
        import json

        for key, section in prepared.resolver.sections.items():
            click.echo(f"{key}:")
            for name, value in section.values.items():
                click.echo(f"  {name}: {json.dumps(value)}    # {section.sources[name]}")
        return
    for launcher in launchers:  # one may take the run over (several processes)
        code = import_object(launcher.function)(ctx, target, list(args), values, prepared)
        if code is not None:
            sys.exit(code)
    from framework.runner import PlanRunner

    PlanRunner(prepared, plugins, options=plugin_values).execute()


def _plan_wide_command(plugins: Any) -> click.Command:
    """`framework run --help`: the options every plan has, and how to see a step's own."""
    from framework.config import Section
    from framework.execution import ExecutionSettings
    from framework.prepare import EXECUTION
    from framework.request import artifact_root

    execution, _ = field_options([Section(EXECUTION, ExecutionSettings)])
    added = _plugin_options(plugins)
    return click.Command(
        "run",
        params=[
            click.Argument(["step"], metavar="STEP"),
            *run_options(str(artifact_root())),
            *execution,
            *added,  # the launcher's options (--nproc-per-node ...) and other plugins'
        ],
        help="Run STEP and everything upstream of it that is not up to date.",
        epilog="\b\nEach step adds options for its own config fields; see them with:\n"
        "  framework run STEP --help\n  framework describe STEP",
        options_metavar="[OPTIONS]",
    )
