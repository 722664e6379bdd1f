"""Values made safe for strict JSON: tensor and numpy scalars become numbers, NaN and
infinities become strings ("nan", "inf"), tuples become lists."""

from __future__ import annotations

import contextlib
import math
from typing import Any


def json_safe(value: Any) -> Any:
    if value is None or isinstance(value, (int, str)):  # bool is an int
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    item = getattr(value, "item", None)  # torch / numpy scalars
    if callable(item):
        with contextlib.suppress(TypeError, ValueError):
            return json_safe(item())
    return str(value)
