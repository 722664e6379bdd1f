"""Synthetic points on the line y = 3x - 1 plus noise, split by sample id."""

import random

SLOPE, INTERCEPT = 3.0, -1.0


def make_points(
    n_samples: int, noise: float, seed: int
) -> dict[str, list[tuple[str, float, float]]]:
    """{"TRAIN": [(id, x, y), ...], "TEST": [...]}, the same for the same seed."""
    rng = random.Random(seed)
    points = []
    for i in range(n_samples):
        x = rng.uniform(-1.0, 1.0)
        points.append((f"p{i:05d}", x, SLOPE * x + INTERCEPT + rng.gauss(0.0, noise)))
    cut = int(0.8 * n_samples)
    return {"TRAIN": points[:cut], "TEST": points[cut:]}
