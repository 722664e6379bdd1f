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
from framework.manifest import manifest_schema

STEPS_DIR = "steps"
SUFFIX = ".schema.json"


def dump(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def render_all(plugins: Any) -> dict[str, str]:
    """Relative path -> file text, for every schema the loaded plugins define."""
    from framework.entrypoints import import_object
    from framework.prepare import load_config_class

    out = {
        "manifest.schema.json": dump(manifest_schema()),
        "execution.schema.json": dump(schema_for(ExecutionSettings, title="execution settings")),
    }
    for name, (path, _) in sorted(plugins.schemas.items()):  # the sweep plugin's, say
        out[name] = dump(import_object(path)())
    for entry in plugins.steps:
        # A step whose config class is broken is its plugin's failure (see `framework plugins`).
        if entry.spec.config and plugins.step_problem(entry.id, callable_too=False) is None:
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


def write_or_check(ctx: Any, out: str, check: bool) -> None:
    """`framework schema`: bring `out` up to date, or (`check`) fail on any drift."""
    import click

    from framework.cli import _plugins
    from framework.errors import SchemaDriftError

    result = sync(_plugins(ctx), Path(out), write=not check)
    drift = result.changed + [f"{rel} (no such step)" for rel in result.orphaned]
    if check and drift:
        raise SchemaDriftError(
            f"schemas out of date in {out}: {', '.join(drift)}", hint="run 'framework schema'"
        )
    status = f"{len(drift)} updated" if drift and not check else "up to date"
    click.echo(f"{result.total} schemas in {out}, {status}")
