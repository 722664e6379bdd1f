"""The dose x overlap study's matrix (plain data: cheap to import)."""

from __future__ import annotations

DOSES = (1e3, 1e4, 1e5)
# A view fixes the fields that change together: grouping and scan overlap.
VIEWS = {
    "baseline": {"gridsize": 1, "overlap": 0.75},
    "dense": {"gridsize": 2, "overlap": 0.75},
    "sparse": {"gridsize": 2, "overlap": 0.4},
}
