"""Each building block on its own: tokenizers, split, windows, sampler, model, optimizer."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch
from framework import ArtifactError, UsageError
from framework_lm import corpus as corpus_module
from framework_lm.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from framework_lm.data import RandomWindowSampler, WindowDataset, split_corpus
from framework_lm.evaluation import validation_loss
from framework_lm.model import Transformer
from framework_lm.optim import create_optimizer, lr_at
from framework_lm.tokenizer import (
    BPETokenizer,
    CharTokenizer,
    load_tokenizer,
    tokenizer_json,
    train_tokenizer,
)

TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n" * 20


def tiny_model(**kw) -> Transformer:
    torch.manual_seed(0)
    args = {"vocab_size": 11, "block_size": 8, "n_layer": 2, "n_head": 2, "n_embd": 16}
    return Transformer(**{**args, **kw})


def test_char_tokenizer_round_trips():
    tok = CharTokenizer.train(TEXT)
    assert tok.decode(tok.encode(TEXT)) == TEXT
    assert tok.vocab_size == len(set(TEXT))


def test_char_tokenizer_names_characters_it_does_not_know():
    with pytest.raises(UsageError, match="'Z'"):
        CharTokenizer.train("abc").encode("aZ")


def test_bpe_tokenizer_round_trips_text_it_never_saw():
    tok = BPETokenizer.train(TEXT, vocab_size=300)
    unseen = "Ünïcödé — 日本語 and emoji 🎭, tabs\tand\r\nnewlines"
    assert tok.decode(tok.encode(unseen)) == unseen
    assert tok.decode(tok.encode(TEXT)) == TEXT
    assert len(tok.encode(TEXT)) < len(TEXT)  # merges compress the text it learnt from


def test_bpe_training_is_deterministic_and_saves_losslessly(tmp_path):
    first, second = (tokenizer_json(train_tokenizer(TEXT, "bpe", 300)) for _ in range(2))
    assert first == second
    (tmp_path / "tok.json").write_text(first)
    loaded, digest = load_tokenizer(tmp_path / "tok.json")
    assert loaded.encode(TEXT) == BPETokenizer.train(TEXT, 300).encode(TEXT)
    assert digest.startswith("sha256:")


def test_broken_tokenizer_file_is_an_artifact_error(tmp_path):
    (tmp_path / "tok.json").write_text('{"kind": "words"}')
    with pytest.raises(ArtifactError, match=r"tok\.json"):
        load_tokenizer(tmp_path / "tok.json")


def test_split_corpus_is_contiguous_95_5():
    tokens = np.arange(1000)
    train, val = split_corpus(tokens, 0.05)
    assert len(train) == 950 and len(val) == 50
    assert np.array_equal(np.concatenate([train, val]), tokens)


def test_window_targets_are_the_next_tokens():
    data = WindowDataset(torch.arange(20), block_size=4)
    x, y = data[3]
    assert x.tolist() == [3, 4, 5, 6] and y.tolist() == [4, 5, 6, 7]
    assert len(data) == 16
    bx, by = data.batch(torch.tensor([0, 15]))
    assert bx.tolist() == [[0, 1, 2, 3], [15, 16, 17, 18]]
    assert by.tolist() == [[1, 2, 3, 4], [16, 17, 18, 19]]


def test_window_dataset_refuses_a_stream_shorter_than_a_block():
    with pytest.raises(ValueError, match="one block"):
        WindowDataset(torch.arange(4), block_size=4)


def test_sampler_is_seeded_and_its_state_restores():
    data = WindowDataset(torch.arange(100), block_size=4)
    a, b = RandomWindowSampler(data, 3, seed=7), RandomWindowSampler(data, 3, seed=7)
    assert torch.equal(a.next()[0], b.next()[0])
    saved = a.state_dict()
    expected = a.next()[0]
    torch.manual_seed(123)  # the global RNG plays no part
    b.load_state_dict(saved)
    assert torch.equal(b.next()[0], expected)


def test_transformer_is_causal():
    model = tiny_model().eval()
    idx = torch.randint(11, (1, 8))
    changed = idx.clone()
    changed[0, 5:] = (changed[0, 5:] + 1) % 11
    before, _ = model(idx)
    after, _ = model(changed)
    assert torch.allclose(before[0, :5], after[0, :5], atol=1e-6)
    assert not torch.allclose(before[0, 5:], after[0, 5:])


def test_transformer_ties_input_and_output_embeddings():
    model = tiny_model()
    assert model.head.weight is model.tok_emb.weight


def test_transformer_loss_is_cross_entropy_of_its_logits():
    model = tiny_model().eval()
    idx, targets = torch.randint(11, (2, 8)), torch.randint(11, (2, 8))
    logits, loss = model(idx, targets)
    picked = torch.log_softmax(logits, -1).gather(-1, targets[..., None])
    assert loss.item() == pytest.approx(-picked.mean().item(), rel=1e-5)


def test_optimizer_decays_weight_matrices_only():
    model = tiny_model()
    opt = create_optimizer(
        model, learning_rate=1e-3, weight_decay=0.1, betas=(0.9, 0.99), device_type="cpu"
    )
    decay = {id(p) for g in opt.param_groups if g["weight_decay"] > 0 for p in g["params"]}
    for name, p in model.named_parameters():
        assert (id(p) in decay) == (p.dim() == 2), name
    assert any("ln" in n for n, p in model.named_parameters() if id(p) not in decay)


def test_learning_rate_warms_up_linearly_then_follows_a_cosine_to_the_floor():
    kw = {"peak": 1.0, "floor": 0.1, "warmup": 10, "total": 110}
    assert [lr_at(s, **kw) for s in (0, 4, 9)] == pytest.approx([0.1, 0.5, 1.0])
    assert lr_at(60, **kw) == pytest.approx(0.55)  # half-way through the cosine
    assert lr_at(110, **kw) == pytest.approx(0.1)
    assert lr_at(500, **kw) == 0.1


def test_rng_states_survive_a_weights_only_checkpoint(tmp_path):
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    save_checkpoint({"model": {}, "rng": rng_state()}, tmp_path / "c.pt")
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    set_rng_state(load_checkpoint(tmp_path / "c.pt")["rng"])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


def test_checkpoint_loading_strips_torch_compile_prefixes(tmp_path):
    weights = {"_orig_mod.head.weight": torch.ones(2)}
    save_checkpoint({"model": weights}, tmp_path / "c.pt")
    assert list(load_checkpoint(tmp_path / "c.pt")["model"]) == ["head.weight"]


def test_validation_loss_matches_a_direct_computation():
    model = tiny_model(block_size=4).eval()
    tokens = torch.randint(11, (23,))
    loss, windows = validation_loss(model, tokens, 4, batch_size=2)
    assert windows == 5  # (23 - 1) // 4
    nll = []
    for w in range(5):
        x = tokens[4 * w : 4 * w + 4]
        y = tokens[4 * w + 1 : 4 * w + 5]
        logits, _ = model(x[None])
        nll += (-torch.log_softmax(logits[0], -1)[torch.arange(4), y]).tolist()
    assert loss == pytest.approx(sum(nll) / len(nll), rel=1e-5)


def test_default_corpus_is_the_king_james_bible():
    text, origin = corpus_module.load_corpus(None)
    assert origin.endswith("Bible.db")
    assert text.startswith("The First Book of Moses, called Genesis\n\n1:1 In the beginning God")
    assert len(text) > 4_000_000


def test_default_corpus_with_another_hash_is_refused(monkeypatch):
    monkeypatch.setattr(corpus_module, "KJV_SHA256", "0" * 64)
    with pytest.raises(ArtifactError, match=r"expected 0000"):
        corpus_module.load_corpus(None)


def test_perplexity_of_a_uniform_model_is_the_vocabulary_size():
    model = tiny_model().eval()
    for p in model.parameters():
        torch.nn.init.zeros_(p)
    loss, _ = validation_loss(model, torch.randint(11, (50,)), 8)
    assert math.exp(loss) == pytest.approx(11, rel=1e-6)
