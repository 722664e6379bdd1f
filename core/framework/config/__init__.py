"""The config bridge: typed attrs configs (`fields`), their JSON Schemas (`schema`), values
as text (`text`), and the layers merged and validated into a `Section` each (`resolve`)."""

from __future__ import annotations

from framework.config.fields import (
    canonical_json,
    config_fields,
    config_hash,
    field,
    flatten_config,
    to_plain,
)
from framework.config.resolve import ConfigResolver, Section, env_name, load_config_file
from framework.config.schema import schema_for
from framework.config.text import format_text, parse_text

__all__ = [  # what the rest of the core imports from here
    "ConfigResolver", "Section", "canonical_json", "config_fields", "config_hash",
    "env_name", "field", "flatten_config", "format_text", "load_config_file", "parse_text",
    "schema_for", "to_plain",
]  # fmt: skip
