"""Token streams: the contiguous train/val split, block windows, and seeded batch sampling."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch
from framework import ArtifactError


def split_corpus(tokens: np.ndarray, val_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Contiguous split: the first (1 - val_fraction) for training, the end for validation.

    Contiguous, not shuffled: windows that straddle a shuffled boundary would leak
    validation text into training.
    """
    n_val = max(1, round(len(tokens) * val_fraction))
    cut = len(tokens) - n_val
    return tokens[:cut], tokens[cut:]


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16) if vocab_size <= 2**16 else np.dtype(np.uint32)


def read_tokens(path: Path, dtype: str) -> torch.Tensor:
    """A token file written by lm.prepare, as int64 (what embeddings and the loss want)."""
    size = path.stat().st_size
    if size % np.dtype(dtype).itemsize:
        raise ArtifactError(f"token file {path} is truncated ({size} bytes is not whole {dtype})")
    return torch.from_numpy(np.fromfile(path, dtype=dtype).astype(np.int64))


class WindowDataset:
    """Every block_size window of a token stream, with its next-token targets."""

    def __init__(self, tokens: torch.Tensor, block_size: int) -> None:
        if len(tokens) < block_size + 1:
            raise ValueError(f"{len(tokens)} tokens cannot fill one block of {block_size} + 1")
        self.tokens = tokens
        self.block_size = block_size
        self._offsets = torch.arange(block_size, device=tokens.device)

    def __len__(self) -> int:
        return len(self.tokens) - self.block_size

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        window = self.tokens[i : i + self.block_size + 1]
        return window[:-1], window[1:]

    def batch(self, starts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The windows starting at `starts`, gathered in one indexing op (on the data's device)."""
        idx = starts.to(self.tokens.device, non_blocking=True)[:, None] + self._offsets
        return self.tokens[idx], self.tokens[idx + 1]


class RandomWindowSampler:
    """Batches of windows at random starts, drawn from its own generator.

    The generator lives on the CPU whatever the device, so a seed gives the same
    batches on every machine, and its state is one tensor a checkpoint can hold.

    With several processes (`rank` of `world_size`), every rank draws the same global
    batch of ``batch_size * world_size`` starts and keeps its own slice: the ranks see
    different windows, the generator's state is the same on all of them (so rank 0's
    checkpoint resumes every rank exactly), and one process draws exactly what it
    always did. `digest` hashes every start this rank trained on.
    """

    def __init__(
        self,
        dataset: WindowDataset,
        batch_size: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.dataset = dataset
        self.batch_size = batch_size
        self.rank = rank
        self.world_size = world_size
        self.generator = torch.Generator().manual_seed(seed)
        self._digest = hashlib.sha256()

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        starts = torch.randint(
            len(self.dataset), (self.world_size * self.batch_size,), generator=self.generator
        )
        mine = starts.view(self.world_size, self.batch_size)[self.rank]
        self._digest.update(mine.numpy().tobytes())
        return self.dataset.batch(mine)

    def digest(self) -> str:
        return self._digest.hexdigest()

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])


@attrs.define
class TokenData:
    """What training reads: token streams (any device), the vocabulary and its identity."""

    train: torch.Tensor
    val: torch.Tensor
    vocab_size: int
    tokenizer_hash: str
    decode: Callable[[list[int]], str] = attrs.field(default=lambda ids: " ".join(map(str, ids)))
