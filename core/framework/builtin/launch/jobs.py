"""A job (a sweep's, an executor's) that asks for ``nproc_per_node > 1``: the same run in
several processes through torch's launcher, its result read from its manifest."""

from __future__ import annotations

import attrs

from framework.errors import StepFailedError
from framework.manifest import new_run_id, read_manifest
from framework.request import RunRequest, artifact_root
from framework.runner import RunResult


def run_launched(request: RunRequest) -> RunResult:
    """Launch `request` in its processes and wait; raise as a failed step would."""
    from framework.builtin.launch.torchrun import launch, launcher_command

    if not request.run_id:
        request = attrs.evolve(request, run_id=new_run_id())
    argv = request.argv()
    code = launch(
        launcher_command(request.nproc_per_node, argv),
        list(request.command) or ["framework", *argv],
        request.nproc_per_node,
    )
    run_dir = artifact_root(request.artifact_root) / str(request.run_id)
    manifest = read_manifest(run_dir) if (run_dir / "manifest.json").exists() else {}
    status = manifest.get("status", "failed")
    if code == 0 and status == "completed":
        return RunResult(str(request.run_id), run_dir, status, manifest)
    if code == 130 or status == "interrupted":
        raise KeyboardInterrupt
    errors = [r.get("error") for r in manifest.get("steps", {}).values() if r.get("error")]
    raise StepFailedError(
        f"run {request.run_id} in {request.nproc_per_node} processes failed"
        + (f": {errors[0]}" if errors else f" (the launcher exited with code {code})"),
        hint=f"see {run_dir / 'events.jsonl'} and the launcher's output above",
    )
