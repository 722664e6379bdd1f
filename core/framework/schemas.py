"""Render the JSON Schemas committed in schemas/: the manifest and each step config."""

from __future__ import annotations

import json
from typing import Any

from framework.config import schema_for
from framework.execution import ExecutionSettings
from framework.manifest import MANIFEST_SCHEMA


def dump(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def render_all(plugins: Any) -> dict[str, str]:
    """Relative path -> file text, for every schema the installed plugins define."""
    from framework.runner import load_config_class

    out = {
        "manifest.schema.json": dump(MANIFEST_SCHEMA),
        "execution.schema.json": dump(schema_for(ExecutionSettings, title="execution settings")),
    }
    for entry in plugins.steps:
        if entry.spec.config:
            cls = load_config_class(entry.spec.config, entry.id)
            out[f"steps/{entry.id}.schema.json"] = dump(schema_for(cls, title=f"{entry.id} config"))
    return out
