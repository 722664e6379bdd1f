"""Built-in plugin: `framework run STEP --nproc-per-node N` (and ``--nnodes`` ...), the run
in several processes through torch's launcher.

`options` holds the options and the take-over of a run that asks for several
processes; `jobs` runs a job (a sweep's) that asks for them; `torchrun` the launcher's
command line and running it; `output` the
launcher's stderr cleaned for the user. The ranks themselves use `framework.distributed`.

Hooks: ``register_cli_options`` (its options of `framework run`, and a `RunLauncher`
that takes the run over when they ask for several processes, and runs jobs that ask
for them). Blocked with
``--no-plugin launch``; `torchrun -m framework run STEP` still works then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from framework.hookspecs import hookimpl

if TYPE_CHECKING:
    from framework.hookspecs import CliRegister


@hookimpl
def register_cli_options(register: CliRegister) -> None:
    from framework.steps import RunLauncher

    options = launch_options()
    for option in options:
        register(option)
    names = tuple(str(option.name) for option in options)
    register(
        RunLauncher(
            "torchrun",
            "framework.builtin.launch.options:take_over",
            names,
            job="framework.builtin.launch.jobs:run_launched",
        )
    )


def launch_options() -> list[Any]:
    """What this plugin adds to `framework run` (declared here: every command lists them)."""
    import click

    return [
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
