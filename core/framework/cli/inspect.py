"""`framework list-steps`, `describe`, `graph` and `plugins`: what the plugins bring."""

from __future__ import annotations

import click

from framework.cli import _plugins, cli, complete
from framework.errors import UsageError


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
    entries = [e for e in registry if plugin in (None, e.plugin, e.spec.plugin)]
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
        where = f" for plugin '{plugin}'" if plugin else ""
        click.echo(f"no steps{where} (see 'framework plugins')")
        return
    width = max(len(e.id) for e in entries)
    for e in entries:
        click.echo(f"{e.id:<{width}}  {e.spec.description}")


@cli.command()
@click.argument("step", shell_complete=complete)
@click.pass_context
def describe(ctx: click.Context, step: str) -> None:
    """Show a step's config fields, inputs, outputs and dependencies."""
    from framework.config import config_fields
    from framework.prepare import load_config_class

    plugins = _plugins(ctx)
    entry = plugins.steps.resolve(step)
    # a broken config class: one line, not half a description (the callable may be slow)
    plugins.check_steps([entry.id], callable_too=False)
    spec = entry.spec
    click.echo(f"{spec.id}  ({entry.origin()}, code version {spec.version})")
    if spec.description:
        click.echo(f"  {spec.description}")
    click.echo(f"  callable  {spec.run}")
    for what in ("requires", "inputs", "outputs", "splits"):
        click.echo(f"  {what:<10}{', '.join(getattr(spec, what)) or '-'}")
    click.echo(f"  config    {spec.config or 'none'}")
    if not spec.config:
        return
    rows = [
        (
            ", ".join(f"--{n.replace('_', '-')}" for n in (f.name, *f.aliases)),
            f.type_name(),
            "required" if f.required else repr(f.default),
            f.help,
        )
        for f in config_fields(load_config_class(spec.config, spec.id))
    ]
    widths = [max((len(r[i]) for r in rows), default=0) for i in range(3)]
    for r in rows:
        click.echo(f"    {r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}")


@cli.command()
@click.argument("step", shell_complete=complete)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "mermaid"]), default="text", show_default=True
)
@click.pass_context
def graph(ctx: click.Context, step: str, fmt: str) -> None:
    """Print the plan that `framework run STEP` would execute."""
    from framework import dag

    registry = _plugins(ctx).steps
    order = dag.plan(registry, registry.resolve(step).id)
    render = dag.render_mermaid if fmt == "mermaid" else dag.render_text
    click.echo(render(registry, order))


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def plugins_cmd(ctx: click.Context, as_json: bool) -> None:
    """List plugins: loaded, disabled, and failed with their error."""
    import json

    plugins = _plugins(ctx)
    plugins.check_all_steps()  # imports each step's code: a broken step fails its plugin
    hooks = plugins.hook_names()
    infos = list(plugins.infos.values())
    if as_json:
        keys = ("name", "distribution", "version", "status", "error")
        rows = [{**{k: getattr(i, k) for k in keys}, "hooks": hooks.get(i.name, [])} for i in infos]
        click.echo(json.dumps(rows, indent=2))
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
