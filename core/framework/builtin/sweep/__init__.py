"""Built-in plugin: sweeps, one step over a grid of parameters, each job its own run.

`framework sweep` expands the grid (``-p`` axes or a plugin's preset), drops the jobs a
``--filter`` rejects, checks every job's config before anything is submitted, skips
jobs that are done and up to date, and hands the rest to an executor; `framework
sweeps` looks back at them. The modules, one concept each: `grid` (axes), `filters`
(the filter language), `planning` (jobs, ids, requests), `record` (the sweep
manifest), `execution` (running a planned sweep), `view` (the live table) and
`commands` (the two click commands).

Hooks: ``register_cli_options`` (the two commands, completed through ``complete_shell``),
``register_schemas`` (the sweep manifest and a config file's ``sweep:`` section). Presets come from any plugin's
``register_sweeps``; executors from ``register_executors``. Blocked with
``--no-plugin sweep``, and `framework sweep` is then not a command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from framework.hookspecs import hookimpl

if TYPE_CHECKING:
    from framework.hookspecs import CliRegister, SchemaRegister

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


@hookimpl
def register_cli_options(register: CliRegister) -> None:
    register(_sweep_command())
    register(_sweeps_command())


@hookimpl
def register_schemas(register: SchemaRegister) -> None:
    register("sweep_manifest.schema.json", "framework.builtin.sweep.record:manifest_schema")
    register("sweep_options.schema.json", "framework.builtin.sweep.settings:options_schema")


# The commands are declared here and their work imported when they run: every command
# of the CLI (`framework list-steps` included) lists them.


def _sweep_command() -> Any:
    import click

    from framework.cli import PlanCommand, complete

    def run(args: tuple[str, ...]) -> None:
        from framework.builtin.sweep.commands import sweep

        sweep(click.get_current_context(), args)

    def fixed_options(ctx: click.Context) -> list[click.Parameter]:
        """The sweep's own options with every executor's (``--partition``), as its help
        lists them once a STEP is given: what the shell completes."""
        import os

        from framework.builtin.sweep.commands import _sweep_options
        from framework.builtin.sweep.settings import executor_settings, settings_options
        from framework.cli import _plugins

        static = _sweep_options(os.environ.get("FRAMEWORK_ARTIFACT_ROOT") or "runs")
        taken = {n for p in static for n in getattr(p, "opts", [])}
        static[-2:-2] = settings_options(executor_settings(_plugins(ctx)), taken)
        return static

    def plan_target(ctx: click.Context, args: list[str]) -> str | None:
        """The sweep's STEP: its first argument, or the step of the preset it names."""
        if args and not args[0].startswith("-"):
            return args[0]
        from framework.builtin.sweep.commands import _preset_in
        from framework.cli import _plugins

        name = _preset_in(args)
        presets = {p.name: p.step for p, _ in _plugins(ctx).sweeps} if name else {}
        return presets.get(name or "")

    return PlanCommand(
        "sweep",
        help=SWEEP_HELP,
        callback=run,
        fixed_options=fixed_options,
        plan_target=plan_target,
        params=[
            click.Argument(["args"], nargs=-1, type=click.UNPROCESSED, shell_complete=complete)
        ],
        context_settings={
            "ignore_unknown_options": True,
            "allow_extra_args": True,
            "help_option_names": [],
        },
    )


def _sweeps_command() -> Any:
    import click

    from framework.cli import complete

    def show(sweep_id: str | None, as_json: bool, artifact_root: str | None) -> None:
        from framework.builtin.sweep.commands import sweeps

        sweeps(sweep_id, as_json, artifact_root)

    return click.Command(
        "sweeps",
        help="List sweeps, or show one (SWEEP_ID or 'latest'): each job's parameters, status, metrics.",
        callback=show,
        params=[
            click.Argument(["sweep_id"], required=False, shell_complete=complete),
            click.Option(["--json", "as_json"], is_flag=True, help="Machine-readable output."),
            click.Option(
                ["--artifact-root"],
                default=None,
                metavar="DIR",
                help="Where run directories live [default: runs].",
            ),
        ],
    )
