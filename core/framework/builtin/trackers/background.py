"""One tracker's calls, run in order on a thread of their own.

A step never waits for a tracker: its hooks only queue calls. The first call that
raises (a server that does not answer, a full disk) is reported once on stderr and the
tracker is dropped for the rest of the run; the run itself goes on.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Callable
from typing import Any

from framework.errors import short_error

STOP = None


class Background:
    """Queue calls to `tracker`'s methods; consecutive ``log_metrics`` calls go as one batch."""

    def __init__(self, make: Callable[[], Any], name: str) -> None:
        self.make = make  # builds the tracker: imports its library, on the thread, not the step's
        self.tracker: Any = None
        self.name = name
        self.failed = False
        self._queue: queue.SimpleQueue[tuple[str, tuple[Any, ...]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name=f"tracker-{name}", daemon=True)
        self._thread.start()

    def submit(self, method: str, *args: Any) -> None:
        if not self.failed:
            self._queue.put((method, args))

    def close(self, timeout_s: float) -> None:
        """Let the queued calls finish, waiting at most `timeout_s` seconds."""
        self._queue.put(STOP)
        self._thread.join(timeout_s)
        if self._thread.is_alive() and not self.failed:
            self.failed = True
            warn(
                f"tracker {self.name} did not finish within {timeout_s:.0f} s; "
                "its last records may be missing"
            )

    def _work(self) -> None:
        try:
            self.tracker = self.make()
        except ImportError as exc:
            self.failed = True
            warn(
                f"tracker {self.name} is not installed ({short_error(exc)}); "
                f"pip install 'framework[{self.name}]'"
            )
        except Exception as exc:
            self._fail(exc)
        while True:
            items = [self._queue.get()]
            while items[-1] is not STOP:  # take what else is waiting, to batch it
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            for method, args in _batched(items):
                self._call(method, args)
            if items[-1] is STOP:
                return

    def _call(self, method: str, args: tuple[Any, ...]) -> None:
        if self.failed:
            return
        try:
            getattr(self.tracker, method)(*args)
        except Exception as exc:  # a tracker never fails the run
            self._fail(exc)

    def _fail(self, exc: Exception) -> None:
        self.failed = True
        warn(f"tracker {self.name} failed: {short_error(exc)}; the run goes on without it")


def _batched(
    items: list[tuple[str, tuple[Any, ...]] | None],
) -> list[tuple[str, tuple[Any, ...]]]:
    """Consecutive ``log_metrics(records)`` calls merged into one."""
    out: list[tuple[str, tuple[Any, ...]]] = []
    for item in items:
        if item is STOP:
            continue
        method, args = item
        if method == "log_metrics" and out and out[-1][0] == "log_metrics":
            out[-1] = (method, (out[-1][1][0] + args[0],))
        else:
            out.append((method, args))
    return out


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)
