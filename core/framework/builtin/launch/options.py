"""The options `--nproc-per-node` and friends of `framework run`, and what they do: check
that they can work, then re-run the same command in several processes."""

from __future__ import annotations

from typing import Any

import click

from framework.errors import UsageError

# Options of `framework run` that go to torch's launcher, not to the run: name -> value?
LAUNCH_OPTIONS = {
    "nproc-per-node": "N",
    "nnodes": "M",
    "node-rank": "R",
    "master-addr": "HOST",
    "master-port": "PORT",
    "rdzv-endpoint": "HOST:PORT",
}


def take_over(
    ctx: click.Context, target: str, args: list[str], values: dict[str, Any], prepared: Any
) -> int | None:
    """The exit code of the run launched in several processes; None: run it here."""
    if not wants_launcher(values):
        return None
    if prepared.execution.accelerator != "auto":  # a missing GPU: one line, not N ranks'
        from framework.execution import resolve_device

        resolve_device(prepared.execution)
    return _launch(ctx, target, args, values)


def wants_launcher(values: dict[str, Any]) -> bool:
    """--nproc-per-node / --nnodes asked for several processes, and none launched us yet.

    Launch options that cannot take effect are refused with one line.
    """
    import re

    from framework.distributed import launched

    if launched():
        return False  # the ranks of a launched run: the launcher had these options
    nnodes = values.get("nnodes")
    if nnodes is not None and not re.fullmatch(r"[1-9]\d*(:[1-9]\d*)?", nnodes):
        raise UsageError(
            f"--nnodes {nnodes}: expected a number of nodes M, or MIN:MAX (e.g. 2 or 1:4)"
        )
    if nnodes and ":" in nnodes and int(nnodes.split(":")[0]) > int(nnodes.split(":")[1]):
        raise UsageError(f"--nnodes {nnodes}: MIN is larger than MAX")
    several = (values.get("nproc_per_node") or 1) > 1 or (nnodes or "1") != "1"
    given = [f"--{n}" for n in LAUNCH_OPTIONS if values.get(n.replace("-", "_")) is not None]
    if not several and set(given) - {"--nproc-per-node", "--nnodes"}:
        raise UsageError(
            f"{', '.join(given)}: these apply to a run of several processes",
            hint="add --nproc-per-node N (N > 1) or --nnodes M (M > 1), or drop them",
        )
    static = [o for o in ("--node-rank", "--master-addr", "--master-port") if o in given]
    if values.get("rdzv_endpoint") is not None and static:
        raise UsageError(
            f"--rdzv-endpoint and {', '.join(static)}: choose one way for the nodes to meet",
            hint="--rdzv-endpoint alone (every node runs the same command), "
            "or --node-rank with --master-addr/--master-port",
        )
    return several


def without_launch_options(args: list[str]) -> list[str]:
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
            continue
        name, eq, _ = arg.partition("=")
        if name.startswith("--") and name[2:].replace("_", "-") in LAUNCH_OPTIONS:
            skip = not eq
            continue
        out.append(arg)
    return out


def _launch(ctx: click.Context, target: str, args: list[str], values: dict[str, Any]) -> int:
    """Re-run this very command in several processes through torch.distributed.run."""
    from framework.builtin.launch.torchrun import launch, launcher_command
    from framework.manifest import new_run_id

    nnodes = values.get("nnodes")
    if nnodes not in (None, "1") and not values.get("run_id"):
        raise UsageError(
            "--nnodes: a run on several nodes needs --run-id, the same on every node",
            hint="e.g. --run-id exp1, or $SLURM_JOB_ID on Slurm",
        )
    run_args = without_launch_options(args)
    run_id = values.get("run_id")
    if not run_id:
        run_id = new_run_id()
        run_args += ["--run-id", run_id]  # every rank must write to the same run
    root = ctx.find_root().params
    head = [f"--no-plugin={n}" for n in root.get("no_plugin") or ()]
    head += ["--strict-plugins"] * bool(root.get("strict_plugins")) + ["--debug"] * bool(
        root.get("debug")
    )
    cmd = launcher_command(
        values.get("nproc_per_node") or 1,
        [*head, "run", target, *run_args],
        nnodes=nnodes,
        node_rank=values.get("node_rank"),
        master_addr=values.get("master_addr"),
        master_port=values.get("master_port"),
        rdzv_endpoint=values.get("rdzv_endpoint"),
        rdzv_id=run_id,
    )
    return launch(
        cmd,
        ["framework", "run", target, *args],
        values.get("nproc_per_node") or 1,
        debug=bool(root.get("debug")),
    )
