"""The config bridge: typed attrs configs, their JSON Schemas, and value resolution.

Precedence, lowest first: class defaults < ``--config FILE`` < ``FRAMEWORK_*``
environment < command line (shared flags, then ``--set step.field=value``). Every
value remembers where it came from, and the merged values are validated against the
schema generated from the class before any step runs.

- `fields`: `field()` and what it records, read back by `config_fields()`
- `schema`: a config class's JSON Schema, and values checked against it
- `text`: a value as the command line and the environment write it, and back
- `resolve`: the layers merged into one `Section` of values per config class
- `build`: the instance from plain values, and plain values for hashing
"""

from __future__ import annotations

from framework.config.build import (
    build_instance,
    canonical_json,
    config_hash,
    flatten_config,
    plain_value,
    to_plain,
)
from framework.config.fields import (
    META_KEY,
    NOTHING,
    FieldInfo,
    config_fields,
    field,
    type_label,
    unwrap_optional,
)
from framework.config.resolve import (
    ENV_PREFIX,
    SWEEP_SECTION,
    ConfigResolver,
    Section,
    Source,
    env_name,
    load_config_file,
)
from framework.config.schema import schema_for, type_schema
from framework.config.text import FALSE, TRUE, format_text, parse_text

__all__ = [
    "ENV_PREFIX",
    "FALSE",
    "META_KEY",
    "NOTHING",
    "SWEEP_SECTION",
    "TRUE",
    "ConfigResolver",
    "FieldInfo",
    "Section",
    "Source",
    "build_instance",
    "canonical_json",
    "config_fields",
    "config_hash",
    "env_name",
    "field",
    "flatten_config",
    "format_text",
    "load_config_file",
    "parse_text",
    "plain_value",
    "schema_for",
    "to_plain",
    "type_label",
    "type_schema",
    "unwrap_optional",
]
