"""The config bridge: typed attrs configs, their JSON Schemas, and value resolution.

Precedence, lowest first: class defaults < ``--config FILE`` < ``FRAMEWORK_*``
environment < command line (shared flags, then ``--set step.field=value``). Every
value remembers where it came from, and the merged values are validated against the
schema generated from the class before any step runs.

- `fields`: `field()` and what it records, read back by `config_fields()`; an instance
  built from plain values, and plain values (and their hash) from an instance
- `schema`: a config class's JSON Schema, and values checked against it
- `text`: a value as the command line and the environment write it, and back
- `resolve`: the layers merged into one `Section` of values per config class
"""

from __future__ import annotations

from framework.config.fields import (
    NOTHING,
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
    "NOTHING", "ConfigResolver", "Section", "canonical_json", "config_fields", "config_hash",
    "env_name", "field", "flatten_config", "format_text", "load_config_file", "parse_text",
    "schema_for", "to_plain",
]  # fmt: skip
