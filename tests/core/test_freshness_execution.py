"""A step's freshness includes how it ran: world size, nodes, precision, determinism and
the kind of accelerator; settings that cannot change its numbers do not count."""

from __future__ import annotations

from pathlib import Path

import framework.runner
import pytest
from framework.execution import ExecutionSettings, RankInfo, accelerator_kind

from tests.conftest import read_manifest

RUN = Path("runs") / "r1"


@pytest.fixture
def world(monkeypatch):
    """Set the world this process believes it is part of, as torch's launcher would
    (rank 0 of `size` processes on `nodes` nodes), without starting any other process."""

    def set_world(size: int, nodes: int = 1) -> None:
        info = RankInfo(0, 0, size, size // nodes)
        monkeypatch.setattr(
            framework.runner.RankInfo, "from_env", classmethod(lambda cls, env=None: info)
        )
        monkeypatch.setattr(framework.runner.distributed, "init", lambda settings, rank: None)

    set_world(1)
    return set_world


def run(cli, *args: str, run_id: str = "r1") -> dict:
    result = cli("run", "pipe.train", "--run-id", run_id, "--quiet", *args)
    assert result.exit_code == 0, result.stderr
    return read_manifest(Path("runs") / run_id)["steps"]


def test_a_larger_world_reruns_and_says_what_moved(cli, pipeline, world):
    run(cli)
    world(2)
    steps = run(cli)
    assert steps["pipe.train"]["status"] == "completed"
    assert "world_size 1 -> 2" in steps["pipe.train"]["reason"]
    assert steps["pipe.train"]["execution"]["world_size"] == 2


def test_a_smaller_world_reruns_too(cli, pipeline, world):
    world(2)
    run(cli)
    world(1)
    steps = run(cli)
    assert steps["pipe.train"]["status"] == "completed"
    assert "world_size 2 -> 1" in steps["pipe.train"]["reason"]


def test_a_new_run_in_another_world_does_not_reuse_stored_outputs(cli, pipeline, world):
    run(cli, run_id="one")
    world(2)
    steps = run(cli, run_id="two")
    assert {s["status"] for s in steps.values()} == {"completed"}


def test_more_nodes_with_the_same_world_size_reruns(cli, pipeline, world):
    world(4, nodes=1)
    run(cli)
    world(4, nodes=2)
    steps = run(cli)
    assert "nodes 1 -> 2" in steps["pipe.train"]["reason"]


@pytest.mark.parametrize(
    ("flag", "moved"),
    [(["--precision", "bf16"], "precision 32 -> bf16"), (["--deterministic"], "deterministic False -> True"),
     (["--accelerator", "mps"], "accelerator")],
)  # fmt: skip
def test_settings_that_change_numbers_rerun(cli, pipeline, flag, moved):
    run(cli)
    steps = run(cli, *flag)
    assert steps["pipe.train"]["status"] == "completed"
    assert moved in steps["pipe.train"]["reason"]


def test_settings_that_cannot_change_numbers_keep_the_step_up_to_date(cli, pipeline):
    run(cli)
    steps = run(cli, "--dist-timeout-s", "5", "--num-workers", "2")
    assert {s["status"] for s in steps.values()} == {"skipped"}


def test_accelerator_kind_resolves_auto_without_torch_and_keeps_explicit_kinds():
    assert accelerator_kind("cuda") == "cuda"
    assert accelerator_kind("auto") in ("cpu", "cuda", "mps")
    values = ExecutionSettings().fingerprint_values(RankInfo())
    assert values["world_size"] == 1 and values["nodes"] == 1
    assert "quiet" not in values and "dist_timeout_s" not in values
