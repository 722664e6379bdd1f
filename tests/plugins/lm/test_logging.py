"""events.jsonl holds every number a user needs to follow and audit a training run."""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys

import pytest

from tests.plugins.lm.conftest import STEPS, events


def test_every_event_is_json_with_timestamp_run_id_and_step(trained):
    lines = (trained / "events.jsonl").read_text().splitlines()
    assert lines
    for line in lines:
        record = json.loads(line)
        assert set(record) == {"ts", "run_id", "step", "event", "fields"}
        assert record["run_id"] == "e2e"
        assert record["ts"].endswith("Z")


def test_each_training_step_logs_loss_lr_and_tokens_per_second(trained):
    per_step = [
        e["fields"] for e in events(trained, "metrics")
        if e["step"] == "lm.train" and "loss" in e["fields"]
    ]  # fmt: skip
    assert [f["step"] for f in per_step] == list(range(1, STEPS + 1))
    for fields in per_step:
        assert fields["loss"] > 0
        assert fields["tokens_per_s"] > 0
    lrs = [f["lr"] for f in per_step]
    # Warm-up over 5 steps to 0.01, then a cosine that ends near --min-lr 0.001.
    assert lrs[:5] == pytest.approx([0.002, 0.004, 0.006, 0.008, 0.01])
    assert all(a >= b - 1e-12 for a, b in itertools.pairwise(lrs[4:]))
    middle = 0.001 + 0.5 * (1 + math.cos(math.pi * 25 / 55)) * 0.009  # step 31: 25 of 55 done
    assert lrs[30] == pytest.approx(middle)
    assert 0.001 < lrs[-1] < 0.00101


def test_each_evaluation_logs_val_loss_at_its_cadence(trained):
    evals = [e["fields"] for e in events(trained, "metrics") if "val_loss" in e["fields"]]
    train_evals = [f for f in evals if "best_val_loss" in f and "perplexity" not in f]
    assert [f["step"] for f in train_evals] == [20, 40, 60]
    assert train_evals[-1]["best_val_loss"] == min(f["val_loss"] for f in train_evals)


def test_each_sampling_logs_the_text_at_its_cadence(trained):
    samples = [e["fields"] for e in events(trained, "sample_text") if e["step"] == "lm.train"]
    assert [f["step"] for f in samples] == [30, 60]
    assert all(len(f["text"]) == 17 for f in samples)  # prompt token + 16 sampled


def test_run_start_names_run_config_commit_and_hooks(trained):
    started = events(trained, "run_started")[0]["fields"]
    assert started["run_id"] == "e2e"
    assert started["config_hash"].startswith("sha256:")
    assert "git_commit" in started
    assert started["hooks"]
    assert started["config"]["values"]["lm.train"]["n_embd"] == 32
    (train_started,) = events(trained, "train_started")
    fields = train_started["fields"]
    assert fields["config"]["max_steps"] == STEPS
    assert fields["parameters"] > 0
    assert fields["device"] == "cpu"


def test_checkpoints_are_logged_with_their_step(trained):
    saved = [e["fields"]["step"] for e in events(trained, "checkpoint_saved")]
    assert saved == [30, 60]


def test_listing_steps_imports_neither_torch_nor_numpy():
    probe = (
        "import sys, json; from framework.cli import main\n"
        "try:\n    main(['list-steps'])\nexcept SystemExit:\n    pass\n"
        "print('PROBE', json.dumps([m for m in ('torch', 'numpy', 'framework_lm.steps',"
        " 'framework_lm.config') if m in sys.modules]))"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert "lm.train" in proc.stdout, proc.stderr
    assert proc.stdout.rsplit("PROBE ", 1)[1].strip() == "[]"
