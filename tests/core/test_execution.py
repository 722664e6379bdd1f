"""Execution settings shared by every step: seed, determinism, accelerator, precision, ranks."""

from __future__ import annotations

import importlib
import json
import random
import subprocess
import sys
import textwrap

import pytest
from framework import RankInfo
from framework.manifest import RunLock

from tests.conftest import expect_error, read_manifest

torch = pytest.importorskip("torch")

# The hook module stays cheap; the step module imports torch at module level, as real ones do.
TORCHY_HOOKS = """
from framework import Step, hookimpl

STEPS = "fwtest_torchy_steps"

@hookimpl
def register_steps(register):
    register(Step(id="torchy.draw", run=STEPS + ":draw", outputs=["draws.json"]))
    register(Step(id="torchy.probe", run=STEPS + ":probe"))
    register(Step(id="torchy.device", run=STEPS + ":device"))
"""

TORCHY_STEPS = """
import random

import torch

from framework import autocast_dtype

SEEN = []

def draw(ctx):
    ctx.write_json("draws.json", {"torch": torch.rand(3).tolist(), "python": random.random()})

def probe(ctx):
    SEEN.append({
        "initial_seed": torch.initial_seed(),
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "precision": ctx.execution.precision,
        "autocast": autocast_dtype(ctx.execution),
    })

def device(ctx):
    SEEN.append({"device": ctx.device})
"""


@pytest.fixture
def torchy(plugin_site):
    """A plugin whose steps use torch; returns the steps module (SEEN records each run)."""
    plugin_site.add("torchy", TORCHY_HOOKS, files={"fwtest_torchy_steps.py": TORCHY_STEPS})
    sys.modules.pop("fwtest_torchy_steps", None)
    yield importlib.import_module("fwtest_torchy_steps")
    sys.modules.pop("fwtest_torchy_steps", None)
    torch.use_deterministic_algorithms(False)


def probe(cli, *args: str) -> dict:
    """Run torchy.probe afresh and return what the step saw."""
    result = cli("run", "torchy.probe", "--force", *args)
    assert result.exit_code == 0, result.stderr
    return sys.modules["fwtest_torchy_steps"].SEEN[-1]


def draws(cli, isolated, run_id: str, *args: str) -> str:
    """Run torchy.draw in a fresh run (computed, not reused) and return its output."""
    result = cli("run", "torchy.draw", "--run-id", run_id, "--force", *args)
    assert result.exit_code == 0, result.stderr
    run_dir = isolated / "runs" / run_id
    assert read_manifest(run_dir)["steps"]["torchy.draw"]["status"] == "completed"
    return (run_dir / "draws.json").read_text()


def test_same_seed_gives_the_same_draws(cli, torchy, isolated):
    first = draws(cli, isolated, "a", "--seed", "1")
    torch.rand(5), random.random()  # move the global generators on between the runs
    assert draws(cli, isolated, "b", "--seed", "1") == first


def test_different_seed_gives_different_draws(cli, torchy, isolated):
    one, two = (
        json.loads(draws(cli, isolated, "a", "--seed", "1")),
        json.loads(draws(cli, isolated, "b", "--seed", "2")),
    )
    assert one["torch"] != two["torch"]
    assert one["python"] != two["python"]


def test_seeding_happens_before_the_step_runs(cli, torchy):
    assert probe(cli, "--seed", "1234")["initial_seed"] == 1234


def test_deterministic_turns_on_deterministic_algorithms_inside_the_step(cli, torchy):
    assert probe(cli, "--deterministic")["deterministic"] is True
    assert probe(cli, "--no-deterministic")["deterministic"] is False


def test_precision_reaches_the_step_and_autocast_dtype(cli, torchy):
    seen = probe(cli, "--precision", "bf16")
    assert seen["precision"] == "bf16"
    assert seen["autocast"] is torch.bfloat16
    assert probe(cli)["autocast"] is None


def test_accelerator_cpu_gives_a_cpu_device(cli, torchy):
    assert cli("run", "torchy.device", "--accelerator", "cpu").exit_code == 0
    assert torchy.SEEN == [{"device": "cpu"}]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_accelerator_cuda_gives_the_local_cuda_device(cli, torchy):
    assert cli("run", "torchy.device", "--accelerator", "cuda").exit_code == 0
    assert torchy.SEEN == [{"device": "cuda:0"}]


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_accelerator_auto_without_cuda_falls_back_to_cpu(cli, torchy):
    assert cli("run", "torchy.device").exit_code == 0
    assert torchy.SEEN[-1]["device"] in ("cpu", "mps")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_accelerator_cuda_without_cuda_is_a_config_error(cli, torchy):
    result = cli("run", "torchy.device", "--accelerator", "cuda")
    assert result.exit_code == 2
    assert result.err_lines == [
        "error: step torchy.device: --accelerator cuda was asked for, but torch sees no CUDA device"
        " (use --accelerator cpu or auto)"
    ]
    assert torchy.SEEN == []


def test_device_flag_still_works_with_a_deprecation_warning(cli, torchy):
    result = cli("run", "torchy.device", "--device", "cpu")
    assert result.exit_code == 0, result.stderr
    assert "warning: --device is deprecated; use --accelerator" in result.err_lines
    assert torchy.SEEN == [{"device": "cpu"}]


def test_unknown_accelerator_is_rejected_before_anything_runs(cli, torchy, isolated):
    result = cli("run", "torchy.device", "--accelerator", "tpu")
    assert result.exit_code == 2
    assert len(result.err_lines) == 1
    assert result.err_lines[0].startswith(
        "error: invalid config: $.execution.accelerator: 'tpu' is not one of"
    )
    assert "Traceback" not in result.stderr
    assert not (isolated / "runs").exists()


def test_pure_python_step_does_not_import_torch(pipeline, isolated):
    script = textwrap.dedent(
        """
        import sys
        from framework.cli import main
        code = 0
        try:
            main(["run", "pipe.report", "--run-id", "r", "--seed", "3", "--deterministic", "--quiet"])
        except SystemExit as exc:
            code = exc.code
        print("imported:", code, "torch" in sys.modules, "numpy" in sys.modules)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=isolated, timeout=120
    )
    assert done.stdout.splitlines()[-1] == "imported: 0 False False", done.stdout + done.stderr
    assert read_manifest(isolated / "runs" / "r")["status"] == "completed"


# -- ranks --------------------------------------------------------------------------------


def test_rank_info_reads_torchrun_variables():
    info = RankInfo.from_env({"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "4"})
    assert (info.rank, info.local_rank, info.world_size, info.is_main) == (3, 1, 4, False)


def test_rank_info_defaults_to_a_single_main_process(monkeypatch):
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert RankInfo.from_env() == RankInfo(rank=0, local_rank=0, world_size=1)
    assert RankInfo.from_env().is_main


def test_a_rank_without_its_launcher_is_told_how_to_start(cli, pipeline, isolated, monkeypatch):
    # Only rank 0 writing is checked with two real processes in test_distributed.py.
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    expect_error(
        cli("run", "pipe.prepare", "--run-id", "r"), 2, "MASTER_ADDR", "--nproc-per-node N"
    )


def test_other_ranks_do_not_wait_for_the_lock_rank_zero_holds(cli, pipeline, isolated, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    with RunLock(isolated / "runs" / "r"):  # rank 0 of the same job, mid-run
        result = cli("run", "pipe.prepare", "--run-id", "r")
    assert result.exit_code == 0, result.stderr


def test_other_ranks_do_not_read_the_outputs_rank_zero_writes(cli, pipeline, isolated, monkeypatch):
    # Rank 0 may prune a file (an old checkpoint) between another rank's listing and its
    # hashing of it; that rank's FileNotFoundError once failed a two-rank training run.
    from framework.hashing import HashCache

    run_dir = isolated / "runs" / "r"
    (run_dir / "data").mkdir(parents=True)
    (run_dir / "data" / "numbers.json").write_text("[]")  # rank 0's, about to go

    def vanished(self, path):
        raise FileNotFoundError(path)

    monkeypatch.setattr(HashCache, "digest", vanished)
    monkeypatch.setenv("RANK", "1")
    result = cli("run", "pipe.prepare", "--run-id", "r")
    assert result.exit_code == 0, result.stderr
