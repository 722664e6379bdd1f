"""The grid of a sweep: axes from ``-p FIELD=V1,V2`` or a preset's matrix, merged."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from framework.errors import UsageError


@attrs.frozen
class Axis:
    """One dimension of the grid.

    Plain axes set one field (``lr`` -> ``--lr``; ``train.lr`` -> ``--set train.lr``).
    A bundle axis has named values that each set several fields (a preset's ``view``).
    """

    name: str
    values: tuple[Any, ...]
    bundles: Mapping[str, Mapping[str, Any]] | None = None

    def assignments(self, value: Any) -> dict[str, Any]:
        return dict(self.bundles[value]) if self.bundles is not None else {self.name: value}


def split_values(text: str) -> list[str]:
    """``1e-3,3e-3`` -> two values; commas inside brackets stay (``[1,2],[3,4]``)."""
    out, depth, current = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            out.append(current)
            current = ""
            continue
        depth += {"[": 1, "(": 1, "]": -1, ")": -1}.get(ch, 0)
        current += ch
    out.append(current)
    values = [v.strip() for v in out]
    return [v[1:-1] if v.startswith("[") and v.endswith("]") else v for v in values]


def parse_param(text: str) -> Axis:
    """``-p key=v1,v2`` -> an axis (values still text; typed against the plan later)."""
    name, eq, values = text.partition("=")
    name = name.strip().lstrip("-")
    if not eq or not name or not values.strip():
        raise UsageError(
            f"-p {text!r}: expected FIELD=VALUE1,VALUE2 (e.g. -p learning_rate=1e-3,3e-3)"
        )
    parts = split_values(values)
    if any(p == "" for p in parts):
        raise UsageError(f"-p {text!r}: empty value in the list")
    return Axis(name.replace("-", "_") if "." not in name else name, tuple(parts))


def preset_axes(matrix: Mapping[str, Any]) -> list[Axis]:
    """A preset's matrix: name -> sequence of values, or name -> {label: {field: value}}."""
    axes = []
    for name, values in matrix.items():
        if isinstance(values, Mapping):
            axes.append(Axis(name, tuple(values), {str(k): dict(v) for k, v in values.items()}))
        else:
            axes.append(Axis(name, tuple(values)))
    return axes


def merge_axes(base: list[Axis], override: list[Axis]) -> list[Axis]:
    """`override` (from -p) replaces axes of the same name, and adds new ones at the end."""
    names = {a.name for a in override}
    replaced = [
        next(o for o in override if o.name == a.name) if a.name in names else a for a in base
    ]
    seen = {a.name for a in base}
    return replaced + [a for a in override if a.name not in seen]


def plain(value: Any) -> Any:
    """A value as JSON writes it (tuples become lists)."""
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    return value
