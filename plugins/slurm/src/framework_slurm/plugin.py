"""The plugin's hooks: the ``slurm`` executor. Its options (``--partition``,
``--time-min``, ...) are the fields of its ``settings`` class, which `framework sweep`
offers once the executor is registered. submitit is imported only when a sweep runs."""

from __future__ import annotations

from typing import Any

from framework import hookimpl


@hookimpl
def register_executors(register: Any) -> None:
    register("slurm", "framework_slurm.executor:SlurmExecutor")
