"""The JSON Schemas committed in schemas/: the run and sweep manifests, the execution
settings, a config file's sweep section, and each step's config, rendered from the code so
a committed file can be checked against it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs

from framework.config import schema_for
from framework.execution import ExecutionSettings
from framework.manifest import MANIFEST_SCHEMA

STEPS_DIR = "steps"
SUFFIX = ".schema.json"


def dump(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def render_all(plugins: Any) -> dict[str, str]:
    """Relative path -> file text, for every schema the loaded plugins define."""
    from framework.builtin.executors.batch import Resources
    from framework.builtin.sweep.execution import SweepOptions
    from framework.builtin.sweep.record import SWEEP_MANIFEST_SCHEMA
    from framework.builtin.sweep.settings import executor_settings
    from framework.runner import load_config_class

    sweep_section = schema_for(SweepOptions, title="sweep: section of a config file")
    for cls in (Resources, *executor_settings(plugins).values()):
        sweep_section["properties"].update(schema_for(cls, top_level=False)["properties"])
    out = {
        "manifest.schema.json": dump(MANIFEST_SCHEMA),
        "sweep_manifest.schema.json": dump(SWEEP_MANIFEST_SCHEMA),
        "sweep_options.schema.json": dump(sweep_section),
        "execution.schema.json": dump(schema_for(ExecutionSettings, title="execution settings")),
    }
    for entry in plugins.steps:
        if entry.spec.config:
            cls = load_config_class(entry.spec.config, entry.id)
            out[f"{STEPS_DIR}/{entry.id}{SUFFIX}"] = dump(
                schema_for(cls, title=f"{entry.id} config")
            )
    return out


@attrs.frozen
class SchemaSync:
    total: int
    changed: list[str]  # files that differ from (or are missing for) their class
    orphaned: list[str]  # files for steps of a loaded plugin that no longer exist


def sync(plugins: Any, out: Path, *, write: bool) -> SchemaSync:
    """Compare `out` with the rendered schemas; with `write`, bring it up to date.

    A step schema is an orphan only when its plugin is loaded and no longer has the
    step, so running with a plugin disabled never deletes that plugin's files.
    """
    rendered = render_all(plugins)
    changed = []
    for rel, text in rendered.items():
        path = out / rel
        if path.exists() and path.read_text() == text:
            continue
        changed.append(rel)
        if write:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    namespaces = {entry.spec.plugin for entry in plugins.steps}
    orphaned = []
    for path in sorted((out / STEPS_DIR).glob(f"*{SUFFIX}")):
        rel = f"{STEPS_DIR}/{path.name}"
        step_id = path.name.removesuffix(SUFFIX)
        if rel not in rendered and step_id.split(".", 1)[0] in namespaces:
            orphaned.append(rel)
            if write:
                path.unlink()
    return SchemaSync(len(rendered), changed, orphaned)
