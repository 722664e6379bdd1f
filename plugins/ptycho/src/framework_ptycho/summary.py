"""A study's summary: every job's metrics in one CSV, and SSIM against dose in one PNG.

One CSV row per job (its parameters, status, and for each reconstruction in its
metrics.json, amplitude and phase SSIM, FRC50 and seconds); the figure has an amplitude
and a phase panel, one line per view and reconstruction (pinn, refined, baseline).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

RECONSTRUCTIONS = ("pinn", "refined", "baseline")
MEASURES = ("amp_ssim", "phase_ssim", "frc50", "seconds")


def job_row(parameters: dict[str, Any], status: str, metrics: Path | None) -> dict[str, Any]:
    """One CSV row: parameters, status, and each reconstruction's figures (blank if none)."""
    row: dict[str, Any] = {**parameters, "status": status}
    scores = json.loads(metrics.read_text()) if metrics is not None and metrics.is_file() else {}
    for name in RECONSTRUCTIONS:
        part = scores.get(name, {})
        row[f"{name}_engine"] = part.get("engine", "")
        row[f"{name}_amp_ssim"] = part.get("amplitude", {}).get("ssim", "")
        row[f"{name}_phase_ssim"] = part.get("phase", {}).get("ssim", "")
        row[f"{name}_frc50"] = part.get("frc50", "")
        row[f"{name}_seconds"] = part.get("seconds", "")
    return row


def write_summary(folder: Path, rows: list[dict[str, Any]]) -> tuple[Path, Path]:
    """summary.csv and summary.png in `folder`; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    csv_path = folder / "summary.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    png_path = folder / "summary.png"
    _plot(png_path, rows)
    return csv_path, png_path


def _plot(path: Path, rows: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    views = sorted({str(row.get("view", "")) for row in rows})
    styles = {"pinn": "-", "refined": "--", "baseline": ":"}
    for ax, (part, title) in zip(
        axes, (("amp_ssim", "amplitude SSIM"), ("phase_ssim", "phase SSIM")), strict=True
    ):
        for view_number, view in enumerate(views):
            for name in RECONSTRUCTIONS:
                points = sorted(
                    (float(row["nphotons"]), float(row[f"{name}_{part}"]))
                    for row in rows
                    if str(row.get("view", "")) == view and row.get(f"{name}_{part}", "") != ""
                )
                if not points:
                    continue
                xs, ys = zip(*points, strict=True)
                engine = next((r[f"{name}_engine"] for r in rows if r.get(f"{name}_engine")), "")
                ax.plot(
                    xs,
                    ys,
                    styles[name],
                    marker="o",
                    color=f"C{view_number}",
                    label=f"{view}: {name} ({engine})" if engine else f"{view}: {name}",
                )
        ax.set_xscale("log")
        ax.set_xlabel("photons per pattern")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("SSIM")
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
