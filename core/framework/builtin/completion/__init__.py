"""Built-in plugin: shell completion, and `framework completion SHELL` that installs it.

Click drives completion (``_FRAMEWORK_COMPLETE=bash_complete framework ...``); every
command's arguments ask the ``complete_shell`` hook, which this plugin answers from the
plugins' registrations, the config classes of the plan's steps and the folder names
under the artifact root (`answers`). Nothing here imports torch, numpy or a step's code.

Hooks: ``register_cli_options`` (the `completion` command), ``complete_shell``. Blocked
with ``--no-plugin completion``: the shell then completes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from framework.hookspecs import hookimpl

if TYPE_CHECKING:
    import click
    from click.shell_completion import CompletionItem

    from framework.hookspecs import CliRegister

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_FRAMEWORK_COMPLETE"

COMPLETION_HELP = """Print the completion script for SHELL (bash, zsh or fish).

\b
  eval "$(framework completion bash)"       # in ~/.bashrc
  eval "$(framework completion zsh)"        # in ~/.zshrc
  framework completion fish > ~/.config/fish/completions/framework.fish
"""


@hookimpl
def register_cli_options(register: CliRegister) -> None:
    import click

    def print_script(shell: str) -> None:
        from click.shell_completion import get_completion_class

        root = click.get_current_context().find_root().command
        cls = get_completion_class(shell)
        assert cls is not None  # click.Choice has refused any other shell
        click.echo(cls(root, {}, "framework", COMPLETE_VAR).source())

    register(
        click.Command(
            "completion",
            help=COMPLETION_HELP,
            callback=print_script,
            params=[click.Argument(["shell"], type=click.Choice(SHELLS))],
        )
    )


@hookimpl
def complete_shell(
    ctx: click.Context, param: click.Parameter | None, incomplete: str
) -> list[CompletionItem] | None:
    from framework.builtin.completion.answers import answer

    return answer(ctx, param, incomplete)
