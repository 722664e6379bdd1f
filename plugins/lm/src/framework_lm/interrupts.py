"""Ctrl+C and SIGTERM during training: finish the step, then stop at a clean boundary.

The first signal only sets a flag the training loop checks after each step; a second
one interrupts at once, for a user who does not want to wait. A second signal within
`GRACE_S` of the first is taken for the same request arriving twice (a process in the
terminal's group gets SIGINT from it, then SIGTERM from whatever supervises it), not
for a user's second Ctrl+C.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)
GRACE_S = 2.0


class StopRequest:
    """Installs the handlers on enter (main thread only), restores the previous ones on exit."""

    def __init__(self) -> None:
        self.signal_name: str | None = None
        self._previous: dict[int, Any] = {}
        self._first_at = 0.0

    @property
    def requested(self) -> bool:
        return self.signal_name is not None

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            if time.monotonic() - self._first_at < GRACE_S:
                return
            raise KeyboardInterrupt
        self._first_at = time.monotonic()
        self.signal_name = signal.Signals(signum).name
        print(
            f"{self.signal_name}: finishing the current step and saving a checkpoint "
            "(again to stop at once)",
            file=sys.stderr,
            flush=True,
        )

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()


class TrainingInterrupted(KeyboardInterrupt):
    """Raised after the step in progress finished and a checkpoint was saved."""

    def __init__(self, step: int, signal_name: str, checkpoint: Path | None) -> None:
        super().__init__(f"{signal_name} at step {step}")
        self.step = step
        self.signal_name = signal_name
        self.checkpoint = checkpoint
