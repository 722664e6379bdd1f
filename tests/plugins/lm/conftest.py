"""Shared fixtures: a small real corpus, tiny-model flags, and one trained run per session."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

from tests.conftest import invoke

# A model small enough for a 2-core machine: a step takes a few milliseconds.
TINY = [
    "--n-layer", "2", "--n-head", "2", "--n-embd", "32", "--block-size", "16",
    "--batch-size", "8", "--dropout", "0.1", "--eval-batches", "2", "--log-cadence", "1",
    "--sample-tokens", "16", "--learning-rate", "0.01", "--min-lr", "0.001",
    "--warmup-steps", "5", "--quiet",
]  # fmt: skip
STEPS = 60
CADENCES = ["--eval-cadence", "20", "--sampling-cadence", "30", "--checkpoint-cadence", "30"]


@functools.cache
def corpus_text() -> str:
    """Real text that is always installed: the plugin's default corpus (the KJV wheel)."""
    from framework_lm.corpus import kjv_text

    return kjv_text()


def write_corpus(path: Path, chars: int = 40_000) -> Path:
    """The first `chars` characters of the default corpus: real text, quick to tokenize."""
    path.write_text(corpus_text()[:chars], encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("corpus") / "shakespeare.txt")


def run_lm(target: str, root: Path, run_id: str, *extra: str, data: Path | None = None):
    args = ["run", target, "--artifact-root", str(root), "--run-id", run_id, *TINY, *extra]
    if data is not None:
        args += ["--data", str(data)]
    return invoke(*args)


def events(run_dir: Path, name: str | None = None) -> list[dict]:
    rows = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    return [r for r in rows if name is None or r["event"] == name]


def losses(run_dir: Path) -> dict[int, float]:
    """Training loss by step, as logged (the last value when a step was logged twice)."""
    return {
        e["fields"]["step"]: e["fields"]["loss"]
        for e in events(run_dir, "metrics")
        if e["step"] == "lm.train" and "loss" in e["fields"]
    }


@pytest.fixture(scope="session")
def trained(tmp_path_factory, corpus) -> Path:
    """prepare -> train -> evaluate, then sample, in one run; returns its run dir."""
    root = tmp_path_factory.mktemp("runs")
    common = ["--max-steps", str(STEPS), *CADENCES]
    for target, extra in (("lm.evaluate", []), ("lm.sample", ["--max-new-tokens", "40"])):
        result = run_lm(target, root, "e2e", *common, *extra, data=corpus)
        assert result.exit_code == 0, result.stderr
    return root / "e2e"
