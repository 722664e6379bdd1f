"""lm on one GPU: the reference config on tinyshakespeare, tokens/s and best validation loss.

Config (a well-known public trainer's reference point: a median 16.2 ms/step, ~1.0 M
tokens/s and best val loss 1.471 on one H100): char-level, n_layer 6, n_head 6, n_embd 384,
block 256, batch 64, dropout 0.2, lr 1e-3 -> 1e-4 (cosine, 100 warm-up steps), 5000 steps,
10% validation. Our run: bf16 autocast, SDPA attention, fused AdamW, torch.compile.
Targets: >= 1.3 M tokens/s and best val loss <= 1.47. Needs CUDA; --quick runs a tiny
version on whatever device there is, only to check the script works.
"""

from __future__ import annotations

import sys
from pathlib import Path

from common import REPO, command_line, median, parser, report

SHAKESPEARE = REPO.parent / "shared" / "data" / "tinyshakespeare.txt"


class Windows:
    """Reporter that keeps (tokens/s per flush window, val losses) for the summary."""

    def __init__(self) -> None:
        self.tokens_per_s: list[float] = []
        self.val: list[tuple[int, float]] = []
        self._seen = None

    def log_metrics(self, step=None, **m):
        if "tokens_per_s" in m and m["tokens_per_s"] != self._seen:
            self._seen = m["tokens_per_s"]  # one figure per flush window
            self.tokens_per_s.append(m["tokens_per_s"])
        if "val_loss" in m:
            self.val.append((step, m["val_loss"]))
            print(f"step {step}: val loss {m['val_loss']:.4f}", flush=True)

    def event(self, name, **fields):
        if name == "sample_text":
            print(f"--- sample at step {fields['step']}:\n{fields['text']}\n---", flush=True)


def corpus(path: Path, *, quick: bool) -> str:
    """The benchmark corpus; a quick check without ../shared falls back to the default corpus."""
    if path.is_file():
        return path.read_text(encoding="utf-8")
    if quick:
        from framework_lm.corpus import kjv_text

        return kjv_text()[:200_000]
    print(f"lm_gpu.py: corpus {path} not found (pass --data PATH)", file=sys.stderr)
    raise SystemExit(2)


def main(argv: list[str] | None = None) -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--data", default=str(SHAKESPEARE), help="text corpus (tinyshakespeare)")
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    p.add_argument("--eval-batches", type=int, default=200, help="val batches per evaluation")
    p.add_argument("--quick", action="store_true", help="tiny model, 20 steps, any device")
    args = p.parse_args(argv)

    import attrs
    import torch
    from framework_lm.config import TrainConfig
    from framework_lm.data import split_corpus
    from framework_lm.tokenizer import CharTokenizer
    from framework_lm.trainer import TokenData, Trainer

    cuda = torch.cuda.is_available()
    if not cuda and not args.quick:
        print(
            "lm_gpu.py needs a CUDA GPU (torch sees none); nothing measured. "
            "Run it on a GPU machine, or pass --quick to check the script on CPU.",
            file=sys.stderr,
        )
        raise SystemExit(2)
    if not cuda:
        torch.set_num_threads(1)  # a tiny model on a shared CPU: threads only contend
    text = corpus(Path(args.data), quick=args.quick)
    tokenizer = CharTokenizer.train(text)
    ids = torch.tensor(tokenizer.encode(text))
    train, val = split_corpus(ids, 0.1)
    data = TokenData(train, val, tokenizer.vocab_size, "bench", decode=tokenizer.decode)
    config = attrs.evolve(
        TrainConfig(),
        n_layer=6, n_head=6, n_embd=384, block_size=256, batch_size=64, dropout=0.2,
        learning_rate=1e-3, min_lr=1e-4, warmup_steps=100, max_steps=args.steps,
        eval_cadence=250, eval_batches=args.eval_batches, sampling_cadence=args.steps,
        checkpoint_cadence=10**9, log_cadence=100, compile=cuda and not args.no_compile,
    )  # fmt: skip
    if args.quick:
        config = attrs.evolve(
            config, n_layer=2, n_head=2, n_embd=32, block_size=32, batch_size=8, max_steps=20,
            eval_cadence=10, eval_batches=2, log_cadence=5, sampling_cadence=20, warmup_steps=2,
        )  # fmt: skip
    device = "cuda" if cuda else "cpu"
    windows = Windows()
    torch.manual_seed(1337)
    trainer = Trainer(
        config,
        data,
        device=device,
        amp_dtype=torch.bfloat16 if cuda else None,
        seed=1337,
        reporter=windows,
        checkpoint_sink=lambda name, state: Path(name),
    )
    trainer.fit()
    # The first windows include compilation and warm-up: the median ignores them.
    steady = windows.tokens_per_s[2:] or windows.tokens_per_s
    tps = median(steady)
    tokens_per_step = config.batch_size * config.block_size
    ms_per_step = 1e3 * tokens_per_step / tps
    best = trainer.best_val_loss
    gpu = torch.cuda.get_device_name() if cuda else "cpu (not a GPU figure)"
    print(
        f"{gpu}: median {ms_per_step:.2f} ms/step, {tps / 1e6:.3f} M tokens/s, best val {best:.4f}"
    )
    met = None if args.quick else (tps >= 1.3e6 and best <= 1.47)
    cli = ["--quick"] if args.quick else ["--steps", str(args.steps)]
    if args.no_compile:
        cli.append("--no-compile")
    return report(
        args,
        name=f"lm reference config on {gpu}",
        figure=f"{tps / 1e6:.3f} M tokens/s ({ms_per_step:.2f} ms/step), best val loss {best:.4f}",
        target=">= 1.3 M tokens/s and best val loss <= 1.47 (reference 1.0 M, 1.471)",
        met=met,
        command=command_line("lm_gpu.py", cli),
        details={
            "device": gpu,
            "tokens_per_s": tps,
            "ms_per_step": ms_per_step,
            "best_val_loss": best,
            "val_losses": windows.val,
            "steps": config.max_steps,
            "compile": config.compile,
        },
    )


if __name__ == "__main__":
    main(sys.argv[1:])
