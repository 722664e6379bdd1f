"""The `framework` command line: click commands only; the logic lives in the modules."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from framework.completion import (
    SHELLS,
    PlanCommand,
    complete_plan,
    complete_run,
    complete_step,
    complete_sweep,
)
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
        plugins = Plugins(
            disabled=params.get("no_plugin") or (), strict=params.get("strict_plugins") or None
        )
        plugins.collect_registrations()
        root.obj["plugins"] = plugins
        if root.invoked_subcommand != "plugins" and not root.resilient_parsing:
            plugins.warn_failures()  # not while completing: the shell would print it mid-line
    return root.obj["plugins"]


class FrameworkGroup(click.Group):
    """Adds the commands plugins register, and turns our errors into one line."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = list(super().list_commands(ctx))
        return names + sorted(n for n in self._plugin_commands(ctx) if n not in names)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        cmd = super().get_command(ctx, name)
        return cmd if cmd is not None else self._plugin_commands(ctx).get(name)

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
@click.argument("step", shell_complete=complete_step)
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
@click.argument("step", shell_complete=complete_step)
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

# Options of `framework run` that go to torch's launcher, not to the run: name -> value?
LAUNCH_OPTIONS = {
    "nproc-per-node": "N",
    "nnodes": "M",
    "node-rank": "R",
    "master-addr": "HOST",
    "master-port": "PORT",
    "rdzv-endpoint": "HOST:PORT",
}
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
    *(name.replace("-", "_") for name in LAUNCH_OPTIONS),
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
        click.Option(
            ["--nproc-per-node"],
            type=click.IntRange(min=1),
            metavar="N",
            help="Run the plan in N processes on this node (one per GPU) through torch's launcher.",
        ),
        click.Option(
            ["--nnodes"],
            metavar="M",
            help="Nodes taking part (M, or MIN:MAX); start the same command on each.",
        ),
        click.Option(
            ["--node-rank"], type=click.IntRange(min=0), metavar="R", help="This node's rank."
        ),
        click.Option(["--master-addr"], metavar="HOST", help="Rank 0's node address."),
        click.Option(
            ["--master-port"], type=click.IntRange(1, 65535), metavar="PORT", help="Rank 0's port."
        ),
        click.Option(
            ["--rdzv-endpoint"],
            metavar="HOST:PORT",
            help="Rendezvous instead of node ranks (c10d), e.g. on Slurm.",
        ),
    ]


def _field_options(sections: list[Any]) -> tuple[list[click.Parameter], dict[str, str]]:
    """One option per distinct field name across the plan's config classes."""
    params: list[click.Parameter] = []
    seen: dict[str, str] = {}
    for section in sections:
        for f in section.fields():
            if f.name in seen or f.name in RUN_STATIC:
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
    cls=PlanCommand,
    context_settings={
        "ignore_unknown_options": True,
        "allow_extra_args": True,
        "help_option_names": [],
    },
)
@click.argument("target", required=False, shell_complete=complete_step)
@click.argument("args", nargs=-1, type=click.UNPROCESSED, shell_complete=complete_plan)
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
    from framework.runner import RunRequest, artifact_root, config_sections, prepare, resolve_plan

    plugins = _plugins(ctx)
    target_id, order = resolve_plan(plugins, target, only="--only" in args)
    sections = config_sections(plugins, order)
    field_params, flag_names = _field_options(sections)
    plugin_params = [item for item, _ in plugins.cli_extensions if isinstance(item, click.Option)]
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
    plugin_values = {p.name: values.get(p.name) for p in plugin_params}
    prepared = prepare(request, plugins, plan=(target_id, order))
    if values["print_config"]:
        _print_config(prepared)
        return
    if _wants_launcher(values):
        if prepared.execution.accelerator != "auto":  # a missing GPU: one line, not N ranks'
            from framework.execution import resolve_device

            resolve_device(prepared.execution)
        sys.exit(_launch(ctx, target, list(args), values))
    from framework.runner import PlanRunner

    PlanRunner(prepared, plugins, options=plugin_values).execute()


def _command_as_typed(command: list[str]) -> list[str]:
    """The user's command; under our own launcher, the one typed before re-launching."""
    import json
    import os

    from framework.distributed import COMMAND_ENV, launched

    typed = os.environ.get(COMMAND_ENV)
    return json.loads(typed) if typed and launched() else command


def _wants_launcher(values: dict[str, Any]) -> bool:
    """--nproc-per-node / --nnodes asked for several processes, and none launched us yet.

    Launch options that cannot take effect are refused with one line.
    """
    import re

    from framework.distributed import launched

    if launched():
        return False  # the ranks of a launched run: the launcher had these options
    nnodes = values.get("nnodes")
    if nnodes is not None and not re.fullmatch(r"[1-9]\d*(:[1-9]\d*)?", nnodes):
        raise UsageError(
            f"--nnodes {nnodes}: expected a number of nodes M, or MIN:MAX (e.g. 2 or 1:4)"
        )
    if nnodes and ":" in nnodes and int(nnodes.split(":")[0]) > int(nnodes.split(":")[1]):
        raise UsageError(f"--nnodes {nnodes}: MIN is larger than MAX")
    several = (values.get("nproc_per_node") or 1) > 1 or (nnodes or "1") != "1"
    given = [f"--{n}" for n in LAUNCH_OPTIONS if values.get(n.replace("-", "_")) is not None]
    if not several and set(given) - {"--nproc-per-node", "--nnodes"}:
        raise UsageError(
            f"{', '.join(given)}: these apply to a run of several processes",
            hint="add --nproc-per-node N (N > 1) or --nnodes M (M > 1), or drop them",
        )
    static = [o for o in ("--node-rank", "--master-addr", "--master-port") if o in given]
    if values.get("rdzv_endpoint") is not None and static:
        raise UsageError(
            f"--rdzv-endpoint and {', '.join(static)}: choose one way for the nodes to meet",
            hint="--rdzv-endpoint alone (every node runs the same command), "
            "or --node-rank with --master-addr/--master-port",
        )
    return several


def _without_launch_options(args: list[str]) -> list[str]:
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
            continue
        name, eq, _ = arg.partition("=")
        if name.startswith("--") and name[2:].replace("_", "-") in LAUNCH_OPTIONS:
            skip = not eq
            continue
        out.append(arg)
    return out


def _launch(ctx: click.Context, target: str, args: list[str], values: dict[str, Any]) -> int:
    """Re-run this very command in several processes through torch.distributed.run."""
    from framework.distributed import launch, launcher_command
    from framework.manifest import new_run_id

    nnodes = values.get("nnodes")
    if nnodes not in (None, "1") and not values.get("run_id"):
        raise UsageError(
            "--nnodes: a run on several nodes needs --run-id, the same on every node",
            hint="e.g. --run-id exp1, or $SLURM_JOB_ID on Slurm",
        )
    run_args = _without_launch_options(args)
    run_id = values.get("run_id")
    if not run_id:
        run_id = new_run_id()
        run_args += ["--run-id", run_id]  # every rank must write to the same run
    root = ctx.find_root().params
    head = [f"--no-plugin={n}" for n in root.get("no_plugin") or ()]
    head += ["--strict-plugins"] * bool(root.get("strict_plugins")) + ["--debug"] * bool(
        root.get("debug")
    )
    cmd = launcher_command(
        values.get("nproc_per_node") or 1,
        [*head, "run", target, *run_args],
        nnodes=nnodes,
        node_rank=values.get("node_rank"),
        master_addr=values.get("master_addr"),
        master_port=values.get("master_port"),
        rdzv_endpoint=values.get("rdzv_endpoint"),
        rdzv_id=run_id,
    )
    return launch(
        cmd,
        ["framework", "run", target, *args],
        values.get("nproc_per_node") or 1,
        debug=bool(root.get("debug")),
    )


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
@click.argument("run", shell_complete=complete_run)
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
@click.argument("run", shell_complete=complete_run)
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


# -- sweep ------------------------------------------------------------------------------

SWEEP_HELP = """Run STEP over a grid of parameters: every job is its own run with its own manifest.

\b
  framework sweep lm.train -p learning_rate=1e-3,3e-3 -p n_layer=2,4 --max-steps 200
  framework sweep --preset ptycho.dose_overlap --filter "nphotons >= 1e4" --executor process
  framework sweep lm.train -p seed=0,1,2 --executor slurm --partition gpu --gpus-per-job 1

The sweep manifest is <artifact-root>/sweeps/<id>/sweep_manifest.json. Running the same
command again resumes the sweep: finished jobs that are up to date are skipped, failed,
lost and missing ones run again. Other options (--max-steps ...) set the base config of
every job, as in `framework run STEP`.
"""


def _sweep_options(artifact_root_default: str | None) -> list[click.Parameter]:
    opt = click.Option
    return [
        opt(
            ["-p", "--param", "params"],
            multiple=True,
            metavar="FIELD=V1,V2",
            help="An axis of the grid (repeatable); STEP.FIELD=... for one step's field.",
        ),
        opt(
            ["--preset"],
            metavar="NAME",
            help="A named grid from a plugin (see 'framework sweep --presets').",
        ),
        opt(
            ["--filter", "filters"],
            multiple=True,
            metavar="EXPR",
            help='Keep only jobs where EXPR holds, e.g. "lr < 1e-2 and n_layer != 4" (repeatable).',
        ),
        opt(["--dry-run"], is_flag=True, help="List the jobs and what would run; submit nothing."),
        opt(
            ["--executor"],
            metavar="NAME",
            help="local (default), process, slurm, ray, or a plugin's.",
        ),
        opt(["--max-parallel"], metavar="N", help="At most N jobs at once."),
        opt(["--retries"], metavar="N", help="Resubmit a job whose worker died up to N times."),
        opt(["--fail-fast/--no-fail-fast"], default=None, help="Stop at the first failed job."),
        opt(
            ["--sweep-id"],
            metavar="ID",
            help="Name the sweep [default: from the step and the grid].",
        ),
        opt(
            ["--artifact-root"],
            metavar="DIR",
            default=artifact_root_default,
            help="Where run directories live; remote workers must see the same path.",
        ),
        opt(
            ["--config", "config_file"],
            metavar="FILE",
            help="Base config for every job; its 'sweep:' section sets these options.",
        ),
        opt(
            ["--set", "sets"],
            multiple=True,
            metavar="STEP.FIELD=VALUE",
            help="Base config (repeatable).",
        ),
        opt(["--force"], is_flag=True, help="Run every job again, even the ones up to date."),
        opt(["--quiet"], is_flag=True, help="No live table; one line per finished job."),
        opt(["--cpus-per-job"], metavar="N", help="CPU cores per job."),
        opt(
            ["--nproc-per-job"],
            metavar="N",
            help="Run each job as N processes through torch's launcher (one per GPU).",
        ),
        opt(["--gpus-per-job"], metavar="N", help="GPUs per job."),
        opt(["--mem-gb"], metavar="GB", help="Memory per job."),
        opt(["--time-min"], metavar="MIN", help="slurm: time limit per job."),
        opt(["--partition"], metavar="P", help="slurm: partition."),
        opt(["--account"], metavar="A", help="slurm: account."),
        opt(
            ["--slurm-arg", "slurm_arg"],
            multiple=True,
            metavar="KEY=VALUE",
            help="slurm: another sbatch option, e.g. constraint=a100 (repeatable).",
        ),
        opt(
            ["--slurm-cluster"],
            metavar="NAME",
            help="slurm: 'local' runs the job arrays as local processes (no Slurm needed).",
        ),
        opt(
            ["--ray-address"],
            metavar="ADDR",
            help="ray: cluster to join (e.g. auto); none starts a local one.",
        ),
        opt(["--presets"], is_flag=True, help="List the named presets and exit."),
        opt(["-h", "--help"], is_flag=True, help="Show this message and exit."),
    ]


SWEEP_FLAGS = {
    "executor": "--executor",
    "max_parallel": "--max-parallel",
    "retries": "--retries",
    "fail_fast": "--fail-fast",
    "cpus_per_job": "--cpus-per-job",
    "nproc_per_job": "--nproc-per-job",
    "gpus_per_job": "--gpus-per-job",
    "mem_gb": "--mem-gb",
    "time_min": "--time-min",
    "partition": "--partition",
    "account": "--account",
    "slurm_cluster": "--slurm-cluster",
    "ray_address": "--ray-address",
}


def _preset_in(args: list[str]) -> str | None:
    for i, arg in enumerate(args):
        if arg == "--preset" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--preset="):
            return arg.partition("=")[2]
    return None


@cli.command(
    cls=PlanCommand,
    help=SWEEP_HELP,
    context_settings={
        "ignore_unknown_options": True,
        "allow_extra_args": True,
        "help_option_names": [],
    },
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED, shell_complete=complete_plan)
@click.pass_context
def sweep(ctx: click.Context, args: tuple[str, ...]) -> None:
    import os

    argv = list(args)
    target = argv.pop(0) if argv and not argv[0].startswith("-") else None
    plugins = _plugins(ctx)
    presets = {p.name: (p, plugin) for p, plugin in plugins.sweeps}
    preset_name = _preset_in(argv)
    preset = None
    if preset_name is not None:
        if preset_name not in presets:
            from framework.steps import did_you_mean

            raise UsageError(
                f"unknown sweep preset '{preset_name}'{did_you_mean(preset_name, presets)}",
                hint="see 'framework sweep --presets'",
            )
        preset = presets[preset_name][0]
        target = target or preset.step
    # As runner.artifact_root() says, without importing the runner for --help.
    static = _sweep_options(os.environ.get("FRAMEWORK_ARTIFACT_ROOT") or "runs")
    field_params: list[click.Parameter] = []
    flag_names: dict[str, str] = {}
    if target is not None:
        from framework.runner import config_sections, resolve_plan

        _, order = resolve_plan(plugins, target, only=False)
        taken = {n for p in static for n in getattr(p, "opts", [])}
        field_params, flag_names = _field_options(config_sections(plugins, order))
        field_params = [p for p in field_params if not set(getattr(p, "opts", [])) & taken]
        flag_names = {n: f for n, f in flag_names.items() if f not in taken}
    command = click.Command(
        "sweep",
        params=static + field_params,
        help=SWEEP_HELP,
        context_settings=CONTEXT,
        options_metavar=f"{target or '[STEP]'} [OPTIONS]",
    )
    known = {
        o for p in command.params for o in getattr(p, "opts", []) + getattr(p, "secondary_opts", [])
    }
    with command.make_context(
        "sweep", _normalise_underscores(argv, known), parent=ctx.find_root()
    ) as sub:
        values = sub.params
    if values.pop("help") or (target is None and not values["presets"]):
        click.echo(sub.get_help())
        if target is None:
            click.echo("\nPresets: " + (", ".join(sorted(presets)) or "none installed"))
        return
    if values.pop("presets"):
        for name, (p, plugin) in sorted(presets.items()):
            axes = ", ".join(f"{k}={'|'.join(map(str, v))}" for k, v in p.matrix.items())
            click.echo(f"{name:<24} {p.step:<24} {axes}  ({plugin})")
            if p.description:
                click.echo(f"{'':<24} {p.description}")
        return
    assert target is not None
    _run_sweep(plugins, target, preset, values, flag_names, ["framework", "sweep", *args])


def _run_sweep(
    plugins: Any,
    target: str,
    preset: Any,
    values: dict[str, Any],
    flag_names: dict[str, str],
    command: list[str],
) -> None:
    from framework.executors import JobUpdate  # noqa: F401 - the view follows these
    from framework.sweep_view import SweepView
    from framework.sweeps import (
        Axis,
        SweepSpec,
        failure_message,
        load_options,
        merge_axes,
        parse_param,
        plan_sweep,
        preset_axes,
        run_sweep,
    )

    sweep_flags: dict[str, Any] = {
        name: (values[name], flag)
        for name, flag in SWEEP_FLAGS.items()
        if values.get(name) is not None
    }
    if values["slurm_arg"]:
        extra = {}
        for item in values["slurm_arg"]:
            key, eq, val = item.partition("=")
            if not eq or not key:
                raise UsageError(f"--slurm-arg {item!r}: expected KEY=VALUE (e.g. constraint=a100)")
            extra[key.strip()] = val
        sweep_flags["slurm_args"] = (extra, "--slurm-arg")
    options, resources, _ = load_options(values["config_file"], sweep_flags)
    axes = preset_axes(preset.matrix) if preset is not None else []
    axes = merge_axes(axes, [Axis(k, tuple(v)) for k, v in options.params.items()])
    axes = merge_axes(axes, [parse_param(p) for p in values["params"]])
    base_flags = {
        name: (values[name], flag)
        for name, flag in flag_names.items()
        if values.get(name) is not None
    }
    base_args = []
    for value, flag in base_flags.values():
        base_args += (
            [flag, str(value)]
            if not isinstance(value, bool)
            else [flag if value else f"--no-{flag[2:]}"]
        )
    if values["config_file"]:
        base_args += ["--config", str(Path(values["config_file"]).resolve())]
    for assignment in values["sets"]:
        base_args += ["--set", assignment]
    spec = SweepSpec(
        target=target,
        axes=axes,
        filters=[*options.filter, *values["filters"]],
        preset=preset.name if preset is not None else None,
        base_flags=base_flags,
        sets=list(values["sets"]),
        config_file=values["config_file"],
        force=values["force"],
        base_args=base_args,
        nproc_per_node=resources.nproc_per_job,
    )
    planned = plan_sweep(spec, plugins, sweep_id=values["sweep_id"], root=values["artifact_root"])
    if values["dry_run"]:
        from framework.sweep_view import describe
        from framework.sweeps import up_to_date

        for job in planned.jobs:
            assert job.request is not None
            state = "up to date" if up_to_date(job.request, plugins) else "would run"
            click.echo(f"{job.run_id}  {describe(job.parameters)}  [{state}]")
        click.echo(
            f"{len(planned.jobs)} jobs of {planned.spec.target} on the {options.executor} executor; "
            f"manifest: {planned.manifest_path}"
        )
        return
    jobs = [
        {"run_id": j.run_id, "index": j.index, "parameters": j.parameters, "status": "queued"}
        for j in planned.jobs
    ]
    with SweepView(planned.sweep_id, jobs, quiet=values["quiet"]) as view:
        outcome = run_sweep(
            planned,
            plugins,
            options=options,
            resources=resources,
            command=command,
            on_update=view.update,
            debug=bool(click.get_current_context().find_root().params.get("debug")),
        )
    from framework.sweep_view import count_line

    click.echo(
        f"sweep {planned.sweep_id} {outcome.status}: {count_line(outcome.manifest['counts'])}"
    )
    click.echo(f"manifest: {planned.manifest_path}")
    error = failure_message(outcome)
    if error is not None:
        raise error


@cli.command()
@click.argument("sweep_id", required=False, shell_complete=complete_sweep)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_root_option
def sweeps(sweep_id: str | None, as_json: bool, artifact_root: str | None) -> None:
    """List sweeps, or show one (SWEEP_ID or 'latest'): each job's parameters, status, metrics."""
    import json

    from framework.runner import artifact_root as root_of
    from framework.sweeps import find_sweep, job_metrics, list_sweeps

    root = root_of(artifact_root)
    if sweep_id is None:
        found = list_sweeps(root)
        if as_json:
            click.echo(json.dumps(found, indent=2))
            return
        if not found:
            click.echo(f"no sweeps under {root / 'sweeps'}")
            return
        from framework.sweep_view import count_line

        width = max(len(m["sweep_id"]) for m in found)
        for m in found:
            click.echo(
                f"{m['sweep_id']:<{width}}  {m['created_at']:<24}  {m['status']:<11}  "
                f"{m['target']}  {count_line(m.get('counts', {}))}"
            )
        return
    manifest = find_sweep(root, sweep_id)
    rows = [{**job, "metrics": job_metrics(job, manifest["target"])} for job in manifest["jobs"]]
    if as_json:
        click.echo(json.dumps({**manifest, "jobs": rows}, indent=2))
        return
    from framework.runs import format_metrics
    from framework.sweep_view import count_line, describe

    click.echo(
        f"sweep {manifest['sweep_id']}  [{manifest['status']}]  {manifest['target']}  "
        f"{manifest['executor']}  {count_line(manifest.get('counts', {}))}"
    )
    for job in rows:
        metrics = format_metrics(job["metrics"], digits=4) if job["metrics"] else ""
        error = f"  {job['error']}" if job.get("error") and job["status"] != "completed" else ""
        click.echo(f"  {job['status']:<10} {describe(job['parameters'])}  {metrics}{error}")
        click.echo(f"             {job['run_id']}")


@cli.command()
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print the completion script for SHELL (bash, zsh or fish).

    \b
      eval "$(framework completion bash)"       # in ~/.bashrc
      eval "$(framework completion zsh)"        # in ~/.zshrc
      framework completion fish > ~/.config/fish/completions/framework.fish
    """
    from framework.completion import script

    click.echo(script(cli, shell))
