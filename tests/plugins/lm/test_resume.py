"""Resume: a run continued from a checkpoint at step k matches the uninterrupted run exactly."""

from __future__ import annotations

import json

import torch

from tests.plugins.lm.conftest import CADENCES, STEPS, events, losses, run_lm


def test_resume_from_a_mid_run_checkpoint_is_bit_identical(trained, corpus, tmp_path):
    checkpoint = trained / "checkpoints/step_000030.pt"
    result = run_lm("lm.train", tmp_path, "resumed", "--max-steps", str(STEPS), *CADENCES,
                    "--resume", str(checkpoint), data=corpus)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    mine, reference = losses(tmp_path / "resumed"), losses(trained)
    assert sorted(mine) == list(range(31, STEPS + 1))
    assert mine == {s: reference[s] for s in mine}
    ours = torch.load(tmp_path / "resumed/checkpoints/last.pt", weights_only=True)
    theirs = torch.load(trained / "checkpoints/last.pt", weights_only=True)
    assert ours["history"] == theirs["history"]
    assert ours["best_val_loss"] == theirs["best_val_loss"]
    for name, tensor in theirs["model"].items():
        assert torch.equal(ours["model"][name], tensor), name
    manifest = json.loads((tmp_path / "resumed/manifest.json").read_text())
    assert manifest["config"]["lm.train"]["resume"] == str(checkpoint)


def test_resume_takes_a_run_directory(trained, corpus, tmp_path):
    result = run_lm("lm.train", tmp_path, "more", "--max-steps", str(STEPS + 2), *CADENCES,
                    "--resume", str(trained), data=corpus)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert sorted(losses(tmp_path / "more")) == [STEPS + 1, STEPS + 2]
    (resumed,) = events(tmp_path / "more", "resumed")
    assert resumed["fields"]["step"] == STEPS


def test_resume_by_run_id_finds_last_checkpoint_under_the_artifact_root(trained, corpus):
    root = trained.parent
    result = run_lm("lm.train", root, "by-id", "--max-steps", str(STEPS + 1), *CADENCES,
                    "--resume", "e2e", data=corpus)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    (resumed,) = events(root / "by-id", "resumed")
    assert resumed["fields"]["checkpoint"] == str(root / "e2e/checkpoints/last.pt")
    assert sorted(losses(root / "by-id")) == [STEPS + 1]


def test_evaluation_cadence_does_not_change_the_training_trajectory(trained, corpus, tmp_path):
    # Same schedule (max steps), other eval and sampling cadences: the same losses.
    result = run_lm("lm.train", tmp_path, "evals", "--max-steps", str(STEPS), "--eval-cadence",
                    "1", "--sampling-cadence", "7", data=corpus)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert losses(tmp_path / "evals") == losses(trained)
    evaluations = [e for e in events(tmp_path / "evals", "metrics") if "val_loss" in e["fields"]]
    assert len(evaluations) == STEPS
