"""Groups of neighbouring scan positions for gridsize g > 1 (C = g^2 patterns a group).

For each seed pattern, C patterns are drawn among its K nearest neighbours (the seed
included); a group's offsets are ``position - mean position of the group`` (see the sign
convention in physics.py). For g = 1 every pattern is its own group with offset 0.
"""

from __future__ import annotations

import numpy as np


def make_groups(
    xs: np.ndarray,
    ys: np.ndarray,
    gridsize: int,
    k_neighbours: int,
    n_groups: int | None,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Pattern indices (G, C) and offsets (G, C, 2) as (dx, dy) in object pixels."""
    count = len(xs)
    c = gridsize * gridsize
    if c == 1:
        index = np.arange(count)[:, None]
        if n_groups is not None and n_groups < count:
            index = np.sort(rng.choice(count, n_groups, replace=False))[:, None]
        return index, np.zeros((len(index), 1, 2))
    if count < c:
        raise ValueError(f"gridsize {gridsize} needs at least {c} patterns, the data has {count}")
    from scipy.spatial import cKDTree

    points = np.stack([xs, ys], axis=1)
    k = min(max(k_neighbours, c), count)
    _, neighbours = cKDTree(points).query(points, k=k)
    total = n_groups if n_groups is not None else count
    seeds = rng.choice(count, total, replace=total > count)
    index = np.stack([rng.choice(neighbours[s], c, replace=False) for s in seeds])
    positions = points[index]  # (G, C, 2)
    offsets = positions - positions.mean(axis=1, keepdims=True)
    return index, offsets
