"""The plugin's hooks: the ``ray`` executor. Its option (``--ray-address``) is the field
of its ``settings`` class, which `framework sweep` offers once the executor is
registered. Ray is imported only when a sweep runs."""

from __future__ import annotations

from typing import Any

from framework import hookimpl


@hookimpl
def register_executors(register: Any) -> None:
    register("ray", "framework_ray.executor:RayExecutor")
