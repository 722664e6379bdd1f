"""Built-in plugin: the executors that ship with the core.

``local`` runs the jobs in this process, one after another; ``process`` runs each in a
Python process of its own, several at a time. Cluster executors come from their own
distributions (``framework-slurm``, ``framework-ray``) through the same hook. Nothing is
imported here but the hook marker: an executor's module loads when a sweep uses it.

Hooks: ``register_executors``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from framework.hookspecs import hookimpl

if TYPE_CHECKING:
    from framework.hookspecs import ExecutorRegister


@hookimpl
def register_executors(register: ExecutorRegister) -> None:
    register("local", "framework.builtin.executors.local:LocalExecutor")
    register("process", "framework.builtin.executors.process:ProcessExecutor")
