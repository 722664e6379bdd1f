"""The headline a reconstruction step prints: one table row per reconstruction, and the
paths of its figures (nothing under ``--quiet``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def headline(title: str, rows: dict[str, dict[str, Any]], figures: list[Path], quiet: bool) -> None:
    """`rows`: name -> a `metrics.score` result with "seconds" (scores may be absent)."""
    if quiet:
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in ("reconstruction", "amp SSIM", "phase SSIM", "FRC50", "seconds"):
        table.add_column(column, justify="left" if column == "reconstruction" else "right")
    for name, row in rows.items():
        scored = "amplitude" in row
        table.add_row(
            name,
            f"{row['amplitude']['ssim']:.3f}" if scored else "-",
            f"{row['phase']['ssim']:.3f}" if scored else "-",
            f"{row['frc50']:.3f}" if scored else "-",
            f"{row['seconds']:.3f}",
        )
    console = Console(highlight=False)
    if not console.is_terminal:  # a pipe or a log: no screen to fit, so no wrapped names
        console.width = max(console.width, 100)
    console.print(table)
    for path in figures:
        console.print(f"  {path}")
