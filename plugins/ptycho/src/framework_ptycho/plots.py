"""PNG figures: amplitude and phase of a reconstruction, and the side-by-side comparison."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_image(path: Path, image: np.ndarray, title: str, cmap: str) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4, 4))
    shown = ax.imshow(image, cmap=cmap)
    ax.set_title(title)
    ax.axis("off")
    fig.colorbar(shown, ax=ax, fraction=0.046)
    fig.savefig(path, format="png", dpi=80, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)


def save_comparison(path: Path, panels: dict[str, np.ndarray]) -> None:
    """Rows: amplitude and phase; columns: truth and each reconstruction (aligned)."""
    plt = _pyplot()
    names = list(panels)
    height, width = next(iter(panels.values())).shape
    # Panels as wide as the figure allows, rows as tall as the region is: no blank bands.
    panel_w = 3.0
    panel_h = panel_w * height / width + 0.4  # room for the title
    fig, axes = plt.subplots(
        2, len(names), figsize=(panel_w * len(names), 2 * panel_h), squeeze=False
    )
    for col, name in enumerate(names):
        for row, (part, cmap) in enumerate(((np.abs, "gray"), (np.angle, "twilight"))):
            axes[row][col].imshow(part(panels[name]), cmap=cmap)
            axes[row][col].set_title(f"{name} {'amplitude' if row == 0 else 'phase'}")
            axes[row][col].axis("off")
    fig.savefig(path, format="png", dpi=80, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
