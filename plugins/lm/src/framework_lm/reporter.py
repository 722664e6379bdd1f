"""Where the trainer's numbers and progress go: a StepContext in a run, anything alike elsewhere."""

from __future__ import annotations

from typing import Any, Protocol


class Progress(Protocol):
    """What ``ctx.progress(total=...)`` returns, as far as the trainer uses it."""

    def __enter__(self) -> Progress: ...

    def __exit__(self, *exc: object) -> None: ...

    def advance(self, n: int = 1) -> None: ...

    def update(self, completed: int | None = None, total: int | None = None) -> None: ...


class Reporter(Protocol):
    def log_metrics(self, step: int | None = None, **metrics: Any) -> None: ...

    def event(self, name: str, **fields: Any) -> None: ...


class NoProgress:
    """A progress bar that shows nothing (outside a run, or for a reporter without bars)."""

    def __enter__(self) -> NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def update(self, completed: int | None = None, total: int | None = None) -> None:
        pass


class SilentReporter:
    def log_metrics(self, step: int | None = None, **metrics: Any) -> None:
        pass

    def event(self, name: str, **fields: Any) -> None:
        pass


def progress_of(reporter: Any, total: int) -> Progress:
    """The reporter's progress bar over `total` training steps, if it draws any."""
    make = getattr(reporter, "progress", None)
    return make(total=total, unit="step") if make is not None else NoProgress()
