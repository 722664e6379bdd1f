"""Built-in plugin: registers the local executor (jobs run one after another, in process)."""

from __future__ import annotations

from typing import Any

from framework.hookspecs import hookimpl


@hookimpl
def register_executors(register: Any) -> None:
    register("local", "framework.executors:LocalExecutor")
