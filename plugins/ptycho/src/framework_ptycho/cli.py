"""The `framework ptycho-study` command (click only; the work is in study.py)."""

from __future__ import annotations

import click


@click.command("ptycho-study")
@click.option(
    "--dose",
    "doses",
    multiple=True,
    type=float,
    metavar="PHOTONS",
    help="Only these doses (repeatable; 1e3, 1e4, 1e5).",
)
@click.option(
    "--view",
    "views",
    multiple=True,
    metavar="NAME",
    help="Only these views (repeatable; baseline, dense, sparse).",
)
@click.option(
    "--gridsize",
    "gridsizes",
    multiple=True,
    type=int,
    metavar="G",
    help="Only views with this gridsize (repeatable).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="List the jobs and write the study manifest without running them.",
)
@click.option(
    "--artifact-root",
    default=None,
    metavar="DIR",
    help="Where the runs go [default: runs, or $FRAMEWORK_ARTIFACT_ROOT].",
)
@click.option(
    "--study-dir",
    default=None,
    metavar="DIR",
    help="Where study_manifest.json goes [default: ARTIFACT_ROOT/studies/<id>].",
)
@click.option(
    "--config",
    "config_file",
    default=None,
    metavar="FILE",
    help="YAML/JSON config applied to every job.",
)
@click.option(
    "--flag",
    "flags",
    multiple=True,
    metavar="FIELD=VALUE",
    help="A config field for every job, e.g. max_epochs=5 (repeatable).",
)
@click.option("--fail-fast", is_flag=True, help="Stop at the first failed job.")
@click.option(
    "--executor",
    default="local",
    show_default=True,
    metavar="NAME",
    help="Where jobs run: local, process, slurm, ray (as for 'framework sweep').",
)
@click.option(
    "--max-parallel",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="At most N jobs at once.",
)
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=0,
    metavar="N",
    help="Resubmit a job whose worker died up to N times.",
)
def study_command(**options):
    """Run the ptycho dose x overlap study (preset ptycho.dose_overlap): one run per job."""
    from framework_ptycho.study import run_study

    run_study(**options)
