"""Groups of neighbouring scan positions for gridsize g > 1 (C = g^2 patterns a group).

For each seed pattern, C patterns are drawn among its K nearest neighbours (the seed
included); a group's offsets are ``position - mean position of the group`` (see the sign
convention in physics.py). For g = 1 every pattern is its own group with offset 0.
"""

from __future__ import annotations

import numpy as np


def _need(count: int, gridsize: int) -> None:
    c = gridsize * gridsize
    if count < c:
        raise ValueError(f"gridsize {gridsize} needs at least {c} patterns, the data has {count}")


def _with_offsets(points: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`index` and each group's offsets: position - the group's mean position."""
    positions = points[index]  # (G, C, 2)
    return index, positions - positions.mean(axis=1, keepdims=True)


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
    _need(count, gridsize)
    from scipy.spatial import cKDTree

    points = np.stack([xs, ys], axis=1)
    k = min(max(k_neighbours, c), count)
    _, neighbours = cKDTree(points).query(points, k=k)
    total = n_groups if n_groups is not None else count
    seeds = rng.choice(count, total, replace=total > count)
    index = np.stack([rng.choice(neighbours[s], c, replace=False) for s in seeds])
    return _with_offsets(points, index)


def cover_groups(
    xs: np.ndarray, ys: np.ndarray, gridsize: int, k_neighbours: int
) -> tuple[np.ndarray, np.ndarray]:
    """Groups that cover every pattern, about count / C of them: what inference needs.

    Deterministic: patterns in scan order (y, then x); each one not yet covered seeds a
    group of itself and its nearest uncovered neighbours among the K nearest, topped up
    with the nearest covered ones where too few are left. Same return as `make_groups`.
    """
    count, c = len(xs), gridsize * gridsize
    if c == 1:
        return np.arange(count)[:, None], np.zeros((count, 1, 2))
    _need(count, gridsize)
    from scipy.spatial import cKDTree

    points = np.stack([xs, ys], axis=1)
    k = min(max(k_neighbours, c), count)
    # The K nearest (the point itself included), and any tied with the K-th: on a grid,
    # which of four equidistant diagonals the tree returns is arbitrary.
    distances, neighbours = cKDTree(points).query(points, k=min(count, k + 8))
    within = distances <= distances[:, k - 1 : k] + 1e-6
    order = np.lexsort((xs, ys))
    rank = np.empty(count, dtype=int)
    rank[order] = np.arange(count)
    covered = np.zeros(count, dtype=bool)
    groups = []
    for seed in order:
        if covered[seed]:
            continue
        # Nearest first; at equal distance, the later in scan order, so that on a grid
        # the groups come out as tiles rather than reaching back into covered rows.
        near_seed, dist_seed = neighbours[seed][within[seed]], distances[seed][within[seed]]
        ranked = sorted(zip(dist_seed.round(6), -rank[near_seed], near_seed, strict=True))
        near = [int(j) for _, _, j in ranked if j != seed]
        fresh = [j for j in near if not covered[j]]
        group = [int(seed), *fresh, *[j for j in near if covered[j]]][:c]
        covered[group] = True
        groups.append(group)
    return _with_offsets(points, np.array(groups))
