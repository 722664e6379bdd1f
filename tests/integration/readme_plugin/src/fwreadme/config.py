"""The step's config: one required field, one with a default."""

from __future__ import annotations

import attrs
from framework import field


@attrs.define
class CountConfig:
    text: str = field(help="the text whose words are counted")
    top: int = field(3, min=1, help="how many of the most frequent words to keep")
