"""The training loop: steps, cadences (log, eval, sample, checkpoint), exact resume, stop.

Model, optimizer and data are built in separate methods, to override for another kind of
parallelism. With several processes (torchrun) the model trains in DDP, each rank on its
slice of one global batch, and losses, evaluations and stop requests are agreed across
the ranks; with one process all of that is the identity.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import torch
from framework import ArtifactError, FrameworkError, RankInfo, distributed
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from framework_lm.checkpoint import (
    check_compatible,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
    strip_compile_prefix,
)
from framework_lm.data import RandomWindowSampler, TokenData, WindowDataset
from framework_lm.interrupts import StopRequest, TrainingInterrupted
from framework_lm.optim import create_optimizer, create_scheduler
from framework_lm.reporter import Reporter, SilentReporter, progress_of
from framework_lm.sampling import generate

EVAL_SEED_OFFSET = 1_000_003  # the eval batches' generator: apart from the training sampler's
SAMPLE_SEED_OFFSET = 2_000_003


class DivergedError(FrameworkError):
    exit_code = 1


CheckpointSink = Callable[[str, dict[str, Any]], Path]


class Trainer:
    """Trains `config.model` on `data`; `fit()` runs up to `config.max_steps` steps in total."""

    def __init__(
        self,
        config: Any,
        data: TokenData,
        *,
        device: str = "cpu",
        amp_dtype: torch.dtype | None = None,
        seed: int = 0,
        model_factory: Callable[..., nn.Module] | None = None,
        reporter: Reporter | None = None,
        checkpoint_sink: CheckpointSink | None = None,
        rank: RankInfo | None = None,
    ) -> None:
        self.config = config
        self.rank = rank or RankInfo()
        self.data = data
        self.device = torch.device(device)
        self.amp_dtype = amp_dtype
        self.seed = seed
        self.reporter = reporter or SilentReporter()
        self.checkpoint_sink = checkpoint_sink or self._save_under("checkpoints")
        self.step = 0
        self.best_val_loss = math.inf
        self.history: list[float] = []  # training loss of every step so far
        self.val_history: list[list[float]] = []  # [step, val_loss] at each evaluation
        self.last_checkpoint: Path | None = None
        self._pending: list[tuple[torch.Tensor, float]] = []  # (loss on device, lr) per step
        self._window_start = time.perf_counter()
        if self.device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        self.model = self.build_model(model_factory)
        self.forward_model = self.wrap_model(self.model)
        self.optimizer, self.scheduler = self.build_optimizer()
        self.scaler = torch.amp.GradScaler(
            self.device.type, enabled=amp_dtype is torch.float16 and self.device.type == "cuda"
        )
        self.sampler, self.val_set = self.build_data()

    # -- construction (override these for another parallelism) -------------------------

    def model_kwargs(self) -> dict[str, Any]:
        c = self.config
        return {
            "vocab_size": self.data.vocab_size,
            "block_size": c.block_size,
            "n_layer": c.n_layer,
            "n_head": c.n_head,
            "n_embd": c.n_embd,
            "dropout": c.dropout,
        }

    def build_model(self, factory: Callable[..., nn.Module] | None) -> nn.Module:
        if factory is None:
            from framework_lm.model import Transformer

            return Transformer(**self.model_kwargs()).to(self.device)
        return factory(self.config.model, **self.model_kwargs()).to(self.device)

    def wrap_model(self, model: nn.Module) -> nn.Module:
        """What the training step calls: the model in DDP with several processes (gradients
        averaged across ranks), compiled when asked."""
        wrapped = distributed.ddp(model, str(self.device))
        return torch.compile(wrapped) if self.config.compile else wrapped

    def build_optimizer(self) -> tuple[torch.optim.Optimizer, Any]:
        c = self.config
        optimizer = create_optimizer(
            self.model,
            learning_rate=c.learning_rate,
            weight_decay=c.weight_decay,
            betas=(c.beta1, c.beta2),
            device_type=self.device.type,
        )
        scheduler = create_scheduler(
            optimizer,
            peak=c.learning_rate,
            floor=c.min_lr,
            warmup=c.warmup_steps,
            total=c.max_steps,
        )
        return optimizer, scheduler

    def build_data(self) -> tuple[RandomWindowSampler, WindowDataset]:
        c = self.config
        train = WindowDataset(self.data.train.to(self.device), c.block_size)
        val = WindowDataset(self.data.val.to(self.device), c.block_size)
        batch = c.batch_size * c.grad_accum_steps
        sampler = RandomWindowSampler(train, batch, self.seed, self.rank.rank, self.rank.world_size)
        return sampler, val

    # -- one step ------------------------------------------------------------------------

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """One optimizer step over `batch` (grad_accum_steps micro-batches); the mean loss,
        still on the device: reading it would make the host wait for the GPU."""
        x, y = batch
        k = self.config.grad_accum_steps
        self.model.train()
        total = torch.zeros((), device=self.device)
        ddp = isinstance(distributed.unwrap_compiled(self.forward_model), DDP)
        for i, (xs, ys) in enumerate(zip(x.chunk(k), y.chunk(k), strict=True)):
            # DDP averages gradients across ranks on the last micro-batch only.
            sync = not ddp or i == k - 1
            with self.autocast(), contextlib.nullcontext() if sync else self.no_sync():
                _, loss = self.forward_model(xs, ys)
                loss = loss / k
                self.scaler.scale(loss).backward()
            total += loss.detach()
        if self.config.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        self.step += 1
        return total

    def no_sync(self) -> contextlib.AbstractContextManager[Any]:
        return distributed.unwrap_compiled(self.forward_model).no_sync()

    # -- the loop ------------------------------------------------------------------------

    def fit(self, max_steps: int | None = None) -> None:
        """Train until step `max_steps` (default config.max_steps); a signal stops it cleanly."""
        total = max_steps or self.config.max_steps
        c = self.config
        self._window_start = time.perf_counter()
        with StopRequest() as stop, progress_of(self.reporter, total) as bar:
            bar.update(completed=self.step)  # a resumed run starts at its step
            while self.step < total:
                lr = self.lr
                self._pending.append((self.training_step(self.sampler.next()), lr))
                bar.advance()  # no host sync: the bar shows the metrics already flushed
                last = self.step == total
                if self._any_rank(stop.requested) and not stop.requested:
                    stop.signal_name = "a signal on another rank"  # all stop at one step
                if stop.requested or last or self.step % c.log_cadence == 0:
                    self.flush_metrics()
                if self.step % c.eval_cadence == 0 or last:
                    self._between_steps(self.evaluate_and_log)
                if c.sampling_cadence and self.step % c.sampling_cadence == 0:
                    self._between_steps(self.log_sample)
                if stop.requested:
                    path = self.checkpoint_sink("last.pt", self.state_dict())
                    raise TrainingInterrupted(self.step, stop.signal_name or "signal", path)
                if self.step % c.checkpoint_cadence == 0 and not last:
                    self._between_steps(self.save_cadence_checkpoint)
        self.save_cadence_checkpoint()
        if self.rank.world_size > 1:
            self.report_ranks()

    def _any_rank(self, flag: bool) -> bool:
        if self.rank.world_size == 1:
            return flag
        box = torch.tensor([1.0 if flag else 0.0], device=self.device)
        return bool(distributed.reduce_tensor(box, op="max").item())

    def report_ranks(self) -> None:
        """A ``ranks`` event: per rank, a digest of the windows it trained on and of its
        parameters. DDP at work: the data digests differ, the parameter digests agree."""
        params = torch.cat([p.detach().reshape(-1).cpu().double() for p in self.model.parameters()])
        mine = {
            "rank": self.rank.rank,
            "data_digest": self.sampler.digest(),
            "param_digest": hashlib.sha256(params.numpy().tobytes()).hexdigest(),
        }
        ranks = distributed.gather(mine)
        if self.rank.is_main:
            self.reporter.event("ranks", step=self.step, ranks=ranks)

    def _between_steps(self, work: Callable[[], Any]) -> None:
        """Work that is not training: flushed before, kept out of the tokens/s window."""
        self.flush_metrics()
        work()
        self._window_start = time.perf_counter()

    def flush_metrics(self) -> None:
        """Log each pending step's loss, lr and tokens/s: one host-device sync per flush."""
        pending = self._pending
        if not pending:
            return
        # The mean over ranks: each rank's loss is over its own share of the batch.
        losses = distributed.reduce_tensor(torch.stack([loss for loss, _ in pending])).tolist()
        elapsed = max(time.perf_counter() - self._window_start, 1e-9)
        c = self.config
        tokens_per_s = c.batch_size * c.grad_accum_steps * c.block_size * len(losses) / elapsed
        first = self.step - len(losses) + 1
        for i, (loss, (_, lr)) in enumerate(zip(losses, pending, strict=True)):
            if not math.isfinite(loss):
                raise DivergedError(
                    f"training diverged: loss is {loss} at step {first + i}",
                    hint="lower --learning-rate or raise --warmup-steps",
                )
            self.history.append(loss)
            self.reporter.log_metrics(step=first + i, loss=loss, lr=lr, tokens_per_s=tokens_per_s)
        self._pending = []
        self._window_start = time.perf_counter()

    # -- evaluation and samples ----------------------------------------------------------

    @torch.no_grad()
    def evaluate(self) -> float:
        """Mean loss over a fixed set of validation batches.

        The batches come from a generator seeded afresh each time: the same windows at
        every evaluation, and the training RNGs are never touched.
        """
        c = self.config
        generator = torch.Generator().manual_seed(self.seed + EVAL_SEED_OFFSET)
        losses = torch.zeros(c.eval_batches, device=self.device)
        self.model.eval()
        try:
            for i in range(c.eval_batches):
                starts = torch.randint(len(self.val_set), (c.batch_size,), generator=generator)
                if i % self.rank.world_size != self.rank.rank:
                    continue  # another rank's batch: the ranks share the evaluation
                with self.autocast():
                    _, loss = self.forward_model(*self.val_set.batch(starts))
                losses[i] = loss
        finally:
            self.model.train()
        return float(distributed.reduce_tensor(losses, op="sum").mean().item())

    def evaluate_and_log(self) -> float:
        val_loss = self.evaluate()
        self.best_val_loss = min(self.best_val_loss, val_loss)
        self.val_history.append([self.step, val_loss])
        self.reporter.log_metrics(
            step=self.step, val_loss=val_loss, best_val_loss=self.best_val_loss
        )
        return val_loss

    def sample_text(self, max_new_tokens: int) -> str:
        """A continuation of the validation text's first token, from a per-step generator."""
        generator = torch.Generator(device=self.device)
        generator.manual_seed(self.seed + SAMPLE_SEED_OFFSET + self.step)
        prompt = self.val_set.tokens[:1].view(1, 1)
        with self.autocast():
            out = generate(
                self.model,
                prompt,
                max_new_tokens,
                block_size=self.config.block_size,
                temperature=0.8,
                top_k=200,
                generator=generator,
            )
        return self.data.decode(out[0].tolist())

    def log_sample(self) -> None:
        if not self.rank.is_main:
            return  # one sample per run, from rank 0
        self.reporter.event(
            "sample_text", step=self.step, text=self.sample_text(self.config.sample_tokens)
        )

    # -- checkpoints ---------------------------------------------------------------------

    def save_cadence_checkpoint(self) -> None:
        """`step_NNNNNN.pt` at the checkpoint cadence, and `last.pt` every time."""
        state = self.state_dict()
        if self.step % self.config.checkpoint_cadence == 0:
            self.checkpoint_sink(f"step_{self.step:06d}.pt", state)
        self.last_checkpoint = self.checkpoint_sink("last.pt", state)
        self.reporter.event("checkpoint_saved", step=self.step, path=str(self.last_checkpoint))

    def _save_under(self, directory: str) -> CheckpointSink:
        def sink(name: str, state: dict[str, Any]) -> Path:
            path = Path(directory) / name
            save_checkpoint(state, path)
            return path

        return sink

    def save_checkpoint(self, path: Path) -> Path:
        """Everything `from_checkpoint` needs, written atomically to `path`."""
        save_checkpoint(self.state_dict(), Path(path))
        return Path(path)

    def state_dict(self) -> dict[str, Any]:
        return {
            "model_name": self.config.model,
            "model_args": self.model_kwargs(),
            "model": strip_compile_prefix(self.model.state_dict()),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": {**rng_state(), "sampler": self.sampler.state_dict()},
            "step": self.step,
            "best_val_loss": self.best_val_loss,
            "tokenizer_hash": self.data.tokenizer_hash,
            "config": attrs.asdict(self.config),
            "history": list(self.history),
            "val_history": [list(v) for v in self.val_history],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.sampler.load_state_dict(state["rng"]["sampler"])
        set_rng_state(state["rng"])
        self.step = int(state["step"])
        self.best_val_loss = float(state["best_val_loss"])
        self.history = [float(v) for v in state["history"]]
        self.val_history = [[float(s), float(v)] for s, v in state["val_history"]]

    @classmethod
    def from_checkpoint(cls, path: Path, config: Any, data: TokenData, **kwargs: Any) -> Trainer:
        """A trainer in exactly the state it saved at `path`, checked against this run."""
        path = Path(path)
        state = load_checkpoint(path)
        trainer = cls(config, data, **kwargs)
        check_compatible(
            state,
            path,
            model=config.model,
            model_args=trainer.model_kwargs(),
            tokenizer=data.tokenizer_hash,
        )
        try:
            trainer.load_state_dict(state)
        except (KeyError, RuntimeError, ValueError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ArtifactError(f"checkpoint {path} does not fit this trainer: {first}") from None
        return trainer
