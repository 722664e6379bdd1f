"""`framework completion SHELL`: the script that lets bash, zsh or fish complete commands."""

from __future__ import annotations

import click

from framework.cli import cli
from framework.completion import SHELLS


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
