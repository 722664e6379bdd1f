"""Step callables: each receives a framework.StepContext and writes through it."""

from __future__ import annotations

import hashlib
import shlex
import sys
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch
from framework import ArtifactError, StepContext, autocast_dtype

from framework_lm.checkpoint import load_checkpoint, write_checkpoint
from framework_lm.config import EvaluateConfig, PrepareConfig, SampleConfig, TrainConfig
from framework_lm.corpus import load_corpus
from framework_lm.data import read_tokens, split_corpus, token_dtype
from framework_lm.evaluation import validation_loss
from framework_lm.plot import plot_losses
from framework_lm.sampling import generate
from framework_lm.tokenizer import (
    CharTokenizer,
    load_tokenizer,
    tokenizer_hash,
    tokenizer_json,
    train_tokenizer,
)
from framework_lm.trainer import TokenData, Trainer, TrainingInterrupted

LAST = "checkpoints/last.pt"


# -- lm.prepare -------------------------------------------------------------------------


def prepare(ctx: StepContext[PrepareConfig]) -> None:
    cfg = ctx.config
    text, origin = load_corpus(cfg.data)
    if not text.strip():
        ctx.fail(f"corpus {origin} is empty")
    train_text, val_text = split_corpus(text, cfg.val_fraction)
    # A char vocabulary covers the whole corpus (else a val character could not be encoded);
    # BPE merges are learnt from the training text only.
    tokenizer = (
        CharTokenizer.train(text)
        if cfg.tokenizer == "char"
        else train_tokenizer(train_text, cfg.tokenizer, cfg.vocab_size)
    )
    dtype = token_dtype(tokenizer.vocab_size)
    splits = {
        "train": np.asarray(tokenizer.encode(train_text), dtype=dtype),
        "val": np.asarray(tokenizer.encode(val_text), dtype=dtype),
    }
    for name, ids in splits.items():
        if len(ids) < cfg.block_size + 1:
            ctx.fail(
                f"corpus {origin} is too short: its {name} split has {len(ids)} tokens, "
                f"fewer than one block of {cfg.block_size} + 1 (use a longer corpus, "
                "a larger --val-fraction or a smaller --block-size)"
            )
    saved = tokenizer_json(tokenizer)
    for name, ids in splits.items():
        with ctx.output(f"data/{name}.bin") as tmp:
            ids.tofile(tmp)
    ctx.write_text("data/tokenizer.json", saved)
    meta = {
        "source": origin,
        "source_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "characters": len(text),
        "tokenizer": cfg.tokenizer,
        "tokenizer_hash": tokenizer_hash(saved),
        "vocab_size": tokenizer.vocab_size,
        "dtype": dtype.name,
        "train_tokens": len(splits["train"]),
        "val_tokens": len(splits["val"]),
    }
    ctx.write_json("data/meta.json", meta)
    ctx.log_metrics(
        vocab_size=meta["vocab_size"],
        train_tokens=meta["train_tokens"],
        val_tokens=meta["val_tokens"],
    )


# -- lm.train ---------------------------------------------------------------------------


def load_data(ctx: StepContext[TrainConfig]) -> tuple[TokenData, Any]:
    """The token streams, tokenizer and its hash, checked against data/meta.json."""
    meta = ctx.read_json("data/meta.json")
    tokenizer, digest = load_tokenizer(ctx.input("data/tokenizer.json"))
    if meta["tokenizer_hash"] != digest:
        raise ArtifactError(
            "data/tokenizer.json does not match data/meta.json", hint="rerun lm.prepare (--force)"
        )
    data = TokenData(
        train=read_tokens(ctx.input("data/train.bin"), meta["dtype"]),
        val=read_tokens(ctx.input("data/val.bin"), meta["dtype"]),
        vocab_size=meta["vocab_size"],
        tokenizer_hash=digest,
        decode=tokenizer.decode,
    )
    return data, tokenizer


def resolve_resume(value: str, run_dir: Path) -> Path:
    """--resume takes a checkpoint file, a run directory, or a run id under the artifact root."""
    given = Path(value)
    if given.is_file():
        return given
    if given.is_dir():
        return given / LAST
    if given.suffix == ".pt" or "/" in value:
        return given  # a path that does not exist: load_checkpoint names it
    return run_dir.parent / value / LAST


def resume_command(command: tuple[str, ...], run_id: str) -> str:
    """The command that continues this run: the one the user typed, plus `--resume RUN_ID`.

    Repeating the user's options matters: the data, tokenizer and model shape must match
    the checkpoint's, and defaults would not.
    """
    args = list(command[1:])
    if not args or args[0] != "run":  # started by a program, not a `framework run` command
        return f"framework run lm.train --run-id {run_id} --resume {run_id}"
    kept: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--resume":
            skip = True
        elif not arg.startswith("--resume="):
            kept.append(arg)
    if not any(a == "--run-id" or a.startswith("--run-id=") for a in kept):
        kept += ["--run-id", run_id]
    return "framework " + shlex.join([*kept, "--resume", run_id])


def train(ctx: StepContext[TrainConfig]) -> None:
    cfg = ctx.config
    if cfg.n_embd % cfg.n_head:
        ctx.fail(f"n_embd {cfg.n_embd} is not a multiple of n_head {cfg.n_head}")
    data, _ = load_data(ctx)
    shortest = min(len(data.train), len(data.val))
    if shortest < cfg.block_size + 1:
        ctx.fail(
            f"the prepared data holds {shortest} tokens in a split, fewer than one block of "
            f"{cfg.block_size} + 1 (use --block-size for lm.prepare and lm.train alike)"
        )

    def sink(name: str, state: dict[str, Any]) -> Path:
        if ctx.rank.is_main:  # the other ranks hold the same weights: no scratch copies
            with ctx.output(f"checkpoints/{name}") as tmp:
                write_checkpoint(state, tmp)
        return ctx.run_dir / "checkpoints" / name

    kwargs = {
        "device": ctx.device,
        "amp_dtype": autocast_dtype(ctx.execution),
        "seed": ctx.execution.seed,
        "model_factory": ctx.models.build,
        "reporter": ctx,
        "checkpoint_sink": sink,
        "rank": ctx.rank,
    }
    if cfg.resume:
        path = resolve_resume(cfg.resume, ctx.run_dir)
        trainer = Trainer.from_checkpoint(path, cfg, data, **kwargs)
        ctx.event("resumed", step=trainer.step, checkpoint=str(path))
    else:
        trainer = Trainer(cfg, data, **kwargs)
    ctx.event(
        "train_started",
        step=trainer.step,
        max_steps=cfg.max_steps,
        parameters=sum(p.numel() for p in trainer.model.parameters()),
        device=str(trainer.device),
        precision=ctx.execution.precision,
        tokens_per_step=cfg.batch_size * cfg.grad_accum_steps * cfg.block_size,
        config=attrs.asdict(cfg),
    )
    try:
        trainer.fit()
    except TrainingInterrupted as stop:
        command = resume_command(ctx.command, ctx.run_id)
        ctx.event("interrupted", step=stop.step, checkpoint=str(stop.checkpoint), resume=command)
        print(
            f"lm.train stopped by {stop.signal_name} after step {stop.step}; checkpoint saved to "
            f"{stop.checkpoint}; resume with: {command}",
            file=sys.stderr,
            flush=True,
        )
        raise
    with ctx.output("loss_curve.png") as tmp:
        plot_losses(trainer.history, trainer.val_history, tmp)
    ctx.log_metrics(step=trainer.step, best_val_loss=trainer.best_val_loss)


# -- lm.sample / lm.evaluate ------------------------------------------------------------


def load_model(
    ctx: StepContext[object], path: Path, digest: str
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The model saved in a checkpoint, on ctx.device, in eval mode."""
    state = load_checkpoint(path)
    if state["tokenizer_hash"] != digest:
        raise ArtifactError(
            f"checkpoint {path} was trained with another tokenizer than data/tokenizer.json"
        )
    model = ctx.models.build(state["model_name"], **state["model_args"])
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ArtifactError(
            f"checkpoint {path} does not fit model {state['model_name']}: {first}"
        ) from None
    return model.to(ctx.device).eval(), state


def sample(ctx: StepContext[SampleConfig]) -> None:
    cfg = ctx.config
    tokenizer, digest = load_tokenizer(ctx.input("data/tokenizer.json"))
    model, state = load_model(ctx, ctx.input(LAST), digest)
    prompt = tokenizer.encode(cfg.prompt)
    if not prompt:
        ctx.fail("--prompt encodes to no tokens; give at least one character")
    generator = torch.Generator(device=ctx.device).manual_seed(ctx.execution.seed)
    idx = torch.tensor([prompt] * cfg.num_samples, dtype=torch.long, device=ctx.device)
    out = generate(
        model,
        idx,
        cfg.max_new_tokens,
        block_size=state["model_args"]["block_size"],
        temperature=cfg.temperature,
        top_k=cfg.top_k,
        generator=generator,
    )
    texts = [tokenizer.decode(row) for row in out.tolist()]
    for i, text in enumerate(texts):
        ctx.event("sample_text", step=state["step"], index=i, text=text)
    saved = ctx.write_text("samples.txt", "\n\n----\n\n".join(texts) + "\n")
    for i, text in enumerate(texts):
        ctx.print(f"--- sample {i + 1} of {len(texts)} (checkpoint step {state['step']}) ---")
        ctx.print(text)
    ctx.print(f"--- saved to {saved}")


def evaluate(ctx: StepContext[EvaluateConfig]) -> None:
    cfg = ctx.config
    meta = ctx.read_json("data/meta.json")
    _, digest = load_tokenizer(ctx.input("data/tokenizer.json"))
    model, state = load_model(ctx, ctx.input(LAST), digest)
    val = read_tokens(ctx.input("data/val.bin"), meta["dtype"]).to(ctx.device)
    block = state["model_args"]["block_size"]
    loss, windows = validation_loss(
        model, val, block, max_windows=cfg.eval_windows, amp_dtype=autocast_dtype(ctx.execution)
    )
    metrics = {
        "val_loss": loss,
        "perplexity": float(np.exp(loss)),
        "windows": windows,
        "tokens": windows * block,
        "checkpoint_step": state["step"],
    }
    ctx.log_metrics(step=state["step"], **metrics)
    ctx.write_json("metrics.json", metrics)
