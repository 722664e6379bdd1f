"""Tokenizers saved with the run: character-level (default) or byte-level BPE.

Both save to one JSON file whose sha256 identifies the vocabulary, so a checkpoint can
refuse to continue on data tokenized another way.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from framework import ArtifactError, UsageError


class CharTokenizer:
    """One token per distinct character of the training corpus, in sorted order."""

    kind = "char"

    def __init__(self, chars: str) -> None:
        self.chars = chars
        self._ids = {c: i for i, c in enumerate(chars)}

    @classmethod
    def train(cls, text: str) -> CharTokenizer:
        return cls("".join(sorted(set(text))))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        unknown = set(text) - self._ids.keys()
        if unknown:
            shown = ", ".join(repr(c) for c in sorted(unknown)[:5])
            raise UsageError(
                f"characters not in the tokenizer's vocabulary: {shown}",
                hint="use only characters that occur in the training corpus",
            )
        return [self._ids[c] for c in text]

    def decode(self, ids: list[int]) -> str:
        return "".join(self.chars[i] for i in ids)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "chars": self.chars}


class BPETokenizer:
    """Byte-level BPE (any text round-trips), trained offline with the `tokenizers` library."""

    kind = "bpe"

    def __init__(self, tokenizer: Any) -> None:
        self._tok = tokenizer

    @classmethod
    def train(cls, text: str, vocab_size: int) -> BPETokenizer:
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        tok.train_from_iterator(text.splitlines(keepends=True), trainer)
        return cls(tok)

    @classmethod
    def from_json(cls, text: str) -> BPETokenizer:
        from tokenizers import Tokenizer

        return cls(Tokenizer.from_str(text))

    @property
    def vocab_size(self) -> int:
        return self._tok.get_vocab_size()

    def encode(self, text: str) -> list[int]:
        return self._tok.encode(text).ids

    def decode(self, ids: list[int]) -> str:
        return self._tok.decode(ids)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "tokenizer": json.loads(self._tok.to_str())}


Tokenizer = CharTokenizer | BPETokenizer


def train_tokenizer(text: str, kind: str, vocab_size: int) -> Tokenizer:
    if kind == "char":
        return CharTokenizer.train(text)
    return BPETokenizer.train(text, vocab_size)


def tokenizer_json(tokenizer: Tokenizer) -> str:
    """The saved form: canonical JSON, so equal vocabularies hash equal."""
    return json.dumps(tokenizer.to_dict(), sort_keys=True, ensure_ascii=False) + "\n"


def tokenizer_hash(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_tokenizer(path: Path) -> tuple[Tokenizer, str]:
    """The tokenizer saved at `path` and its hash."""
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
        if data["kind"] == "char":
            return CharTokenizer(data["chars"]), tokenizer_hash(text)
        if data["kind"] == "bpe":
            return BPETokenizer.from_json(json.dumps(data["tokenizer"])), tokenizer_hash(text)
        raise ValueError(f"unknown kind {data['kind']!r}")
    except Exception as exc:  # bad JSON, missing keys, or the BPE parser's own error
        raise ArtifactError(f"tokenizer {path} is unreadable: {exc}") from None
