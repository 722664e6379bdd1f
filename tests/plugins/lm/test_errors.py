"""Bad input ends in one clear line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import expect_error
from tests.plugins.lm.conftest import CADENCES, STEPS, run_lm, write_corpus


def test_missing_data_file_is_named(tmp_path):
    result = run_lm("lm.train", tmp_path, "r", data=tmp_path / "nope.txt")
    expect_error(result, 2, "nope.txt", "does not exist", "--data")


def test_empty_corpus_is_refused(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    expect_error(run_lm("lm.train", tmp_path, "r", data=empty), 2, "empty.txt", "is empty")


def test_corpus_shorter_than_a_block_is_refused(tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("to be or not to be, that is the question\n")
    result = run_lm("lm.train", tmp_path, "r", data=short)
    expect_error(result, 2, "short.txt", "too short", "val split", "block of 16")


def test_non_utf8_corpus_is_refused(tmp_path):
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("café ".encode("latin-1") * 100)
    expect_error(run_lm("lm.train", tmp_path, "r", data=latin), 2, "latin1.txt", "UTF-8")


@pytest.mark.parametrize(
    ("flag", "value", "needle"),
    [
        ("--val-fraction", "0.9", "$.lm.prepare.val_fraction"),
        ("--tokenizer", "words", "$.lm.prepare.tokenizer"),
        ("--n-layer", "0", "$.lm.train.n_layer"),
        ("--max-steps", "ten", "--max-steps"),
    ],
)
def test_invalid_config_is_refused_before_anything_runs(tmp_path, corpus, flag, value, needle):
    result = run_lm("lm.train", tmp_path, "r", flag, value, data=corpus)
    expect_error(result, 2, needle)
    assert not (tmp_path / "r").exists()


def test_embedding_width_must_divide_into_heads(tmp_path, corpus):
    result = run_lm("lm.train", tmp_path, "r", "--n-embd", "30", "--n-head", "4", data=corpus)
    expect_error(result, 2, "n_embd 30", "n_head 4")


def test_unknown_model_is_named(tmp_path, corpus):
    result = run_lm("lm.train", tmp_path, "r", "--model", "lm.rnn", data=corpus)
    expect_error(result, 2, "unknown model 'lm.rnn'")


def resume(tmp_path, corpus, checkpoint, *extra):
    return run_lm("lm.train", tmp_path, "r", "--max-steps", str(STEPS + 1), *CADENCES,
                  "--resume", str(checkpoint), *extra, data=corpus)  # fmt: skip


def test_missing_checkpoint_is_named(tmp_path, corpus):
    result = resume(tmp_path, corpus, tmp_path / "gone.pt")
    expect_error(result, 1, "gone.pt", "does not exist")


def test_unknown_run_id_to_resume_names_the_path_it_tried(tmp_path, corpus):
    result = resume(tmp_path, corpus, "no-such-run")
    expect_error(result, 1, "no-such-run/checkpoints/last.pt", "does not exist")


def test_truncated_checkpoint_is_refused(trained, tmp_path, corpus):
    broken = tmp_path / "broken.pt"
    data = (trained / "checkpoints/last.pt").read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    expect_error(resume(tmp_path, corpus, broken), 1, "broken.pt", "unreadable", "truncated")


def test_checkpoint_of_another_shape_names_the_field(trained, tmp_path, corpus):
    result = resume(tmp_path, corpus, trained / "checkpoints/last.pt", "--n-embd", "64")
    expect_error(result, 1, "another model shape", "n_embd 32 in the checkpoint, 64 in the config")


def test_checkpoint_of_another_tokenizer_is_refused(trained, tmp_path):
    other = write_corpus(tmp_path / "other.txt", chars=60_000)  # more text: another alphabet
    shutil.copy(trained / "checkpoints/last.pt", tmp_path / "last.pt")
    result = resume(tmp_path, other, tmp_path / "last.pt")
    expect_error(result, 1, "last.pt", "another tokenizer")


def test_prompt_with_characters_outside_the_vocabulary_is_refused(trained, tmp_path, corpus):
    shutil.copytree(trained, tmp_path / "copy")
    result = run_lm("lm.sample", tmp_path, "copy", "--max-steps", str(STEPS), *CADENCES,
                    "--prompt", "€uro", data=corpus)  # fmt: skip
    expect_error(result, 2, "lm.sample", "not in the tokenizer's vocabulary", "'€'")
