"""How a step's output is shown: a rich bar on a terminal, plain lines elsewhere.

A step asks its context for a bar (``ctx.progress``) and advances it; which view it gets
is decided once, when the bar is made: a live bar on a terminal, plain lines when stdout
is a file or a pipe (CI, Slurm logs, ``| tee``); none with ``--quiet`` and on every rank
but 0 (the plugin gives such a run no terminal). Both views show the step's latest
metrics, read from the dict the context keeps up to date in ``log_metrics``: showing them
costs no host sync, the trainer already logged them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from framework.hookspecs import ProgressView
    from framework.progress import ProgressBar

# Metrics shown first when a step logs them; the others follow in the order they came.
PREFERRED = ("epoch", "loss", "train_loss", "val_loss", "tokens_per_s")
SHOWN = 6  # at most this many metrics on a bar or a line
# Renders of the bar a second, drawn by the step's own thread as it advances the bar. A
# render from another thread costs a training loop several times the render's own CPU
# (the two threads hand the GIL back and forth: 5 % at 2 renders a second in
# bench/lm_progress.py), so a thread draws only a bar that has not moved for STALE_S.
RENDERS_PER_S = 2
STALE_S = 1.0
MAX_PAUSE_S = 8.0  # the longest the watcher sleeps while the step's thread draws


def format_value(value: Any) -> str:
    """4 significant digits; large numbers with thousands separators (``12,345``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def format_latest(metrics: Mapping[str, Any]) -> str:
    """``loss=2.31  val_loss=2.4  tokens_per_s=12,345``: the numbers a person follows."""
    latest = dict(metrics)  # a copy: the step's thread may log while a view renders
    latest.pop("step", None)
    names = [n for n in PREFERRED if n in latest]
    names += [n for n in latest if n not in names]
    return "  ".join(f"{n}={format_value(latest[n])}" for n in names[:SHOWN])


def format_rate(per_s: float) -> str:
    return f"{per_s:,.0f}" if per_s >= 100 else f"{per_s:.3g}"


def format_duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class StepTerminal:
    """The terminal of one step on rank 0 (what ``ctx.progress``, ``print`` and ``table`` use)."""

    def __init__(self, console: Any, interval_s: float) -> None:
        self.console = console
        self.interval_s = interval_s

    def view(self, bar: ProgressBar[Any]) -> ProgressView:
        if self.console.is_terminal:
            return _Bar(bar, self.console)
        return _Lines(bar, self.interval_s, self.console)

    def print(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def table(self, rows: list[dict[str, Any]], title: str) -> None:
        from rich.table import Table

        # No rules: plain aligned columns read as well in a log file as on a terminal.
        table = Table(title=title or None, title_justify="left", box=None, padding=(0, 2, 0, 0))
        for name in rows[0]:
            table.add_column(name, justify="left" if isinstance(rows[0][name], str) else "right")
        for row in rows:
            table.add_row(*(format_value(v) for v in row.values()))
        self.console.print(table)


class _Lines:
    """One plain line at most every `interval_s` seconds, and a last one if any came before."""

    def __init__(self, bar: ProgressBar[Any], interval_s: float, console: Any) -> None:
        self.bar = bar
        self.interval_s = interval_s
        self.console = console
        self.started = self.last = time.monotonic()
        self.first = 0  # the count at start: a resumed loop's rate counts its own units only
        self.shown = False

    def update(self, restart: bool = False) -> None:
        now = time.monotonic()
        if restart:
            self.started, self.first = now, self.bar.completed
        elif now - self.last >= self.interval_s:
            self.show(now)

    def show(self, now: float, done: bool = False) -> None:
        self.last = now
        self.shown = True
        bar = self.bar
        parts = [f"  {bar.description}: {bar.completed}"]
        if bar.total:
            parts[0] += f"/{bar.total} ({100 * bar.completed / bar.total:.0f}%)"
        elapsed = max(now - self.started, 1e-9)
        rate = (bar.completed - self.first) / elapsed
        parts.append(f"{format_rate(rate)} {bar.unit}/s")
        if done:
            parts.append(f"took {format_duration(elapsed)}")
        elif bar.total and rate > 0:
            parts.append(f"eta {format_duration((bar.total - bar.completed) / rate)}")
        metrics = format_latest(bar.metrics)
        if metrics:
            parts.append(metrics)
        self.console.print("  ".join(parts), markup=False, highlight=False, soft_wrap=True)

    def close(self) -> None:
        if self.shown:
            self.show(time.monotonic(), done=True)


class _Bar:
    """A task on the one live rich display that every open bar of the process shares.

    The step's thread draws the display when it advances a bar and the last drawing is
    older than 1 / RENDERS_PER_S; a watcher thread draws it only when nothing did for
    STALE_S (a long step between advances), so the clock and ETA still move, within
    MAX_PAUSE_S of a stall at worst."""

    _lock = threading.Lock()
    _live: Any = None
    _open = 0
    _drawn = 0.0  # time.monotonic() of the last drawing
    _stop: threading.Event | None = None

    def __init__(self, bar: ProgressBar[Any], console: Any) -> None:
        self.bar = bar
        with self._lock:
            if _Bar._live is None:
                _Bar._live = _display(console)
                _Bar._live.start()
                _Bar._stop = threading.Event()
                threading.Thread(
                    target=_Bar._watch, args=(_Bar._live, _Bar._stop), daemon=True
                ).start()
            _Bar._open += 1
            self.live = _Bar._live
        self.task = self.live.add_task(
            bar.description, total=bar.total, unit=bar.unit, metrics=bar.metrics
        )

    @staticmethod
    def _watch(live: Any, stop: threading.Event) -> None:
        # Each wake takes the GIL from the step's thread, which costs a training loop far
        # more than the wake's own work: while the step draws, wake ever more rarely.
        pause = STALE_S
        while not stop.wait(pause):
            if time.monotonic() - _Bar._drawn >= STALE_S:
                _Bar._draw(live)
                pause = STALE_S
            else:
                pause = min(2 * pause, MAX_PAUSE_S)

    @staticmethod
    def _draw(live: Any) -> None:
        _Bar._drawn = time.monotonic()
        live.refresh()

    def update(self, restart: bool = False) -> None:
        if restart:
            self.live.reset(self.task, total=self.bar.total, completed=self.bar.completed)
        else:
            self.live.update(self.task, completed=self.bar.completed, total=self.bar.total)
        if time.monotonic() - _Bar._drawn >= 1 / RENDERS_PER_S:
            _Bar._draw(self.live)

    def close(self) -> None:
        self.live.remove_task(self.task)
        with self._lock:
            _Bar._open -= 1
            if _Bar._open == 0:
                assert _Bar._stop is not None
                _Bar._stop.set()
                _Bar._live.stop()
                _Bar._live = None


def _display(console: Any) -> Any:
    """The rich display: description, bar, count, rate, elapsed, ETA, then the metrics."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            shown = format_rate(speed) if speed else "?"
            return Text(f"{shown} {task.fields['unit']}/s", style="progress.data.speed")

    class Metrics(ProgressColumn):
        def render(self, task: Any) -> Text:
            # cut at the terminal's edge: a wrapped bar redraws as several lines
            text = format_latest(task.fields["metrics"])
            return Text(text, style="dim", no_wrap=True, overflow="ellipsis")

    return Progress(
        TextColumn("  [progress.description]{task.description}"),
        BarColumn(bar_width=30),
        MofNCompleteColumn(),
        Rate(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        Metrics(),
        console=console,
        transient=True,
        auto_refresh=False,  # drawn by _Bar: the step's thread, or the watcher when stale
    )
