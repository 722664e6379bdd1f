"""Built-in plugin: `framework run STEP --nproc-per-node N` (and ``--nnodes`` ...), the run
in several processes through torch's launcher.

`options` holds the options and the take-over of a run that asks for several
processes; `torchrun` the launcher's command line and running it; `output` the
launcher's stderr cleaned for the user. The ranks themselves use `framework.distributed`.

Hooks: ``register_cli_options`` (its options of `framework run`, and a `RunLauncher`
that takes the run over when they ask for several processes). Blocked with
``--no-plugin launch``; `torchrun -m framework run STEP` still works then.
"""

from __future__ import annotations

from typing import Any

from framework.hookspecs import hookimpl


@hookimpl
def register_cli_options(register: Any) -> None:
    from framework.builtin.launch.options import launch_options
    from framework.registrations import RunLauncher

    options = launch_options()
    for option in options:
        register(option)
    names = tuple(str(option.name) for option in options)
    register(RunLauncher("torchrun", "framework.builtin.launch.options:take_over", names))
