"""A third party's architecture, registered through the model hook, trains with lm's steps."""

from __future__ import annotations

import json

import pytest
import torch

from tests.plugins.lm.conftest import losses, run_lm

BIGRAM = '''
import torch
from torch import nn
from torch.nn import functional as F
from framework import hookimpl


class Bigram(nn.Module):
    """Next token from the current one only: a lookup table of logits."""

    def __init__(self, vocab_size, block_size, **ignored):
        super().__init__()
        self.table = nn.Embedding(vocab_size, vocab_size)

    def forward(self, idx, targets=None):
        logits = self.table(idx)
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))


@hookimpl
def register_models(register):
    register("acme.bigram", __name__ + ":Bigram")
'''


@pytest.fixture
def acme(plugin_site, monkeypatch):
    plugin_site.add("acme", BIGRAM)
    monkeypatch.setenv("FRAMEWORK_PLUGINS", "acme,lm")


def test_a_registered_model_trains_and_evaluates_with_the_lm_steps(acme, corpus, tmp_path):
    result = run_lm("lm.evaluate", tmp_path, "acme", "--model", "acme.bigram", "--max-steps",
                    "30", "--learning-rate", "0.1", "--min-lr", "0.01", data=corpus)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    run_dir = tmp_path / "acme"
    state = torch.load(run_dir / "checkpoints/last.pt", weights_only=True)
    assert state["model_name"] == "acme.bigram"
    assert list(state["model"]) == ["table.weight"]
    by_step = losses(run_dir)
    assert by_step[30] < by_step[1] - 0.5
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["val_loss"] < by_step[1]
