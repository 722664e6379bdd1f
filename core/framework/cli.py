"""The `framework` command line: click commands only; the logic lives in the modules."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from framework.errors import FrameworkError, UsageError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


# -- plugin manager per invocation -----------------------------------------------------


def _plugins(ctx: click.Context) -> Any:
    """The plugin manager, built once per invocation from the group's options."""
    root = ctx.find_root()
    root.ensure_object(dict)
    if "plugins" not in root.obj:
        from framework.plugins import Plugins

        params = root.params
        disabled = params.get("no_plugin")
        if disabled is None:  # asked while parsing (--help is eager): read the raw arguments
            disabled = _no_plugin_in(root.meta.get(ARGV_KEY, []))
        plugins = Plugins(disabled=disabled, strict=params.get("strict_plugins") or None)
        plugins.collect_registrations()
        root.obj["plugins"] = plugins
        if root.invoked_subcommand != "plugins":
            plugins.warn_failures()
    return root.obj["plugins"]


ARGV_KEY = "framework.argv"


def _no_plugin_in(args: list[str]) -> list[str]:
    """The ``--no-plugin`` values among the group's own options (before the command)."""
    names: list[str] = []
    rest = iter(args)
    for arg in rest:
        if not arg.startswith("-"):
            break
        if arg.startswith("--no-plugin="):
            names.append(arg.partition("=")[2])
        elif arg == "--no-plugin":
            names.append(next(rest, ""))
    return names


class FrameworkGroup(click.Group):
    """Adds the commands plugins register, and turns our errors into one line."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[ARGV_KEY] = list(args)
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._plugin_commands(ctx)))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        cmd = super().get_command(ctx, name)
        return cmd if cmd is not None else self._plugin_commands(ctx).get(name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            unloaded = self._unloaded(ctx)
            if not unloaded:
                raise
            raise click.UsageError(
                f"{exc.message.rstrip('.')}; it may come from a plugin that is not loaded "
                f"({unloaded}), see 'framework plugins'",
                ctx,
            ) from None

    def _unloaded(self, ctx: click.Context) -> str:
        """``sweep: disabled, foo: failed``: the plugins whose commands are missing."""
        try:
            infos = _plugins(ctx).infos.values()
        except FrameworkError:
            return ""
        return ", ".join(
            f"{i.name}: {i.status}" for i in infos if i.status in ("disabled", "failed")
        )

    def _plugin_commands(self, ctx: click.Context) -> dict[str, click.Command]:
        if ctx.resilient_parsing and not ctx.params:
            return {}
        try:
            extensions = _plugins(ctx).cli_extensions
        except FrameworkError:
            return {}
        return {
            item.name: item
            for item, _ in extensions
            if isinstance(item, click.Command) and item.name
        }


@click.group(cls=FrameworkGroup, context_settings=CONTEXT)
@click.option(
    "--no-plugin", multiple=True, metavar="NAME", help="Do not load plugin NAME (repeatable)."
)
@click.option(
    "--strict-plugins", is_flag=True, default=None, help="A plugin that fails to load is an error."
)
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(
    package_name="framework", prog_name="framework", message="%(prog)s %(version)s"
)
@click.pass_context
def cli(
    ctx: click.Context, no_plugin: tuple[str, ...], strict_plugins: bool | None, debug: bool
) -> None:
    """Run ML pipelines: a DAG of typed steps from plugins, with manifests and caching."""
    ctx.ensure_object(dict)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: exit codes 0 ok, 1 a step failed, 2 usage or config error."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args[: args.index("--") if "--" in args else len(args)]
    try:
        cli.main(args=args, prog_name="framework", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except click.exceptions.NoArgsIsHelpError as exc:  # bare `framework`: the help, as written
        exc.show()
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        message = " ".join(exc.format_message().split())
        where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        click.echo(f"error: {message}{where}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"error: {' '.join(exc.format_message().split())}", err=True)
        sys.exit(exc.exit_code)
    except FrameworkError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug: say so in one line, details with --debug
        if debug:
            import traceback

            traceback.print_exc()
        click.echo(
            f"error: internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)",
            err=True,
        )
        sys.exit(3)


# -- list-steps / describe / graph / plugins -------------------------------------------


@cli.command("list-steps")
@click.option("--plugin", "plugin", metavar="P", help="Only steps of plugin P.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def list_steps(ctx: click.Context, plugin: str | None, as_json: bool) -> None:
    """List the steps of every loaded plugin."""
    plugins = _plugins(ctx)
    registry = plugins.steps
    registry.check_conflicts()
    known = set(plugins.infos) | {e.spec.plugin for e in registry}
    if plugin is not None and plugin not in known:
        from framework.steps import did_you_mean

        raise UsageError(
            f"unknown plugin '{plugin}'{did_you_mean(plugin, known)}",
            hint="see 'framework plugins'",
        )
    entries = [
        e for e in registry if plugin is None or e.plugin == plugin or e.spec.plugin == plugin
    ]
    if as_json:
        import json  # here, not at the top: plain list-steps stays lean

        rows = [
            {
                "id": e.id,
                "plugin": e.plugin,
                "distribution": e.distribution,
                "version": e.plugin_version,
                "description": e.spec.description,
                "requires": list(e.spec.requires),
            }
            for e in entries
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    if not entries:
        click.echo(
            "no steps"
            + (f" for plugin '{plugin}'" if plugin else "")
            + " (see 'framework plugins')"
        )
        return
    width = max(len(e.id) for e in entries)
    for e in entries:
        click.echo(f"{e.id:<{width}}  {e.spec.description}")


@cli.command()
@click.argument("step")
@click.pass_context
def describe(ctx: click.Context, step: str) -> None:
    """Show a step's config fields, inputs, outputs and dependencies."""
    from framework.config import NOTHING, config_fields
    from framework.runner import load_config_class

    entry = _plugins(ctx).steps.resolve(step)
    spec = entry.spec
    click.echo(f"{spec.id}  ({entry.origin()}, code version {spec.version})")
    if spec.description:
        click.echo(f"  {spec.description}")
    click.echo(f"  callable  {spec.run}")
    click.echo(f"  requires  {', '.join(spec.requires) or '-'}")
    click.echo(f"  inputs    {', '.join(spec.inputs) or '-'}")
    click.echo(f"  outputs   {', '.join(spec.outputs) or '-'}")
    click.echo(f"  splits    {', '.join(spec.splits) or '-'}")
    if not spec.config:
        click.echo("  config    none")
        return
    click.echo(f"  config    {spec.config}")
    fields = config_fields(load_config_class(spec.config, spec.id))
    rows = [
        (
            ", ".join(f"--{n.replace('_', '-')}" for n in (f.name, *f.aliases)),
            f.type_name(),
            "required" if f.default is NOTHING else repr(f.default),
            f.help,
        )
        for f in fields
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(3)] if rows else [0, 0, 0]
    for r in rows:
        click.echo(f"    {r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}")


@cli.command()
@click.argument("step")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "mermaid"]), default="text", show_default=True
)
@click.pass_context
def graph(ctx: click.Context, step: str, fmt: str) -> None:
    """Print the plan that `framework run STEP` would execute."""
    from framework import dag

    registry = _plugins(ctx).steps
    target = registry.resolve(step).id
    order = dag.plan(registry, target)
    click.echo(
        dag.render_mermaid(registry, order)
        if fmt == "mermaid"
        else dag.render_text(registry, order)
    )


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def plugins_cmd(ctx: click.Context, as_json: bool) -> None:
    """List plugins: loaded, disabled, and failed with their error."""
    import json

    plugins = _plugins(ctx)
    hooks = plugins.hook_names()
    infos = list(plugins.infos.values())
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "name": i.name,
                        "distribution": i.distribution,
                        "version": i.version,
                        "status": i.status,
                        "error": i.error,
                        "hooks": hooks.get(i.name, []),
                    }
                    for i in infos
                ],
                indent=2,
            )
        )
        return
    debug = ctx.find_root().params.get("debug")
    for i in infos:
        origin = f"{i.distribution} {i.version}" if i.distribution else i.module
        line = f"{i.name:<16} {i.status:<9} {origin}"
        if i.status in ("loaded", "builtin"):
            line += f"  hooks: {', '.join(hooks.get(i.name, [])) or '-'}"
        if i.error:
            line += f"  error: {i.error}"
        click.echo(line)
        if debug and i.detail:
            click.echo(i.detail, err=True)


# -- run --------------------------------------------------------------------------------

RUN_STATIC = {
    "config",
    "set",
    "run_id",
    "artifact_root",
    "only",
    "from_step",
    "force",
    "print_config",
    "help",
    "device",
}


def _run_options(artifact_root_default: str | None) -> list[click.Parameter]:
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


def _field_options(
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
            aliases = [f"--{a.replace('_', '-')}" for a in f.aliases]
            owners = [s.key for s in sections if f.name in s.field_names()]
            default = "required" if f.required else f"default: {f.default}"
            help_text = f"{f.help} [{default}; {', '.join(owners)}]".strip()
            if f.type is bool:
                params.append(
                    click.Option(
                        [f"--{dashed}/--no-{dashed}", f.name], default=None, help=help_text
                    )
                )
            else:
                params.append(
                    click.Option(
                        [f"--{dashed}", *aliases, f.name],
                        default=None,
                        metavar=f.type_name().upper().replace(" ", "_"),
                        help=help_text,
                    )
                )
            seen[f.name] = f"--{dashed}"
    return params, seen


def _normalise_underscores(args: list[str], known: set[str]) -> list[str]:
    """Accept ``--batch_size`` for ``--batch-size``."""
    out = []
    for arg in args:
        if arg.startswith("--") and "_" in arg:
            name, eq, value = arg.partition("=")
            dashed = name.replace("_", "-")
            if dashed in known:
                arg = dashed + eq + value
        out.append(arg)
    return out


@cli.command(
    context_settings={
        "ignore_unknown_options": True,
        "allow_extra_args": True,
        "help_option_names": [],
    }
)
@click.argument("target", required=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def run(ctx: click.Context, target: str | None, args: tuple[str, ...]) -> None:
    """Run STEP and everything upstream of it that is not up to date.

    Options are generated from the config fields of every step in the plan:
    see `framework run STEP --help`.
    """
    if target in (None, "-h", "--help"):
        click.echo(ctx.get_help())
        click.echo("\nShow the options of one step's plan with: framework run STEP --help")
        return
    from framework.registrations import RunLauncher
    from framework.runner import RunRequest, artifact_root, config_sections, prepare, resolve_plan

    plugins = _plugins(ctx)
    target_id, order = resolve_plan(plugins, target, only="--only" in args)
    sections = config_sections(plugins, order)
    plugin_params = [item for item, _ in plugins.cli_extensions if isinstance(item, click.Option)]
    reserved = RUN_STATIC | {str(p.name) for p in plugin_params}
    field_params, flag_names = _field_options(sections, reserved)
    params = _run_options(str(artifact_root())) + field_params + plugin_params
    params.append(click.Option(["-h", "--help"], is_flag=True, help="Show this message and exit."))
    command = click.Command(
        f"run {target_id}", params=params, help=f"Run {target_id}: plan {' -> '.join(order)}."
    )
    known = {o for p in params for o in getattr(p, "opts", []) + getattr(p, "secondary_opts", [])}
    argv = _normalise_underscores(list(args), known)
    with command.make_context(f"run {target_id}", argv, parent=ctx.find_root()) as sub:
        values = sub.params
        if values.pop("help"):
            click.echo(sub.get_help())
            return
    if values.get("device"):
        click.echo("warning: --device is deprecated; use --accelerator", err=True)
        if values.get("accelerator") is None:
            values["accelerator"] = values["device"]
    flags = {
        name: (values[name], flag)
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
        command=_command_as_typed(["framework", "run", target, *args]),
    )
    launcher_options = {
        name
        for item, _ in plugins.cli_extensions
        if isinstance(item, RunLauncher)
        for name in item.options
    }
    plugin_values = {
        p.name: values.get(p.name) for p in plugin_params if p.name not in launcher_options
    }
    prepared = prepare(request, plugins, plan=(target_id, order))
    if values["print_config"]:
        _print_config(prepared)
        return
    _hand_off(ctx, plugins, target, list(args), values, prepared)
    from framework.runner import PlanRunner

    PlanRunner(prepared, plugins, options=plugin_values).execute()


def _hand_off(
    ctx: click.Context,
    plugins: Any,
    target: str,
    args: list[str],
    values: dict[str, Any],
    prepared: Any,
) -> None:
    """Let a registered `RunLauncher` take the run over (several processes); exits if one did."""
    from framework.entrypoints import import_object
    from framework.registrations import RunLauncher

    for item, _ in plugins.cli_extensions:
        if isinstance(item, RunLauncher):
            code = import_object(item.function)(ctx, target, args, values, prepared)
            if code is not None:
                sys.exit(code)


def _command_as_typed(command: list[str]) -> list[str]:
    """The user's command; under our own launcher, the one typed before re-launching."""
    import json
    import os

    from framework.distributed import COMMAND_ENV, launched

    typed = os.environ.get(COMMAND_ENV)
    return json.loads(typed) if typed and launched() else command


def _print_config(prepared: Any) -> None:
    import json

    provenance = prepared.resolver.provenance()
    for key, values in prepared.resolver.resolved().items():
        click.echo(f"{key}:")
        for name, value in values.items():
            click.echo(f"  {name}: {json.dumps(value)}    # {provenance[key].get(name, 'default')}")


# -- runs / show / verify / schema ----------------------------------------------------------

_root_option = click.option(
    "--artifact-root",
    default=None,
    metavar="DIR",
    help="Where run directories live [default: runs].",
)


@cli.command()
@_root_option
def runs(artifact_root: str | None) -> None:
    """List runs: id, date, target, status."""
    from framework.runner import artifact_root as root_of
    from framework.runs import list_runs

    found = list_runs(root_of(artifact_root))
    if not found:
        click.echo(f"no runs under {root_of(artifact_root)}")
        return
    width = max(len(r.run_id) for r in found)
    for r in found:
        click.echo(f"{r.run_id:<{width}}  {r.created_at:<24}  {r.status:<11}  {r.target}")


@cli.command()
@click.argument("run")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest itself.")
@_root_option
def show(run: str, as_json: bool, artifact_root: str | None) -> None:
    """Summarise a run's manifest (RUN is an id, a path, or 'latest')."""
    import json

    from framework.manifest import read_manifest
    from framework.runner import artifact_root as root_of
    from framework.runs import find_run, summary_lines

    manifest = read_manifest(find_run(root_of(artifact_root), run))
    if as_json:
        click.echo(json.dumps(manifest, indent=2))
        return
    for line in summary_lines(manifest):
        click.echo(line)


@cli.command()
@click.argument("run")
@_root_option
def verify(run: str, artifact_root: str | None) -> None:
    """Re-hash every artifact of a run; exit 1 if any changed or vanished."""
    from framework.errors import VerifyError
    from framework.runner import artifact_root as root_of
    from framework.runs import find_run
    from framework.runs import verify as verify_run

    run_dir = find_run(root_of(artifact_root), run)
    checked, drift = verify_run(run_dir)
    for d in drift:
        click.echo(f"{d.problem:<8} {d.path}  (step {d.step})")
    if drift:
        raise VerifyError(
            f"{len(drift)} of {checked} artifacts in {run_dir} changed or vanished since the run"
        )
    click.echo(f"ok: {checked} artifacts in {run_dir} match the manifest")


@cli.command()
@click.option(
    "--out", default="schemas", show_default=True, metavar="DIR", help="Where to write the schemas."
)
@click.option(
    "--check", is_flag=True, help="Write nothing; exit 1 if a file differs from its class."
)
@click.pass_context
def schema(ctx: click.Context, out: str, check: bool) -> None:
    """Write the JSON Schemas: the run manifest and every step's config."""
    from framework.schemas import sync

    result = sync(_plugins(ctx), Path(out), write=not check)
    drift = result.changed + [f"{rel} (no such step)" for rel in result.orphaned]
    if check and drift:
        from framework.errors import SchemaDriftError

        raise SchemaDriftError(
            f"schemas out of date in {out}: {', '.join(drift)}", hint="run 'framework schema'"
        )
    status = f"{len(drift)} updated" if drift and not check else "up to date"
    click.echo(f"{result.total} schemas in {out}, {status}")
