"""Built-in plugin: sweeps, one step over a grid of parameters, each job its own run.

`framework sweep` expands the grid (``-p`` axes or a plugin's preset), drops the jobs a
``--filter`` rejects, checks every job's config before anything is submitted, skips
jobs that are done and up to date, and hands the rest to an executor; `framework
sweeps` looks back at them. The modules, one concept each: `grid` (axes), `filters`
(the filter language), `planning` (jobs, ids, requests), `record` (the sweep
manifest), `execution` (running a planned sweep), `view` (the live table) and
`commands` (the two click commands).

Hooks: ``register_cli_options`` (the two commands). Presets come from any plugin's
``register_sweeps``; executors from ``register_executors``. Blocked with
``--no-plugin sweep``, and `framework sweep` is then not a command.
"""

from __future__ import annotations

from typing import Any

from framework.hookspecs import hookimpl


@hookimpl
def register_cli_options(register: Any) -> None:
    from framework.builtin.sweep.commands import sweep, sweeps

    register(sweep)
    register(sweeps)
