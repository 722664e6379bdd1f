"""What a person sees on the terminal: step lines, metrics, progress bars, --quiet."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import pytest

PROGRESS = """
import time
from framework import Step, hookimpl

def count(ctx):
    total = 0
    for i in ctx.progress(range(40), total=40, description="counting"):
        total += i
        time.sleep(0.01)
    ctx.log_metrics(total=total)
    ctx.write_text("total.txt", str(total))

@hookimpl
def register_steps(register):
    register(Step(id="bar.count", run=__name__ + ":count", outputs=["total.txt"]))
"""


@pytest.fixture
def bar(plugin_site):
    return plugin_site.add("bar", PROGRESS)


def run_on_a_terminal(isolated, *args: str) -> str:
    """Run `framework ARGS` with stdout on a pseudo-terminal; return what it showed."""
    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": "100", "TERM": "xterm"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "framework", *args],
        cwd=isolated,
        stdout=follower,
        stderr=subprocess.PIPE,
        env=env,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:  # the terminal closed
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(leader)
    assert proc.returncode == 0, proc.stderr.read()
    return b"".join(chunks).decode("utf-8", "replace")


def test_steps_and_their_metrics_are_shown(cli, bar):
    result = cli("run", "bar.count", "--run-id", "r1")
    assert result.exit_code == 0
    assert "bar.count" in result.stdout
    assert "total=780" in result.stdout
    assert "completed" in result.stdout


def test_quiet_prints_nothing(cli, bar):
    result = cli("run", "bar.count", "--run-id", "r1", "--quiet")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == ""


def test_a_progress_bar_is_drawn_on_a_terminal(bar, isolated):
    shown = run_on_a_terminal(isolated, "run", "bar.count", "--run-id", "r1")
    assert "counting" in shown
    assert "━" in shown  # the bar itself


def test_no_progress_bar_when_output_is_not_a_terminal(cli, bar):
    result = cli("run", "bar.count", "--run-id", "r1")
    assert "counting" not in result.stdout
    assert "━" not in result.stdout


def test_quiet_hides_the_progress_bar_on_a_terminal_too(bar, isolated):
    shown = run_on_a_terminal(isolated, "run", "bar.count", "--run-id", "r1", "--quiet")
    assert shown.strip() == ""


def test_a_bar_that_stops_moving_is_still_redrawn_and_the_thread_ends(monkeypatch):
    # The step's thread draws as it advances; while it does not (a long step), the
    # watcher redraws, so the elapsed time keeps moving. Closing the bar ends the watcher.
    # The watcher backs off while the step draws, so it notices a stall within
    # MAX_PAUSE_S: both are shortened here, leaving the sleep below several wakes of margin.
    import io
    import threading
    import time as clock

    from framework.builtin.console import progress
    from framework.builtin.console.progress import StepTerminal

    monkeypatch.setattr(progress, "STALE_S", 0.2)
    monkeypatch.setattr(progress, "MAX_PAUSE_S", 0.4)
    from framework.progress import ProgressBar
    from rich.console import Console

    out = io.StringIO()
    terminal = StepTerminal(Console(file=out, force_terminal=True, width=100), interval_s=10.0)
    before = threading.active_count()
    with ProgressBar(None, total=5, description="stalled", unit="it", metrics={},
                     terminal=terminal) as bar:  # fmt: skip
        bar.advance()
        drawn = out.getvalue().count("stalled")
        clock.sleep(2.5)  # no advance: only the watcher can draw
        assert out.getvalue().count("stalled") > drawn
    deadline = clock.monotonic() + 10
    while threading.active_count() > before and clock.monotonic() < deadline:
        clock.sleep(0.1)
    assert threading.active_count() == before
