"""The loss-curve PNG: training loss per step, validation loss at each evaluation."""

from __future__ import annotations

from pathlib import Path


def plot_losses(history: list[float], val_history: list[list[float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    try:
        ax.plot(range(1, len(history) + 1), history, lw=0.8, label="train loss")
        if val_history:
            steps, values = zip(*val_history, strict=True)
            ax.plot(steps, values, "o-", ms=3, label="val loss")
        ax.set_xlabel("step")
        ax.set_ylabel("cross-entropy (nats/token)")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
