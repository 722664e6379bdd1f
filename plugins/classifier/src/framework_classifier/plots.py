"""PR and ROC curve images of a sweep (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

from framework_classifier.sweep import Curve


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt, *plt.subplots(figsize=(5, 5), dpi=100)


def pr_curve(path: Path, curves: dict[str, Curve], chosen: dict[str, int]) -> None:
    plt, fig, ax = _figure()
    for name, c in curves.items():
        (line,) = ax.plot(c.recall, c.precision, label=name, drawstyle="steps-post")
        i = chosen[name]
        ax.plot(c.recall[i], c.precision[i], "o", color=line.get_color())
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.02), ylim=(0, 1.02))
    ax.set_title("precision-recall on VAL_CALIB (dot: chosen threshold)")
    ax.legend(loc="lower left")
    fig.savefig(path, format="png")
    plt.close(fig)


def roc_curve(
    path: Path, curves: dict[str, Curve], chosen: dict[str, int], aucs: dict[str, float]
) -> None:
    plt, fig, ax = _figure()
    ax.plot([0, 1], [0, 1], ":", color="grey")
    for name, c in curves.items():
        (line,) = ax.plot(
            [0, *c.fpr[::-1]], [0, *c.tpr[::-1]], label=f"{name} (AUC {aucs[name]:.3f})"
        )
        i = chosen[name]
        ax.plot(c.fpr[i], c.tpr[i], "o", color=line.get_color())
    ax.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.02))
    ax.set_title("ROC on VAL_CALIB (dot: chosen threshold)")
    ax.legend(loc="lower right")
    fig.savefig(path, format="png")
    plt.close(fig)
