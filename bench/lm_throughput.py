"""lm Trainer throughput against a bare PyTorch loop of the same model, same process, CPU.

Both sides train the same Transformer with the same AdamW groups, gradient clipping and
learning-rate schedule on the same batch shapes; the Trainer adds its sampler, per-step
metrics written as JSON lines, the end-of-fit evaluation and checkpoint state. Repetitions
alternate (bare then trainer, trainer then bare, ...) so a noisy machine moves both sides alike; the
figure is the median over repetitions of bare time / trainer time (trainer speed relative
to the bare loop).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from common import REPO, command_line, median, parser, report, timed

SHAKESPEARE = REPO.parent / "shared" / "data" / "tinyshakespeare.txt"


class JsonLines:
    """A reporter writing one JSON object a line, flushed, like events.jsonl."""

    def __init__(self, path: Path) -> None:
        self.fh = open(path, "a", encoding="utf-8")  # noqa: SIM115

    def log_metrics(self, step=None, **metrics):
        self.fh.write(json.dumps({"event": "metrics", "step": step, **metrics}) + "\n")
        self.fh.flush()

    def event(self, name, **fields):
        self.fh.write(json.dumps({"event": name, **fields}) + "\n")
        self.fh.flush()


def load_tokens(torch):
    if SHAKESPEARE.is_file():
        text = SHAKESPEARE.read_text(encoding="utf-8")
    else:
        from framework_lm.corpus import kjv_text

        text = kjv_text()[:1_000_000]
    chars = sorted(set(text))
    lookup = {c: i for i, c in enumerate(chars)}
    ids = torch.tensor([lookup[c] for c in text])
    cut = int(0.9 * len(ids))
    return ids[:cut], ids[cut:], len(chars)


def bare_loop(torch, config, train, vocab_size, steps):
    """The same work written as a plain loop: returns a function running `steps` steps."""
    from framework_lm.model import Transformer
    from framework_lm.optim import create_optimizer, lr_at

    torch.manual_seed(0)
    model = Transformer(
        vocab_size, config.block_size, config.n_layer, config.n_head, config.n_embd, config.dropout
    )
    opt = create_optimizer(
        model,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        betas=(config.beta1, config.beta2),
        device_type="cpu",
    )
    gen = torch.Generator().manual_seed(0)
    offsets = torch.arange(config.block_size)
    state = {"step": 0}

    def run():
        for _ in range(steps):
            for group in opt.param_groups:
                group["lr"] = lr_at(
                    state["step"],
                    peak=config.learning_rate,
                    floor=config.min_lr,
                    warmup=config.warmup_steps,
                    total=config.max_steps,
                )
            starts = torch.randint(
                len(train) - config.block_size, (config.batch_size,), generator=gen
            )
            idx = starts[:, None] + offsets
            _, loss = model(train[idx], train[idx + 1])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            opt.step()
            opt.zero_grad(set_to_none=True)
            state["step"] += 1
        return loss.item()

    return run


def trainer_loop(torch, config, data, steps, log_path):
    from framework_lm.trainer import Trainer

    torch.manual_seed(0)
    trainer = Trainer(
        config,
        data,
        seed=0,
        reporter=JsonLines(log_path),
        checkpoint_sink=lambda name, state: Path(name),  # state built, not written to disk
    )

    def run():
        trainer.fit(max_steps=trainer.step + steps)
        return trainer.history[-1]

    return run


def main(argv: list[str] | None = None) -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=50, help="training steps per repetition")
    p.add_argument("--repeat", type=int, default=5, help="repetitions of each side")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--quick", action="store_true", help="a few steps: checks the bench runs")
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.repeat = 3, 2

    import attrs
    import torch
    from framework_lm.config import TrainConfig
    from framework_lm.trainer import TokenData

    torch.set_num_threads(args.threads)
    config = attrs.evolve(
        TrainConfig(),
        n_layer=2, n_head=4, n_embd=128, block_size=64, batch_size=16, dropout=0.0,
        max_steps=10_000, warmup_steps=10, eval_cadence=10**9, eval_batches=1,
        sampling_cadence=0, checkpoint_cadence=10**9, log_cadence=10,
    )  # fmt: skip
    train, val, vocab = load_tokens(torch)
    data = TokenData(train=train, val=val, vocab_size=vocab, tokenizer_hash="bench")
    with tempfile.TemporaryDirectory() as tmp:
        bare = bare_loop(torch, config, train, vocab, args.steps)
        ours = trainer_loop(torch, config, data, args.steps, Path(tmp) / "events.jsonl")
        bare(), ours()  # warm-up: first-call allocations on both sides
        bare_s, ours_s = [], []
        for i in range(args.repeat):
            if i % 2:  # alternate which side goes first, so drift in load favours neither
                ours_s.append(timed(ours))
                bare_s.append(timed(bare))
            else:
                bare_s.append(timed(bare))
                ours_s.append(timed(ours))
            print(f"rep {i + 1}: bare {bare_s[-1]:.3f} s, trainer {ours_s[-1]:.3f} s", flush=True)
    tokens = args.steps * config.batch_size * config.block_size
    bare_tps, ours_tps = tokens / median(bare_s), tokens / median(ours_s)
    # Each repetition's pair ran back to back: the median of the pair ratios resists load
    # that comes and goes better than a ratio of medians.
    ratio = median([b / o for b, o in zip(bare_s, ours_s, strict=True)])
    print(f"bare loop {bare_tps:,.0f} tokens/s, Trainer {ours_tps:,.0f} tokens/s")
    cli = ["--steps", str(args.steps), "--repeat", str(args.repeat), "--threads", str(args.threads)]
    return report(
        args,
        name="lm Trainer vs bare PyTorch loop (CPU, same model and process)",
        figure=f"{ratio:.3f}x ({ours_tps:,.0f} vs {bare_tps:,.0f} tokens/s)",
        target=">= 0.97x",
        met=ratio >= 0.97 if not args.quick else None,
        command=command_line("lm_throughput.py", ["--quick"] if args.quick else cli),
        details={
            "ratio": ratio,
            "trainer_tokens_per_s": ours_tps,
            "bare_tokens_per_s": bare_tps,
            "bare_s": bare_s,
            "trainer_s": ours_s,
            "steps": args.steps,
            "model": {
                k: getattr(config, k)
                for k in ("n_layer", "n_head", "n_embd", "block_size", "batch_size")
            },
        },
    )


if __name__ == "__main__":
    main(sys.argv[1:])
