"""The `framework` command line: the group, `main` (our errors as one line and an exit
code) and the plugin manager of an invocation. The core's commands live in `inspect` and
`run`, imported when one runs; built-in plugins add the others (`sweep`, `schema`, ...)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from framework.errors import FrameworkError

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _plugins(ctx: click.Context) -> Any:
    """The plugin manager, built once per invocation from the group's options."""
    root = ctx.find_root()
    if "plugins" not in root.ensure_object(dict):
        from framework.plugins import Plugins

        params = root.params
        if "no_plugin" not in params:  # asked while parsing (an eager --help): parse them now
            params, _, _ = root.command.make_parser(root).parse_args(args=root.obj.get("argv", []))
        plugins = Plugins(
            disabled=params.get("no_plugin") or (), strict=params.get("strict_plugins") or None
        )
        plugins.collect_registrations()
        root.obj["plugins"] = plugins
        if root.invoked_subcommand != "plugins" and not root.resilient_parsing:
            plugins.warn_failures()  # not while completing: the shell would print it mid-line
    return root.obj["plugins"]


def complete(
    ctx: click.Context, param: click.Parameter | None, incomplete: str
) -> list[CompletionItem]:
    """A `shell_complete` callback (`param` None: an option name) a `complete_shell` hook answers."""
    return _plugins(ctx).pm.hook.complete_shell(ctx=ctx, param=param, incomplete=incomplete) or []


class PlanCommand(click.Command):
    """A command whose options depend on its STEP (`run`, `sweep`): `fixed_options(ctx)` and
    `plan_target(ctx, args)` let shell completion offer them before the command parses them."""

    def __init__(
        self,
        *args: Any,
        fixed_options: Callable[[click.Context], list[click.Parameter]],
        plan_target: Callable[[click.Context, list[str]], str | None],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fixed_options = fixed_options
        self.plan_target = plan_target

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        if not incomplete.startswith("-"):
            return super().shell_complete(ctx, incomplete)
        return complete(ctx, None, incomplete)


# The core's commands, each imported when it runs (its module registers it on `cli`).
COMMANDS = dict.fromkeys(("list-steps", "describe", "graph", "plugins"), "inspect") | {"run": "run"}


class FrameworkGroup(click.Group):
    """Adds the commands plugins register, and turns our errors into one line."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.ensure_object(dict)["argv"] = list(args)  # for an eager --help, which needs plugins
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(self._plugin_commands(ctx)))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS:
            importlib.import_module(f"framework.cli.{COMMANDS[name]}")
            return super().get_command(ctx, name)
        return self._plugin_commands(ctx).get(name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            try:  # say which plugins are not loaded: the command may be one of theirs
                infos = _plugins(ctx).infos.values()
            except FrameworkError:
                raise exc from None
            unloaded = [
                f"{i.name}: {i.status}" for i in infos if i.status in ("disabled", "failed")
            ]
            if not unloaded:
                raise
            raise click.UsageError(
                f"{exc.message.rstrip('.')}; it may come from a plugin that is not loaded "
                f"({', '.join(unloaded)}), see 'framework plugins'",
                ctx,
            ) from None

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


def _show_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """Not click's version option: it translates its help text at import (a locale lookup)."""
    if value and not ctx.resilient_parsing:
        from importlib.metadata import version

        click.echo(f"framework {version('framework')}")
        ctx.exit()


@click.group(cls=FrameworkGroup, context_settings=CONTEXT)
@click.option(
    "--no-plugin", multiple=True, metavar="NAME", help="Do not load plugin NAME (repeatable)."
)
@click.option(
    "--strict-plugins", is_flag=True, default=None, help="A plugin that fails to load is an error."
)
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_show_version,
    help="Show the version and exit.",
)
def cli(no_plugin: tuple[str, ...], strict_plugins: bool | None, debug: bool) -> None:
    """Run ML pipelines: a DAG of typed steps from plugins, with manifests and caching."""


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: exit codes 0 ok, 1 a step failed, 2 usage or config error."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args[: args.index("--") if "--" in args else len(args)]
    try:
        cli.main(args=args, prog_name="framework", standalone_mode=False)
    except (click.Abort, KeyboardInterrupt):
        click.echo("interrupted", err=True)
        sys.exit(130)
    except click.exceptions.NoArgsIsHelpError as exc:  # bare `framework`: the help, as written
        exc.show()
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        message = " ".join(exc.format_message().split())
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            message += f" (see '{exc.ctx.command_path} --help')"
        click.echo(f"error: {message}", err=True)
        sys.exit(exc.exit_code)
    except Exception as exc:
        if debug:
            import traceback

            traceback.print_exc()
        if isinstance(exc, FrameworkError):
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        click.echo(
            f"error: internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)",
            err=True,
        )
        sys.exit(3)
