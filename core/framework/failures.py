"""What goes wrong around a step, said for the user: a step that raised, an artifact root
that is full or read-only, a run dir that cannot be made; SIGTERM as an interrupt."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

from framework.errors import (
    ArtifactError,
    FrameworkError,
    SplitContractError,
    StepFailedError,
    StorageError,
    short_error,
)


def make_run_dir(root: Path, run_dir: Path) -> None:
    """Create the run dir; an artifact root that cannot hold it is the user's to fix."""
    where = f"--artifact-root {root}"
    if root.exists() and not root.is_dir():
        raise StorageError(f"{where}: exists and is not a directory", hint="choose another path")
    if run_dir.exists() and not run_dir.is_dir():
        raise StorageError(
            f"run directory {run_dir} exists and is not a directory",
            hint="move the file away or choose another --run-id",
        )
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / f".write-test-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise StorageError(
            f"{where}: cannot create or write {exc.filename or run_dir}: "
            f"{exc.strerror or type(exc).__name__}",
            hint="choose a directory you can write, e.g. --artifact-root runs",
        ) from None


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (`kill`, a scheduler's time limit) ends a run like Ctrl+C does: the step
    and the run are recorded as interrupted instead of being left 'running'."""
    in_main = threading.current_thread() is threading.main_thread()
    if not in_main or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield  # only the main thread sets handlers; a launcher may have set one already
        return
    # Python's own Ctrl+C handler: it raises KeyboardInterrupt.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Ctrl+C or SIGTERM waits until the end of a run is written, then acts: a second signal
    (a sweep stopping its workers) must not leave an interrupted run recorded as 'running'."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(signum) is not None:  # None: set outside Python, cannot be put back
            previous[signum] = signal.signal(signum, lambda n, _: caught.append(n))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if caught:
            signal.raise_signal(caught[0])


def step_error(step_id: str, exc: Exception, run_dir: Path) -> FrameworkError:
    """The one-line error the CLI shows for a step that raised `exc`."""
    if isinstance(exc, FrameworkError):
        if step_id not in exc.message:
            exc.message = f"step {step_id}: {exc.message}"
        if isinstance(exc, (ArtifactError, SplitContractError)):
            exc.exit_code = StepFailedError.exit_code  # the step broke its contract
        return exc  # a user mistake the step found keeps its own exit code
    # The artifact root's faults, not the step's: no space, no quota, a read-only filesystem.
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
        return storage_error(exc, run_dir, f"step {step_id}")
    return StepFailedError(
        f"step {step_id} failed: {short_error(exc)}", hint=f"see {run_dir / 'events.jsonl'}"
    )


def storage_error(exc: OSError, run_dir: Path, who: str) -> StorageError:
    reason = exc.strerror or os.strerror(exc.errno or 0)
    return StorageError(
        f"{who}: cannot write {exc.filename or run_dir}: {reason}",
        hint="free some space or choose another --artifact-root; nothing half-written was kept",
    )
