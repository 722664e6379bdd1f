"""What `framework sweep` and `framework sweeps` do (the commands themselves are declared
in the package, so that listing commands does not import this module)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from framework.builtin.sweep import SWEEP_HELP
from framework.builtin.sweep.settings import executor_settings, settings_flags, settings_options
from framework.cli import CONTEXT, _plugins
from framework.cli.options import field_options, parse_plan_args
from framework.errors import UsageError


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
}


def _preset_in(args: list[str]) -> str | None:
    for i, arg in enumerate(args):
        if arg == "--preset" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--preset="):
            return arg.partition("=")[2]
    return None


def sweep(ctx: click.Context, args: tuple[str, ...]) -> None:
    """`framework sweep [STEP] ARGS`: the options depend on the plan, so they are parsed here."""
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
    # An executor's own options come from its settings class, imported only with a STEP:
    # `framework sweep --help` stays as lean as the rest of the CLI's help.
    settings = executor_settings(plugins) if target is not None else {}
    taken = {n for p in static for n in getattr(p, "opts", [])}
    if settings:
        static[-2:-2] = settings_options(settings, taken)  # before --presets and --help
    field_params: list[click.Parameter] = []
    flag_names: dict[str, str] = {}
    if target is not None:
        from framework.prepare import config_sections, resolve_plan

        _, order = resolve_plan(plugins, target, only=False)
        field_params, flag_names = field_options(config_sections(plugins, order))
        field_params = [p for p in field_params if not set(getattr(p, "opts", [])) & taken]
        flag_names = {n: f for n, f in flag_names.items() if f not in taken}
    command = click.Command(
        "sweep",
        params=static + field_params,
        help=SWEEP_HELP,
        context_settings=CONTEXT,
        options_metavar=f"{target or '[STEP]'} [OPTIONS]",
    )
    sub = parse_plan_args(command, argv, ctx)
    values = sub.params
    if values.pop("help") or (target is None and not values["presets"]):
        click.echo(sub.get_help())
        if target is None:
            click.echo("\nPresets: " + (", ".join(sorted(presets)) or "none installed"))
            click.echo(
                f"Executors: {', '.join(sorted(plugins.executors))} "
                "(their own options: framework sweep STEP --help)"
            )
        return
    if values.pop("presets"):
        for name, (p, plugin) in sorted(presets.items()):
            axes = ", ".join(f"{k}={'|'.join(map(str, v))}" for k, v in p.matrix.items())
            click.echo(f"{name:<24} {p.step:<24} {axes}  ({plugin})")
            if p.description:
                click.echo(f"{'':<24} {p.description}")
        return
    assert target is not None
    command_line = ["framework", "sweep", *args]
    _run_sweep(plugins, target, preset, values, flag_names, settings, command_line)


def _run_sweep(
    plugins: Any,
    target: str,
    preset: Any,
    values: dict[str, Any],
    flag_names: dict[str, str],
    settings: dict[str, type],
    command: list[str],
) -> None:
    from framework.builtin.sweep.execution import failure_message, load_options, run_sweep
    from framework.builtin.sweep.grid import Axis, merge_axes, parse_param, preset_axes
    from framework.builtin.sweep.planning import SweepSpec, plan_sweep
    from framework.builtin.sweep.view import SweepView
    from framework.request import Flag

    sweep_flags: dict[str, Any] = {
        name: Flag(values[name], flag)
        for name, flag in SWEEP_FLAGS.items()
        if values.get(name) is not None
    }
    sweep_flags.update(settings_flags(values, settings))
    options, resources, chosen = load_options(values["config_file"], sweep_flags, settings)
    axes = preset_axes(preset.matrix) if preset is not None else []
    axes = merge_axes(axes, [Axis(k, tuple(v)) for k, v in options.params.items()])
    axes = merge_axes(axes, [parse_param(p) for p in values["params"]])
    base_flags = {
        name: Flag(values[name], flag)
        for name, flag in flag_names.items()
        if values.get(name) is not None
    }
    base_args = [arg for name, flag in base_flags.items() for arg in flag.argv(name)]
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
        from framework.builtin.sweep.planning import up_to_date
        from framework.builtin.sweep.view import describe

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
            settings=chosen,
            command=command,
            on_update=view.update,
            debug=bool(click.get_current_context().find_root().params.get("debug")),
        )
    from framework.builtin.sweep.view import count_line

    click.echo(
        f"sweep {planned.sweep_id} {outcome.status}: {count_line(outcome.manifest['counts'])}"
    )
    click.echo(f"manifest: {planned.manifest_path}")
    error = failure_message(outcome)
    if error is not None:
        raise error


def sweeps(sweep_id: str | None, as_json: bool, artifact_root: str | None) -> None:
    """List sweeps, or show one (SWEEP_ID or 'latest'): each job's parameters, status, metrics."""
    import json

    from framework.builtin.sweep.record import find_sweep, job_metrics, list_sweeps
    from framework.request import artifact_root as root_of

    root = root_of(artifact_root)
    if sweep_id is None:
        found = list_sweeps(root)
        if as_json:
            click.echo(json.dumps(found, indent=2))
            return
        if not found:
            click.echo(f"no sweeps under {root / 'sweeps'}")
            return
        from framework.builtin.sweep.view import count_line

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
    from framework.builtin.sweep.view import count_line, describe
    from framework.manifest import format_metrics

    click.echo(
        f"sweep {manifest['sweep_id']}  [{manifest['status']}]  {manifest['target']}  "
        f"{manifest['executor']}  {count_line(manifest.get('counts', {}))}"
    )
    for job in rows:
        metrics = format_metrics(job["metrics"], digits=4) if job["metrics"] else ""
        error = f"  {job['error']}" if job.get("error") and job["status"] != "completed" else ""
        click.echo(f"  {job['status']:<10} {describe(job['parameters'])}  {metrics}{error}")
        click.echo(f"             {job['run_id']}")
