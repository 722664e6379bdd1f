"""The sweep on the terminal: a live table of jobs, or one line per change when piped."""

from __future__ import annotations

import json
from typing import Any

STYLE = {
    "planned": "dim",
    "queued": "dim",
    "running": "yellow",
    "completed": "green",
    "skipped": "cyan",
    "failed": "red",
    "lost": "red",
    "interrupted": "magenta",
    "cancelled": "magenta",
}
ORDER = ("queued", "running", "completed", "skipped", "failed", "lost", "cancelled")
MAX_ROWS = 30


def describe(parameters: dict[str, Any]) -> str:
    return " ".join(
        f"{k}={json.dumps(v) if isinstance(v, str) else v}" for k, v in parameters.items()
    )


def count_line(counts: dict[str, int]) -> str:
    return "  ".join(f"{name} {counts[name]}" for name in ORDER if counts.get(name))


class SweepView:
    """Follows job updates; a rich Live table on a terminal, plain lines otherwise."""

    def __init__(self, sweep_id: str, jobs: list[dict[str, Any]], *, quiet: bool = False) -> None:
        from rich.console import Console

        self.console = Console(highlight=False, soft_wrap=True)
        self.sweep_id = sweep_id
        self.jobs = {j["run_id"]: j for j in jobs}
        self.quiet = quiet
        self.live: Any = None
        self.counts: dict[str, int] = {}

    def __enter__(self) -> SweepView:
        if not self.quiet and self.console.is_terminal:
            from rich.live import Live

            self.live = Live(
                self._table(), console=self.console, refresh_per_second=4, transient=False
            )
            self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live is not None:
            self.live.update(self._table())
            self.live.__exit__(*exc)
            self.live = None

    def update(self, entry: dict[str, Any], counts: dict[str, int]) -> None:
        self.jobs[entry["run_id"]] = entry
        self.counts = dict(counts)
        if self.live is not None:
            self.live.update(self._table())
        elif not self.quiet and entry["status"] not in ("queued",):
            self._line(entry)

    def _line(self, entry: dict[str, Any]) -> None:
        done = sum(self.counts.get(s, 0) for s in ORDER[2:])
        status = entry["status"]
        took = f" {entry['duration_s']:.1f}s" if entry.get("duration_s") is not None else ""
        where = f" on {entry['where']}" if entry.get("where") and status == "running" else ""
        error = f": {entry['error']}" if entry.get("error") and status != "completed" else ""
        self.console.print(
            f"[{done}/{len(self.jobs)}] [{STYLE.get(status, '')}]{status:<9}[/] "
            f"{entry['run_id']}  {describe(entry['parameters'])}{where}{took}{error}",
            markup=True,
            highlight=False,
        )

    def _table(self) -> Any:
        from rich.table import Table

        table = Table(
            title=f"sweep {self.sweep_id}   {count_line(self.counts)}",
            title_justify="left",
            expand=False,
        )
        table.add_column("#", justify="right")
        for column in ("parameters", "status", "where", "time"):
            table.add_column(column, overflow="fold")
        rows = list(self.jobs.values())
        if len(rows) > MAX_ROWS:  # the interesting ones first: running, then failures
            rank = {"running": 0, "failed": 1, "lost": 1, "queued": 2}
            rows = sorted(rows, key=lambda j: (rank.get(j["status"], 3), j["index"]))[:MAX_ROWS]
            rows.sort(key=lambda j: j["index"])
        for job in rows:
            status = job["status"]
            took = f"{job['duration_s']:.1f}s" if job.get("duration_s") is not None else ""
            table.add_row(
                str(job["index"]),
                describe(job["parameters"]),
                f"[{STYLE.get(status, '')}]{status}[/]",
                job.get("where") or "",
                took,
            )
        if len(self.jobs) > MAX_ROWS:
            table.caption = f"{MAX_ROWS} of {len(self.jobs)} jobs shown"
        return table
