"""Several processes in one run: the launcher, rank 0 as the only writer, the step helpers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from framework import distributed
from framework.builtin.launch import output as launch_output
from framework.builtin.launch import torchrun
from framework.builtin.launch.options import without_launch_options
from framework.execution import RankInfo

from tests.conftest import expect_error, read_events, read_manifest

# A step that exercises the helpers across ranks and writes what rank 0 saw.
RANKS = """
import json, os, time
import attrs
from framework import Step, hookimpl, field

@attrs.define
class Config:
    items: int = field(10, min=1, help="how many items to share out")
    fail_on_rank: int = field(-1, help="raise on this rank (-1: none)")
    hold: bool = field(False, help="once every rank is in the step, wait to be stopped")

def share(ctx):
    if ctx.rank.rank == ctx.config.fail_on_rank:
        raise RuntimeError(f"rank {ctx.rank.rank} gives up")
    if ctx.config.hold:
        ctx.event("holding", pids=ctx.gather(os.getpid()))
        while True:
            time.sleep(0.05)
    mine = list(ctx.shard(ctx.config.items))
    seen = {
        "world_size": ctx.rank.world_size,
        "pids": ctx.gather(os.getpid()),
        "shares": ctx.gather(mine),
        "mean_rank": ctx.reduce({"rank": float(ctx.rank.rank)})["rank"],
        "total": ctx.reduce({"n": float(len(mine))}, op="sum")["n"],
    }
    ctx.write_json("seen.json", seen)

def read(ctx):
    seen = ctx.read_json("seen.json")
    ctx.write_text("summary.txt", f"{seen['world_size']} ranks, {seen['total']} items\\n")

@hookimpl
def register_steps(register):
    register(Step(id="ranks.share", run=__name__ + ":share", config=__name__ + ":Config",
                  outputs=["seen.json"], description="share items out across ranks"))
    register(Step(id="ranks.read", run=__name__ + ":read", requires=["share"],
                  inputs=["seen.json"], outputs=["summary.txt"], description="read rank 0's file"))
"""


@pytest.fixture
def ranks(plugin_site):
    return plugin_site.add("ranks", RANKS)


# -- one process: every helper is the identity ------------------------------------------------


def test_helpers_are_the_identity_with_one_process():
    one = RankInfo()
    assert not distributed.is_initialized()
    assert list(distributed.shard(5, one)) == [0, 1, 2, 3, 4]
    assert distributed.reduce({"a": 2}) == {"a": 2.0}
    assert distributed.reduce({"a": 2}, op="max") == {"a": 2.0}
    assert distributed.gather("x") == ["x"]
    assert distributed.broadcast(7) == 7
    assert distributed.sampler([1, 2], one) is None
    model = object()
    assert distributed.ddp(model, "cpu") is model
    distributed.barrier()  # returns at once


def test_an_unknown_reduce_op_fails_with_one_process_too():
    with pytest.raises(ValueError, match="choose mean, sum, max, min"):
        distributed.reduce({"a": 1.0}, op="median")
    with pytest.raises(ValueError, match="'avg'"):
        distributed.reduce_tensor(object(), op="avg")


def test_the_helpers_are_exported_and_on_the_context():
    import framework
    from framework.context import StepContext

    assert framework.distributed is distributed and "distributed" in framework.__all__
    for name in ("ddp", "shard", "sampler", "reduce", "gather", "barrier", "is_main"):
        assert hasattr(StepContext, name), name


def test_shards_are_disjoint_and_cover_everything():
    shares = [list(distributed.shard(11, RankInfo(rank=r, world_size=3))) for r in range(3)]
    assert sorted(i for share in shares for i in share) == list(range(11))
    assert not set(shares[0]) & set(shares[1])


def test_rank_info_reads_the_launcher_variables():
    env = {"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "4", "LOCAL_WORLD_SIZE": "2"}
    info = RankInfo.from_env(env)
    assert (info.rank, info.local_rank, info.world_size, info.local_world_size) == (3, 1, 4, 2)
    assert not info.is_main and RankInfo.from_env({}).is_main
    assert distributed.launched(env) and not distributed.launched({})


def test_backend_is_nccl_on_gpus_and_gloo_otherwise():
    assert distributed.backend_for("cuda:1") == "nccl"
    assert distributed.backend_for("cpu") == "gloo"


# -- the launcher command ----------------------------------------------------------------------


def test_one_node_launches_standalone_with_the_run_command():
    cmd = torchrun.launcher_command(2, ["run", "x.y", "--run-id", "r"])
    assert cmd[1:4] == ["-m", "torch.distributed.run", "--nproc-per-node=2"]
    assert "--standalone" in cmd
    assert cmd[-6:] == ["-m", "framework", "run", "x.y", "--run-id", "r"]


def test_several_nodes_use_node_ranks_or_a_rendezvous_endpoint():
    ranked = torchrun.launcher_command(
        4, ["run", "x"], nnodes="2", node_rank=1, master_addr="n0", master_port=29500
    )
    assert {"--nnodes=2", "--node-rank=1", "--master-addr=n0", "--master-port=29500"} <= set(ranked)
    assert "--standalone" not in ranked
    rdzv = torchrun.launcher_command(
        4, ["run", "x"], nnodes="2", rdzv_endpoint="n0:29400", rdzv_id="exp1"
    )
    assert {"--rdzv-backend=c10d", "--rdzv-endpoint=n0:29400", "--rdzv-id=exp1"} <= set(rdzv)


def test_launch_options_are_dropped_from_the_command_the_ranks_run():
    args = ["--nproc-per-node", "2", "--epochs", "3", "--nnodes=1", "--master-port", "1234"]
    assert without_launch_options(args) == ["--epochs", "3"]


# -- errors ---------------------------------------------------------------------------------------


def test_a_missing_gpu_is_one_line_before_anything_is_launched(cli, ranks, isolated):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    expect_error(
        cli("run", "ranks.read", "--nproc-per-node", "2", "--accelerator", "cuda"), 2, "no CUDA"
    )
    assert not (isolated / "runs").exists()


def test_the_launchers_own_lines_are_dropped_and_each_message_shown_once():
    text = (
        "error: step x failed: boom\n"
        "error: step x failed: boom\n"
        "W1124 05:35:09.452000 1 torch/distributed/elastic/multiprocessing/api.py:1] Sending\n"
        "error: step x failed: RuntimeError: [gloo] Connection closed by peer [::1]:1\n"
        "interrupted\n"
        "Traceback (most recent call last):\n"
        '  File "run.py", line 1\n'
    )
    assert launch_output.rank_messages(text, 1) == "error: step x failed: boom\n"
    assert "launcher exited with code 1" in launch_output.rank_messages("W1124 05:35:09 x\n", 1)
    # Interrupted: the launcher's traceback of the signal goes too, 'interrupted' stays.
    stopped = "interrupted\nTraceback (most recent call last):\nSignalException: 2\n"
    assert launch_output.rank_messages(stopped, 130) == "interrupted\n"


def test_the_ranks_lines_pass_as_they_come_and_errors_wait_for_the_end():
    import io

    out = io.StringIO()
    output = launch_output.RankOutput(out)
    output.feed("warning: slow disk\n")
    output.feed("error: step x failed: boom\n")
    assert out.getvalue() == "warning: slow disk\n"
    output.feed("warning: slow disk\n")  # the other rank says it too
    output.finish(1)
    assert out.getvalue() == "warning: slow disk\nerror: step x failed: boom\n"


def test_nproc_per_node_must_be_positive(cli, ranks):
    expect_error(cli("run", "ranks.read", "--nproc-per-node", "0"), 2, "--nproc-per-node")


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        (["--nnodes", "two"], "--nnodes two: expected a number of nodes M, or MIN:MAX"),
        (["--nnodes", "0"], "--nnodes 0: expected"),
        (["--nnodes", "4:2", "--run-id", "r"], "--nnodes 4:2: MIN is larger than MAX"),
        (["--master-addr", "n0"], "--master-addr: these apply to a run of several processes"),
        (
            ["--nnodes", "2", "--rdzv-endpoint", "n0:1", "--node-rank", "1", "--run-id", "r"],
            "--rdzv-endpoint and --node-rank: choose one way",
        ),
    ],
)
def test_launch_options_that_cannot_work_are_one_line(cli, ranks, isolated, options, needle):
    expect_error(cli("run", "ranks.read", *options), 2, needle)
    assert not (isolated / "runs").exists()


def test_several_nodes_need_a_run_id(cli, ranks):
    expect_error(
        cli("run", "ranks.read", "--nnodes", "2", "--nproc-per-node", "1"),
        2,
        "needs --run-id, the same on every node",
    )


# -- two real processes (gloo on CPU) ---------------------------------------------------------


def test_two_processes_share_the_work_and_only_rank_0_writes(cli, ranks, isolated):
    result = cli("run", "ranks.read", "--nproc-per-node", "2", "--run-id", "two", "--quiet")
    assert result.exit_code == 0, result.stderr
    run_dir = isolated / "runs" / "two"
    seen = json.loads((run_dir / "seen.json").read_text())
    assert seen["world_size"] == 2 and len(set(seen["pids"])) == 2
    assert seen["shares"] == [[0, 2, 4, 6, 8], [1, 3, 5, 7, 9]]
    assert (seen["mean_rank"], seen["total"]) == (0.5, 10.0)
    # rank 1 read rank 0's seen.json after the barrier, and wrote nothing of its own
    assert (run_dir / "summary.txt").read_text() == "2 ranks, 10.0 items\n"
    manifest = read_manifest(run_dir)
    assert manifest["status"] == "completed"
    assert manifest["distributed"] == {"world_size": 2, "nproc_per_node": 2, "backend": "gloo"}
    assert manifest["command"][:4] == ["framework", "run", "ranks.read", "--nproc-per-node"]
    started = [e["step"] for e in read_events(run_dir) if e["event"] == "step_started"]
    assert started == ["ranks.share", "ranks.read"]  # one events.jsonl, rank 0's
    assert sorted(p.name for p in run_dir.iterdir()) == [
        ".lock",
        "events.jsonl",
        "manifest.json",
        "seen.json",
        "summary.txt",
    ]
    # The same config in one process is not the same run: the work is shared differently.
    again = cli("run", "ranks.read", "--run-id", "two", "--quiet")
    assert again.exit_code == 0, again.stderr
    steps = read_manifest(run_dir)["steps"].values()
    assert {s["status"] for s in steps} == {"completed"}
    assert all("world_size 2 -> 1" in s["reason"] for s in steps)
    assert json.loads((run_dir / "seen.json").read_text())["world_size"] == 1


@pytest.mark.parametrize("how", ["ctrl+c", "sigterm"])
def test_ctrl_c_or_sigterm_stops_every_rank_and_records_the_run(ranks, isolated, how):
    """Ctrl+C reaches the terminal's process group (`framework` and the launcher, which
    passes it on to the ranks); SIGTERM reaches only `framework`, which passes it to the
    launcher. Either way: every rank stops, exit 130, one 'interrupted'. No --run-id: the
    ranks still share the one run directory."""
    import contextlib
    import os
    import signal
    import subprocess
    import sys
    import time

    cmd = [sys.executable, "-m", "framework", "run", "ranks.share", "--nproc-per-node", "2",
           "--hold", "--quiet"]  # fmt: skip
    proc = subprocess.Popen(cmd, start_new_session=True, stderr=subprocess.PIPE, text=True)
    holding: list[dict] = []
    try:
        deadline = time.monotonic() + 120
        while not (holding := _events_named(isolated / "runs", "holding")):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr
            time.sleep(0.1)
        if how == "ctrl+c":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            os.kill(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:  # whatever happened, leave no process behind (the ranks have their own sessions)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in holding[0]["fields"]["pids"] if holding else []:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert proc.returncode == 130 and err.strip() == "interrupted", err
    for pid in holding[0]["fields"]["pids"]:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # no rank left behind
    (run_dir,) = [p for p in (isolated / "runs").iterdir() if not p.name.startswith(".")]
    manifest = read_manifest(run_dir)
    assert manifest["status"] == "interrupted"
    assert manifest["steps"]["ranks.share"]["error"] == "interrupted"


def _events_named(root: Path, name: str) -> list[dict]:
    """The events called `name` of the runs under `root` so far (none while a line is half-written)."""
    try:
        return [e for log in root.glob("*/events.jsonl") for e in read_events(log.parent)
                if e["event"] == name]  # fmt: skip
    except json.JSONDecodeError:
        return []


def test_a_rank_that_fails_ends_the_run_without_hanging(cli, ranks, isolated):
    result = cli(
        "run", "ranks.share", "--nproc-per-node", "2", "--run-id", "bad", "--quiet",
        "--fail-on-rank", "1", "--dist-timeout-s", "60",
    )  # fmt: skip
    assert result.exit_code != 0
    # One line, the cause: not rank 0's broken connection, not the launcher's traceback.
    assert "Traceback" not in result.stderr
    assert len(result.err_lines) == 1 and "rank 1 gives up" in result.err_lines[0]
    manifest = read_manifest(isolated / "runs" / "bad")
    assert manifest["status"] != "completed"
    assert not Path(isolated / "runs" / "bad" / "seen.json").exists()


def test_torchrun_started_by_the_user_works_and_agrees_on_one_run_id(ranks, isolated):
    import os
    import subprocess
    import sys

    env = {**os.environ, "TORCH_DISABLE_SHARE_RDZV_TCP_STORE": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
           "-m", "framework", "run", "ranks.read", "--quiet"]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = [p for p in (isolated / "runs").iterdir() if not p.name.startswith(".")]
    manifest = read_manifest(run_dir)
    assert manifest["status"] == "completed" and manifest["distributed"]["world_size"] == 2
    assert json.loads((run_dir / "seen.json").read_text())["total"] == 10.0


def test_a_sweep_runs_each_job_in_several_processes(cli, ranks, isolated):
    result = cli(
        "sweep", "ranks.read", "-p", "items=4,6", "--nproc-per-job", "2", "--executor", "process"
    )
    assert result.exit_code == 0, result.stderr
    (path,) = (isolated / "runs" / "sweeps").glob("*/sweep_manifest.json")
    jobs = json.loads(path.read_text())["jobs"]
    assert {j["status"] for j in jobs} == {"completed"}
    for job in jobs:
        assert read_manifest(job["run_dir"])["distributed"]["world_size"] == 2
        seen = json.loads((Path(job["run_dir"]) / "seen.json").read_text())
        assert seen["total"] == job["parameters"]["items"] and len(seen["shares"]) == 2
        assert "--nproc-per-node" in job["command"]


def test_a_run_request_turns_into_the_command_that_repeats_it(cli, ranks, isolated):
    from framework.request import RunRequest

    request = RunRequest(
        target="ranks.read",
        run_id="again",
        flags={"items": (7, "a sweep"), "quiet": (True, "a sweep")},
        sets=["share.fail_on_rank=-1"],
    )
    result = cli(*request.argv())
    assert result.exit_code == 0, result.stderr
    manifest = read_manifest(isolated / "runs" / "again")
    assert manifest["config"]["ranks.share"] == {"items": 7, "fail_on_rank": -1, "hold": False}
    assert manifest["execution"]["quiet"] is True
