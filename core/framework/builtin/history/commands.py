"""`framework runs`, `show` and `verify`: the click commands."""

from __future__ import annotations

import click

from framework.cli import complete

_root_option = click.option(
    "--artifact-root",
    default=None,
    metavar="DIR",
    help="Where run directories live [default: runs].",
)


@click.command()
@_root_option
def runs(artifact_root: str | None) -> None:
    """List runs: id, date, target, status."""
    from framework.builtin.history.runs import list_runs
    from framework.request import artifact_root as root_of

    found = list_runs(root_of(artifact_root))
    if not found:
        click.echo(f"no runs under {root_of(artifact_root)}")
        return
    width = max(len(r.run_id) for r in found)
    for r in found:
        click.echo(f"{r.run_id:<{width}}  {r.created_at:<24}  {r.status:<11}  {r.target}")


@click.command()
@click.argument("run", shell_complete=complete)
@click.option("--json", "as_json", is_flag=True, help="Print the manifest itself.")
@_root_option
def show(run: str, as_json: bool, artifact_root: str | None) -> None:
    """Summarise a run's manifest (RUN is an id, a path, or 'latest')."""
    import json

    from framework.builtin.history.runs import find_run, summary_lines
    from framework.manifest import read_manifest
    from framework.request import artifact_root as root_of

    manifest = read_manifest(find_run(root_of(artifact_root), run))
    if as_json:
        click.echo(json.dumps(manifest, indent=2))
        return
    for line in summary_lines(manifest):
        click.echo(line)


@click.command()
@click.argument("run", shell_complete=complete)
@_root_option
def verify(run: str, artifact_root: str | None) -> None:
    """Re-hash every artifact of a run; exit 1 if any changed or vanished."""
    from framework.builtin.history.runs import find_run
    from framework.builtin.history.runs import verify as verify_run
    from framework.errors import VerifyError
    from framework.request import artifact_root as root_of

    run_dir = find_run(root_of(artifact_root), run)
    result = verify_run(run_dir)
    shared: set[str] = set()
    for d in result.drift:
        also = f"; the same file in run {', '.join(d.shared_with)} changed too" * bool(
            d.shared_with
        )
        click.echo(f"{d.problem:<8} {d.path}  (step {d.step}{also})")
        shared.update(d.shared_with)
    if result.drift:
        raise VerifyError(
            f"{len(result.drift)} of the {result.counts()} of {run_dir} changed or vanished "
            "since the run"
            + (f"; runs {', '.join(sorted(shared))} share the changed files" if shared else ""),
            hint="run the run's command again: changed outputs are recomputed or restored",
        )
    click.echo(f"ok: {result.counts()} of {run_dir} match the manifest")
