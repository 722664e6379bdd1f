"""Progress of a long step: a bar on a terminal, plain lines in a log, nothing when quiet."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

STEP = """
import time
from framework import Step, hookimpl

def count(ctx):
    for i in ctx.progress(range(30), description="counting", unit="item"):
        ctx.log_metrics(step=i, loss=1.0 / (i + 1), tokens_per_s=12345.6)
        time.sleep(0.01)
    with ctx.progress(total=5, description="by hand") as bar:
        for _ in range(5):
            bar.advance()
            time.sleep(0.02)
    ctx.write_text("done.txt", "done")

@hookimpl
def register_steps(register):
    register(Step(id="bar.count", run=__name__ + ":count", outputs=["done.txt"]))
"""
LINE = re.compile(r"^  counting: (\d+)/30 \(\d+%\)  [\d.,]+ item/s  (eta|took) [\d:]+  loss=")


@pytest.fixture
def counting(plugin_site):
    return plugin_site.add("bar", STEP)


@pytest.fixture
def terminal(monkeypatch):
    """The console as it is on a terminal, writing to a buffer the test reads."""
    from framework.builtin import console

    screen = io.StringIO()
    monkeypatch.setattr(console, "_console", Console(file=screen, force_terminal=True, width=200))
    return screen


def test_off_a_terminal_progress_is_plain_lines_with_the_latest_metrics(cli, counting):
    result = cli("run", "bar.count", "--run-id", "r1", "--progress-interval-s", "0.05")

    assert result.exit_code == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if LINE.match(line)]
    assert len(lines) >= 3  # about 0.3 s of counting at one line per 0.05 s
    assert "tokens_per_s=12,346" in lines[0]
    counts = [int(LINE.match(line).group(1)) for line in lines]
    assert counts == sorted(counts) and counts[-1] == 30
    assert "took" in lines[-1]  # the last line closes the loop
    assert "\x1b[" not in result.stdout  # no terminal codes in a log file
    assert "by hand: 5/5" in result.stdout


def test_progress_lines_come_at_most_once_per_interval(cli, counting):
    result = cli("run", "bar.count", "--run-id", "r1", "--progress-interval-s", "3600")

    assert not [line for line in result.stdout.splitlines() if LINE.match(line)]


def test_the_interval_is_an_execution_setting_of_config_and_environment(
    cli, counting, monkeypatch, isolated
):
    (isolated / "c.yaml").write_text("execution:\n  progress_interval_s: 0.05\n")
    from_file = cli("run", "bar.count", "--run-id", "r1", "--config", "c.yaml")
    monkeypatch.setenv("FRAMEWORK_PROGRESS_INTERVAL_S", "0.05")
    from_env = cli("run", "bar.count", "--run-id", "r2", "--force")

    for result in (from_file, from_env):
        assert [line for line in result.stdout.splitlines() if LINE.match(line)], result.stdout


def test_quiet_shows_no_progress_lines(cli, counting):
    result = cli("run", "bar.count", "--run-id", "r1", "--progress-interval-s", "0", "--quiet")

    assert result.exit_code == 0
    assert result.stdout == ""


def test_with_the_console_plugin_blocked_a_run_shows_nothing_and_still_counts(cli, counting):
    result = cli(
        "--no-plugin", "console", "run", "bar.count", "--run-id", "r1", "--progress-interval-s", "0"
    )

    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""


def test_on_a_terminal_a_bar_shows_rate_eta_and_metrics(cli, counting, terminal):
    result = cli("run", "bar.count", "--run-id", "r1")

    assert result.exit_code == 0, result.stderr
    shown = terminal.getvalue()
    assert "counting" in shown and "━" in shown
    assert re.search(r"\d+/30", shown)
    assert "item/s" in shown and "eta" in shown
    assert "loss=" in shown and "tokens_per_s=12,346" in shown
    assert "counting: " not in shown  # the bar, not the plain lines


def test_on_a_narrow_terminal_the_metrics_are_cut_not_wrapped(cli, counting, monkeypatch):
    from framework.builtin import console

    screen = io.StringIO()
    monkeypatch.setattr(console, "_console", Console(file=screen, force_terminal=True, width=72))

    assert cli("run", "bar.count", "--run-id", "r1").exit_code == 0
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue())
    lines = [line.strip() for line in re.split(r"[\r\n]", plain) if line.strip()]
    assert any(line.startswith("counting") and "loss=" in line for line in lines)
    assert not [line for line in lines if line.startswith("tokens_per_s")]  # a wrapped bar
    assert "…" in plain


def test_quiet_draws_no_bar_on_a_terminal(cli, counting, terminal):
    cli("run", "bar.count", "--run-id", "r1", "--quiet")

    assert terminal.getvalue() == ""


def test_only_rank_0_shows_progress(terminal, tmp_path):
    from types import SimpleNamespace

    from framework import ExecutionSettings, RankInfo, Step
    from framework.builtin.console import step_terminal
    from framework.context import StepContext

    def context(rank: int) -> StepContext:
        step, execution = (
            Step(id="bar.count", run="x:y"),
            ExecutionSettings(progress_interval_s=0.0),
        )
        run = SimpleNamespace(execution=execution, rank=RankInfo(rank=rank, world_size=2))
        return StepContext(
            step=step,
            config=None,
            run_id="r",
            run_dir=tmp_path,
            execution=execution,
            rank=run.rank,
            splits=None,
            models=None,
            legacy={},
            emit=lambda event, fields: None,
            metrics_hook=lambda metrics: None,
            terminal=step_terminal(run=run, step=step),
        )

    for rank in (1, 0):
        with context(rank).progress(total=3, description=f"rank {rank}") as bar:
            bar.advance(3)
        context(rank).print(f"printed by rank {rank}")

    assert "rank 0" in terminal.getvalue() and "printed by rank 0" in terminal.getvalue()
    assert "rank 1" not in terminal.getvalue()


def test_sweep_workers_write_their_progress_to_their_logs(cli, counting, isolated):
    result = cli("sweep", "bar.count", "-p", "seed=1,2", "--executor", "process",
                 "--progress-interval-s", "0")  # fmt: skip

    assert result.exit_code == 0, result.stderr
    assert "counting" not in result.stdout  # the sweep's own view stays a table of jobs
    logs = sorted((isolated / "runs" / "sweeps").glob("*/logs/*.log"))
    assert len(logs) == 2
    for log in logs:
        assert [line for line in log.read_text().splitlines() if LINE.match(line)]
