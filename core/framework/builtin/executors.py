"""Built-in plugin: the executors that ship with the core.

``local`` (in this process, one job after another) and ``process`` (a process per job,
several at a time) need nothing more; ``slurm`` needs submitit and ``ray`` needs Ray
(extras ``framework[slurm]`` and ``framework[ray]``), imported only when used.
"""

from __future__ import annotations

from typing import Any

from framework.hookspecs import hookimpl


@hookimpl
def register_executors(register: Any) -> None:
    register("local", "framework.executors:LocalExecutor")
    register("process", "framework.process_executor:ProcessExecutor")
    register("slurm", "framework.executor_slurm:SlurmExecutor")
    register("ray", "framework.executor_ray:RayExecutor")
