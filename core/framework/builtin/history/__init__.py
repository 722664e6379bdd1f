"""Built-in plugin: the recorded runs, looked back at.

`framework runs` lists them, `framework show RUN` summarises one manifest and
`framework verify RUN` re-hashes every recorded artifact. The modules: `runs` (finding,
summarising and verifying runs) and `commands` (the click commands).

Hooks: ``register_cli_options`` (the three commands). Blocked with ``--no-plugin
history``: the runs stay on disk, only the commands are gone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from framework.hookspecs import hookimpl

if TYPE_CHECKING:
    from framework.hookspecs import CliRegister


@hookimpl
def register_cli_options(register: CliRegister) -> None:
    from framework.builtin.history.commands import runs, show, verify

    for command in (runs, show, verify):
        register(command)
