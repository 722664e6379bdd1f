"""Built-in plugin: every event of a run as one JSON object a line in events.jsonl."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from framework.hookspecs import hookimpl

if TYPE_CHECKING:
    from framework.hookspecs import Event, RunInfo, RunStatus

_open: dict[str, Any] = {}


@hookimpl
def on_event(run: RunInfo, event: Event) -> None:
    if not run.rank.is_main:
        return
    key = str(run.run_dir)
    fh = _open.get(key)
    if fh is None:
        from framework.manifest import EVENTS_NAME  # not at import: list-steps loads this plugin

        # Kept open for the whole run (closed in after_run): one open per run, not per event.
        fh = _open[key] = open(run.run_dir / EVENTS_NAME, "a", encoding="utf-8")  # noqa: SIM115
    import json  # not at import: list-steps loads this plugin

    from framework.jsonsafe import json_safe

    fh.write(json.dumps(json_safe(event), allow_nan=False) + "\n")
    fh.flush()


@hookimpl
def after_run(run: RunInfo, status: RunStatus) -> None:
    fh = _open.pop(str(run.run_dir), None)
    if fh is not None:
        fh.close()
