"""Built-in plugin: `framework schema`, the JSON Schemas committed in schemas/ (the run
and sweep manifests, the execution settings, every step's config), written or checked.

`render` renders them from the code: the core's, those of any plugin's ``register_schemas``
and every step's config. Hooks: ``register_cli_options`` (the command).
Blocked with ``--no-plugin schema``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from framework.hookspecs import hookimpl

if TYPE_CHECKING:
    from framework.hookspecs import CliRegister


@hookimpl
def register_cli_options(register: CliRegister) -> None:
    register(schema_command())


def schema_command() -> Any:
    """Declared here, its work imported when it runs: every command lists it."""
    import click

    def write_or_check(out: str, check: bool) -> None:
        from framework.builtin.schema.render import write_or_check

        write_or_check(click.get_current_context(), out, check)

    return click.Command(
        "schema",
        help="Write the JSON Schemas: the run manifest and every step's config.",
        callback=write_or_check,
        params=[
            click.Option(
                ["--out"],
                default="schemas",
                show_default=True,
                metavar="DIR",
                help="Where to write the schemas.",
            ),
            click.Option(
                ["--check"],
                is_flag=True,
                help="Write nothing; exit 1 if a file differs from its class.",
            ),
        ],
    )
