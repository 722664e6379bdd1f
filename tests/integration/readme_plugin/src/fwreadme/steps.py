"""The step: its context is typed by its config, so the type checker knows ctx.config."""

from __future__ import annotations

from collections import Counter

from framework import StepContext

from fwreadme.config import CountConfig


def count(ctx: StepContext[CountConfig]) -> None:
    words = ctx.config.text.lower().split()
    common = Counter(words).most_common(ctx.config.top)
    ctx.write_json("counts.json", {"words": len(words), "top": [list(pair) for pair in common]})
    ctx.log_metrics(words=len(words), distinct=len(set(words)))
