"""What ``ctx.progress`` returns: a count of a long loop's units, shown by the view of the
plugin that answers ``step_terminal``; with none (``--quiet``, ranks but 0) it only counts."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sized
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs

if TYPE_CHECKING:
    from framework.hookspecs import ProgressView, Terminal

T = TypeVar("T")


@attrs.define(eq=False)
class ProgressBar(contextlib.AbstractContextManager["ProgressBar[T]"], Generic[T]):
    """Iterate over it (``for batch in ctx.progress(batches)``), or advance it by hand
    (``with ctx.progress(total=n, unit="step") as bar: bar.advance()``)."""

    iterable: Iterable[T] | None
    total: int | None = attrs.field(kw_only=True)  # None: the iterable's length, if it has one
    description: str = attrs.field(kw_only=True)
    unit: str = attrs.field(kw_only=True)
    metrics: Mapping[str, Any] = attrs.field(kw_only=True)
    terminal: Terminal | None = attrs.field(default=None, kw_only=True)
    completed: int = attrs.field(default=0, init=False)
    _view: ProgressView | None = attrs.field(default=None, init=False)

    def __attrs_post_init__(self) -> None:
        if self.total is None and isinstance(self.iterable, Sized):
            self.total = len(self.iterable)
        self._view = self.terminal.view(self) if self.terminal is not None else None

    def __iter__(self) -> Iterator[T]:
        if self.iterable is None:
            raise TypeError("this progress bar has no iterable: call advance() instead")
        with self:
            for item in self.iterable:
                yield item
                self.advance()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def advance(self, n: int = 1) -> None:
        """`n` more units done."""
        self.completed += n
        if self._view is not None:
            self._view.update()

    def update(self, completed: int | None = None, total: int | None = None) -> None:
        """Set the count (a resumed loop starts at its step) or the total."""
        if total is not None:
            self.total = total
        if completed is not None:
            self.completed = completed
        if self._view is not None:
            self._view.update(restart=completed is not None)

    def close(self) -> None:
        if self._view is not None:
            self._view.close()
            self._view = None
