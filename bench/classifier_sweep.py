"""Threshold sweep of 10 million logits vs scikit-learn's precision_recall_curve.

Both sides take the same float32 logits and 0/1 labels (30% positive, with signal) and
return precision and recall at every distinct score; ours also computes FPR, F1 and
accuracy. Runs are interleaved and the median of each side is compared in one process.
"""

from __future__ import annotations

import numpy as np
from common import command_line, median, parser, report, timed

TARGET = 1.0


def make_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.random(n) < 0.3
    logits = (rng.standard_normal(n) + 1.5 * labels).astype(np.float32)
    return logits, labels


def ours(logits: np.ndarray, labels: np.ndarray) -> tuple:
    from framework_classifier import sweep

    c = sweep.curve(logits, labels)
    return c.thresholds, c.precision, c.recall, c.fpr, c.f1, c.accuracy


def sklearn_pr(logits: np.ndarray, labels: np.ndarray) -> tuple:
    from sklearn.metrics import precision_recall_curve

    return precision_recall_curve(labels, logits)


def main(argv: list[str] | None = None) -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10_000_000, help="logits (default 10,000,000)")
    p.add_argument("--repeat", type=int, default=3, help="timed runs of each side (default 3)")
    p.add_argument("--quick", action="store_true", help="200,000 logits, one run: a smoke test")
    args = p.parse_args(argv)
    n, repeat = (200_000, 1) if args.quick else (args.n, args.repeat)

    logits, labels = make_data(n, seed=0)
    thresholds, precision, recall, *_ = ours(logits, labels)
    sk_precision, sk_recall, sk_thresholds = sklearn_pr(logits, labels)
    assert np.array_equal(thresholds, sk_thresholds.astype(np.float64)), "thresholds differ"
    assert np.allclose(precision, sk_precision[:-1]) and np.allclose(recall, sk_recall[:-1])
    print(f"{n:,} logits, {thresholds.size:,} distinct thresholds; results equal sklearn's")

    ours_s, sk_s = [], []
    for _ in range(repeat):
        ours_s.append(timed(lambda: ours(logits, labels)))
        sk_s.append(timed(lambda: sklearn_pr(logits, labels)))
    t_ours, t_sk = median(ours_s), median(sk_s)
    ratio = t_ours / t_sk
    print("| side | median s | runs |\n|---|---|---|")
    print(f"| framework_classifier.sweep.curve | {t_ours:.3f} | {repeat} |")
    print(f"| sklearn precision_recall_curve | {t_sk:.3f} | {repeat} |")
    cmd_args = ["--quick"] if args.quick else ["--n", str(args.n), "--repeat", str(args.repeat)]
    return report(
        args,
        name=f"classifier: threshold sweep of {n:,} logits vs sklearn precision_recall_curve",
        figure=f"{ratio:.2f}x ({t_ours:.2f} s vs {t_sk:.2f} s)",
        target=f"<= {TARGET:.1f}x",
        met=ratio <= TARGET,
        command=command_line("classifier_sweep.py", cmd_args),
        details={"n": n, "ours_s": ours_s, "sklearn_s": sk_s, "ratio": ratio},
    )


if __name__ == "__main__":
    main()
