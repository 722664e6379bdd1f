"""lm.train in two processes on CPU (gloo): DDP with sharded data, one writer.

Each rank takes its own slice of one global batch drawn from the shared generator, so a
2-process run with --batch-size 8 averages exactly the gradients that a 1-process run
with --batch-size 16 computes in one go: their losses must agree to rounding. Without
gradient averaging the ranks' parameters would drift apart, and so would the losses.
"""

from __future__ import annotations

import json

import pytest

from tests.plugins.lm.conftest import events, losses, run_lm

SMALL = ["--max-steps", "25", "--dropout", "0", "--eval-cadence", "25", "--sampling-cadence", "0",
         "--checkpoint-cadence", "10"]  # fmt: skip


@pytest.fixture(scope="module")
def runs(tmp_path_factory, corpus):
    root = tmp_path_factory.mktemp("ddp")
    two = run_lm("lm.train", root, "two", *SMALL, "--nproc-per-node", "2", data=corpus)
    assert two.exit_code == 0, two.stderr
    one = run_lm("lm.train", root, "one", *SMALL, "--batch-size", "16", data=corpus)
    assert one.exit_code == 0, one.stderr
    return root


def test_the_ranks_trained_on_different_data_and_ended_with_the_same_weights(runs):
    (event,) = events(runs / "two", "ranks")
    ranks = event["fields"]["ranks"]
    assert [r["rank"] for r in ranks] == [0, 1]
    assert ranks[0]["data_digest"] != ranks[1]["data_digest"]
    assert ranks[0]["param_digest"] == ranks[1]["param_digest"]


def test_two_ranks_of_8_match_one_process_of_16(runs):
    two, one = losses(runs / "two"), losses(runs / "one")
    assert sorted(two) == sorted(one) == list(range(1, 26))
    assert max(abs(two[s] - one[s]) for s in one) < 1e-4
    assert two[25] < two[1]  # and it learns


def test_the_ranks_share_the_evaluation_and_average_it(runs):
    """The val loss the two ranks computed together (each on its share of the batches)
    equals one process evaluating every batch with the same weights."""
    from framework import torch_load
    from framework_lm.config import TrainConfig
    from framework_lm.data import read_tokens
    from framework_lm.trainer import TokenData, Trainer

    run_dir = runs / "two"
    checkpoint = run_dir / "checkpoints" / "last.pt"
    config = TrainConfig(**torch_load(checkpoint)["config"])
    meta = json.loads((run_dir / "data" / "meta.json").read_text())
    data = TokenData(
        train=read_tokens(run_dir / "data" / "train.bin", meta["dtype"]),
        val=read_tokens(run_dir / "data" / "val.bin", meta["dtype"]),
        vocab_size=meta["vocab_size"],
        tokenizer_hash=meta["tokenizer_hash"],
    )
    alone = Trainer.from_checkpoint(checkpoint, config, data).evaluate()
    logged = [
        e["fields"]["val_loss"] for e in events(run_dir, "metrics") if "val_loss" in e["fields"]
    ]
    assert config.eval_batches == 2 and abs(logged[-1] - alone) < 1e-5


def test_one_manifest_one_event_log_and_rank_0_checkpoints(runs):
    run_dir = runs / "two"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    assert manifest["distributed"]["world_size"] == 2
    assert manifest["steps"]["lm.train"]["status"] == "completed"
    assert [e["event"] for e in events(run_dir)].count("run_started") == 1
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == [
        "last.pt",
        "step_000010.pt",
        "step_000020.pt",
    ]
    assert not list(run_dir.glob("**/*.tmp*"))


def test_two_ranks_resume_exactly_from_rank_0s_checkpoint(runs, corpus):
    checkpoint = runs / "two" / "checkpoints" / "step_000010.pt"
    resumed = run_lm(
        "lm.train", runs, "resumed", *SMALL, "--nproc-per-node", "2",
        "--resume", str(checkpoint), data=corpus,
    )  # fmt: skip
    assert resumed.exit_code == 0, resumed.stderr
    straight, after = losses(runs / "two"), losses(runs / "resumed")
    assert sorted(after) == list(range(11, 26))
    assert all(after[s] == straight[s] for s in after)
