"""The Trainer used directly, as a library: accumulation, checkpoints, another architecture."""

from __future__ import annotations

import attrs
import pytest
import torch
from framework_lm.config import TrainConfig
from framework_lm.trainer import TokenData, Trainer

from tests.plugins.lm.conftest import corpus_text


def tiny_config(**overrides) -> TrainConfig:
    base = {"n_layer": 1, "n_head": 2, "n_embd": 16, "block_size": 8, "batch_size": 8,
            "dropout": 0.0, "max_steps": 4, "warmup_steps": 0, "eval_batches": 1,
            "sampling_cadence": 0, "checkpoint_cadence": 1000, "log_cadence": 1}  # fmt: skip
    return attrs.evolve(TrainConfig(), **{**base, **overrides})


def token_data() -> TokenData:
    text = corpus_text()[:5000]
    chars = sorted(set(text))
    ids = torch.tensor([chars.index(c) for c in text])
    return TokenData(train=ids[:4500], val=ids[4500:], vocab_size=len(chars), tokenizer_hash="t")


def test_gradient_accumulation_matches_one_large_batch():
    data = token_data()
    torch.manual_seed(0)
    whole = Trainer(tiny_config(), data, seed=3)
    torch.manual_seed(0)
    halves = Trainer(tiny_config(batch_size=4, grad_accum_steps=2), data, seed=3)
    loss_whole = whole.training_step(whole.sampler.next())
    loss_halves = halves.training_step(halves.sampler.next())
    assert torch.allclose(loss_whole, loss_halves, atol=1e-6)
    for a, b in zip(whole.model.parameters(), halves.model.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)


def test_save_checkpoint_and_from_checkpoint_continue_the_same_run(tmp_path):
    data = token_data()
    config = tiny_config(max_steps=6)
    torch.manual_seed(0)
    straight = Trainer(config, data, seed=1, checkpoint_sink=lambda n, s: tmp_path / n)
    straight.fit()
    torch.manual_seed(0)
    first = Trainer(config, data, seed=1, checkpoint_sink=lambda n, s: tmp_path / n)
    first.fit(max_steps=3)
    first.save_checkpoint(tmp_path / "mid.pt")
    torch.manual_seed(99)  # whatever happens in between
    second = Trainer.from_checkpoint(tmp_path / "mid.pt", config, data, seed=1)
    second.checkpoint_sink = lambda n, s: tmp_path / n
    second.fit()
    assert second.step == 6
    assert second.history == straight.history


class NaNLoss(torch.nn.Module):
    """A model whose loss is NaN: what a far too high learning rate ends in."""

    def __init__(self, vocab_size: int, **ignored) -> None:
        super().__init__()
        self.table = torch.nn.Embedding(vocab_size, vocab_size)

    def forward(self, idx, targets=None):
        logits = self.table(idx)
        return logits, logits.sum() * float("nan")


def test_a_diverged_loss_stops_training_with_a_clear_error():
    from framework_lm.trainer import DivergedError

    trainer = Trainer(tiny_config(), token_data(), model_factory=lambda name, **kw: NaNLoss(**kw))
    with pytest.raises(DivergedError, match="loss is nan at step 1"):
        trainer.fit()
