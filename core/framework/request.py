"""A run request (`RunRequest`), and the one codec between it and the command line."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

import attrs

ARTIFACT_ROOT_ENV = "FRAMEWORK_ARTIFACT_ROOT"


class Flag(NamedTuple):
    """A config field set on the command line: its value, and where it came from (the
    option as typed, or who set it: ``sweep lr``), which the config's provenance shows."""

    value: Any
    source: str

    def argv(self, name: str) -> list[str]:
        """The `framework run` arguments that set field `name` to this value."""
        from framework.config import format_text

        option = "--" + name.replace("_", "-")
        if isinstance(self.value, bool):
            return [option if self.value else f"--no-{option[2:]}"]
        return [option, self.value if isinstance(self.value, str) else format_text(self.value)]


def as_flags(flags: dict[str, Any]) -> dict[str, Flag]:
    """Field name -> `Flag`, from flags or plain ``(value, source)`` pairs (a JSON list)."""
    return {name: Flag(*pair) for name, pair in flags.items()}


@attrs.define
class RunRequest:
    """Everything that defines one job; plain data, so it can cross a process boundary."""

    target: str
    artifact_root: str = "runs"
    run_id: str | None = None
    only: bool = False
    from_step: str | None = None
    force: bool = False
    config_file: str | None = None
    flags: dict[str, Flag] = attrs.field(factory=dict, converter=as_flags)
    sets: list[str] = attrs.Factory(list)
    command: list[str] = attrs.Factory(list)
    nproc_per_node: int = 1  # > 1: the run goes through torch's launcher (DDP steps)

    def argv(self) -> list[str]:
        """`framework` arguments that make this same run (for a launcher to repeat)."""
        args = ["run", self.target, "--artifact-root", str(artifact_root(self.artifact_root))]
        if self.run_id:
            args += ["--run-id", self.run_id]
        if self.config_file:
            args += ["--config", self.config_file]
        for name, flag in self.flags.items():
            args += flag.argv(name)
        for assignment in self.sets:
            args += ["--set", assignment]
        args += ["--only"] * self.only + ["--force"] * self.force
        if self.from_step:
            args += ["--from", self.from_step]
        return args


def artifact_root(explicit: str | None = None) -> Path:
    return Path(explicit or os.environ.get(ARTIFACT_ROOT_ENV) or "runs")


def command_as_typed(command: list[str]) -> list[str]:
    """The user's command; under our own launcher, the one typed before re-launching."""
    import json

    from framework.distributed import COMMAND_ENV, launched

    typed = os.environ.get(COMMAND_ENV)
    return json.loads(typed) if typed and launched() else command
