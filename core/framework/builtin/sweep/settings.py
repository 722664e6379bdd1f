"""An executor's own options: the fields of its ``settings`` class, offered as options of
`framework sweep` and read back into an instance for the batch."""

from __future__ import annotations

from typing import Any

import click

from framework.errors import UsageError


def executor_settings(plugins: Any) -> dict[str, type]:
    """Executor name -> its settings class, for the executors that declare one.

    An executor whose class does not import is left out here; choosing it fails with
    its own error when the sweep starts.
    """
    from framework.entrypoints import import_object

    found = {}
    for name, (path, _) in sorted(plugins.executors.items()):
        try:
            cls = getattr(import_object(path), "settings", None)
        except Exception:
            continue
        if cls is not None:
            found[name] = cls
    return found


def settings_options(settings: dict[str, type], taken: set[str]) -> list[click.Parameter]:
    """One option per field of the executors' settings (``--partition``, ``--ray-address``).

    A mapping field takes ``KEY=VALUE`` and repeats, under its aliases too
    (``slurm_args`` with alias ``slurm_arg`` is ``--slurm-arg constraint=a100``).
    """
    from framework.config import config_fields

    params: list[click.Parameter] = []
    for cls in settings.values():
        for f in config_fields(cls):
            names = [f"--{n.replace('_', '-')}" for n in (*f.aliases, f.name)]
            if set(names) & taken:
                continue
            taken.update(names)
            mapping = getattr(f.type, "__origin__", f.type) is dict
            params.append(
                click.Option(
                    [*names, f.name],
                    multiple=mapping,
                    metavar="KEY=VALUE" if mapping else f.type_name().upper().replace(" ", "_"),
                    help=f"{f.help}{' (repeatable)' if mapping else ''}.",
                )
            )
    return params


def settings_flags(values: dict[str, Any], settings: dict[str, type]) -> dict[str, Any]:
    """The settings options given: field -> `Flag`; KEY=VALUE lists become dicts."""
    from framework.config import config_fields
    from framework.request import Flag

    flags: dict[str, Any] = {}
    for cls in settings.values():
        for f in config_fields(cls):
            value = values.get(f.name)
            flag = f"--{(f.aliases or (f.name,))[0].replace('_', '-')}"
            if value is None or value == () or f.name in flags:
                continue
            if isinstance(value, tuple):
                pairs = {}
                for item in value:
                    key, eq, val = item.partition("=")
                    if not eq or not key:
                        raise UsageError(
                            f"{flag} {item!r}: expected KEY=VALUE (e.g. constraint=a100)"
                        )
                    pairs[key.strip()] = val
                value = pairs
            flags[f.name] = Flag(value, flag)
    return flags


def options_schema() -> dict[str, Any]:
    """The JSON Schema of a config file's ``sweep:`` section: the sweep's own options, the
    resources of a job and the settings of every loaded executor."""
    from framework import Resources, SweepOptions
    from framework.cli import _plugins
    from framework.config import schema_for

    section = schema_for(SweepOptions, title="sweep: section of a config file")
    settings = executor_settings(_plugins(click.get_current_context()))
    for cls in (Resources, *settings.values()):
        section["properties"].update(schema_for(cls, top_level=False)["properties"])
    return section
