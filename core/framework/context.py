"""What a step's callable receives: config, run dir, guarded artifact access, logging."""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Callable, Iterable, Iterator
from fnmatch import fnmatch
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, NoReturn, TypeVar

import attrs

from framework import distributed
from framework.atomic import atomic_path
from framework.errors import ArtifactError, UsageError
from framework.execution import ExecutionSettings, RankInfo, resolve_device
from framework.jsonsafe import json_safe
from framework.progress import ProgressBar
from framework.splits import SplitGuard
from framework.steps import Step, check_relative_path, is_pattern

if TYPE_CHECKING:
    from framework.hookspecs import Terminal

T = TypeVar("T")
# The step's config class; covariant: a StepContext[TrainConfig] serves where a helper
# asks for a StepContext[BaseConfig] (the context only hands its config out).
C = TypeVar("C", covariant=True)


@attrs.frozen
class Models:
    """Build models by registered name: ``ctx.models.build("hello.line", **kwargs)``."""

    _factories: dict[str, tuple[str, str]]
    _loader: Callable[[str], Any]

    def names(self) -> list[str]:
        return sorted(self._factories)

    def build(self, name: str, **kwargs: Any) -> Any:
        return self._loader(name)(**kwargs)


# Not slotted: a step may keep its own attributes on the context, as it could before.
@attrs.define(kw_only=True, eq=False, repr=False, slots=False)
class StepContext(Generic[C]):
    """The one argument of a step callable; ``StepContext[TrainConfig]`` types its config."""

    step: Step
    config: C
    run_id: str
    run_dir: Path = attrs.field(converter=Path)
    execution: ExecutionSettings
    rank: RankInfo
    splits: SplitGuard
    models: Models
    legacy: dict[str, dict[str, Any]]
    # The command that started the run, as typed (and recorded in the manifest).
    command: tuple[str, ...] = attrs.field(default=(), converter=tuple[str, ...])
    _emit: Callable[[str, dict[str, Any]], None]
    _metrics_hook: Callable[[dict[str, Any]], None]
    _terminal: Terminal | None = None  # None: nothing is shown (--quiet, ranks but 0)
    _latest: dict[str, Any] = attrs.field(factory=dict, init=False)  # shown by progress bars

    def _declared(self, path: str, declared: Iterable[str], kind: str) -> str:
        try:
            rel = check_relative_path(path, f"{kind} path")
        except ValueError as exc:
            raise ArtifactError(f"step {self.step.id}: {exc}") from None
        if not any(rel == d or (is_pattern(d) and fnmatch(rel, d)) for d in declared):
            listed = ", ".join(declared) or "none"
            raise ArtifactError(
                f"step {self.step.id} used {kind} '{rel}', which it did not declare (declared {kind}s: {listed})",
                hint=f"add it to the Step's {kind}s",
            )
        return rel

    @contextlib.contextmanager
    def output(self, path: str) -> Iterator[Path]:
        """Yield a temp path to write; it becomes ``run_dir/path`` only if the block succeeds."""
        rel = self._declared(path, self.step.outputs, "output")
        if self.rank.is_main:  # only rank 0 writes artifacts
            with atomic_path(self.run_dir / rel) as tmp:
                yield tmp
        else:
            with tempfile.TemporaryDirectory(
                prefix="framework-rank-", ignore_cleanup_errors=True
            ) as scratch:
                yield Path(scratch) / Path(rel).name

    def write_bytes(self, path: str, data: bytes) -> Path:
        with self.output(path) as tmp:
            tmp.write_bytes(data)
        return self.run_dir / path

    def write_text(self, path: str, text: str) -> Path:
        return self.write_bytes(path, text.encode("utf-8"))

    def write_json(self, path: str, data: Any) -> Path:
        """Strict JSON (NaN and Infinity are refused), indented, sorted keys."""
        return self.write_text(
            path, json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n"
        )

    def input(self, path: str) -> Path:
        """The path of a declared input artifact; refuses undeclared or missing ones."""
        rel = self._declared(path, self.step.inputs, "input")
        full = self.run_dir / rel
        if not full.exists():
            raise ArtifactError(
                f"step {self.step.id}: input '{rel}' does not exist in {self.run_dir}"
            )
        return full

    def read_json(self, path: str) -> Any:
        return json.loads(self.input(path).read_text(encoding="utf-8"))

    def log_metrics(self, step: int | None = None, **metrics: Any) -> None:
        """Record metrics (``ctx.log_metrics(step=10, loss=0.3)``): events.jsonl and on_metrics."""
        fields = {k: json_safe(v) for k, v in metrics.items()}
        if step is not None:
            fields["step"] = int(step)
        self._latest.update(fields)
        self._emit("metrics", fields)
        self._metrics_hook(fields)

    def event(self, name: str, **fields: Any) -> None:
        """A structured event of the step's own (e.g. ``sample_text``)."""
        self._emit(name, fields)

    def progress(
        self,
        iterable: Iterable[T] | None = None,
        total: int | None = None,
        description: str = "",
        *,
        unit: str = "it",
    ) -> ProgressBar[T]:
        """Progress of a long loop, with the step's latest metrics (none with --quiet): iterate
        (``for x in ctx.progress(items)``) or advance by hand (``bar.advance()``)."""
        return ProgressBar(
            iterable,
            total=total,
            description=description or self.step.id,
            unit=unit,
            metrics=self._latest,
            terminal=self._terminal,
        )

    def print(self, text: str) -> None:
        """Show `text` to the person running the step (rank 0 only, nothing with --quiet)."""
        if self._terminal is not None:
            self._terminal.print(text)

    def table(self, rows: list[dict[str, Any]], title: str = "") -> None:
        """Show `rows` (one dict each, same keys) as a table, numbers to 4 digits."""
        if self._terminal is not None and rows:
            self._terminal.table(rows, title)

    @cached_property
    def device(self) -> str:
        """The torch device string from ``--accelerator`` (imports torch)."""
        return resolve_device(self.execution, self.rank)

    # -- several processes (torchrun); each is the identity with one process -----------

    @property
    def is_main(self) -> bool:
        """Rank 0 (or the only process): the one whose files, events and manifest count."""
        return self.rank.is_main

    def ddp(self, model: Any) -> Any:
        """`model` (already on ``ctx.device``) wrapped in DistributedDataParallel."""
        return distributed.ddp(model, self.device)

    def shard(self, items: Any) -> Any:
        """This rank's share of a sequence (or of ``range(n)``): disjoint, covering all."""
        return distributed.shard(items, self.rank)

    def sampler(self, dataset: Any, shuffle: bool = True) -> Any:
        """A DistributedSampler over `dataset` seeded with ``--seed`` (None with one
        process: keep your own); call its ``set_epoch(epoch)`` every epoch."""
        return distributed.sampler(dataset, self.rank, shuffle=shuffle, seed=self.execution.seed)

    def reduce(self, metrics: dict[str, float], op: str = "mean") -> dict[str, float]:
        """Metrics combined across ranks (mean, sum, max, min): log what every rank saw."""
        return distributed.reduce(metrics, op)

    def gather(self, value: Any) -> list[Any]:
        """Every rank's `value` (small, picklable), in rank order."""
        return distributed.gather(value)

    def barrier(self) -> None:
        """Wait until every rank is here."""
        distributed.barrier()

    def fail(self, message: str) -> NoReturn:
        """Stop the step with a message for the user (no traceback)."""
        raise UsageError(f"step {self.step.id}: {message}")
