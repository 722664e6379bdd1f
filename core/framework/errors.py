"""Exceptions written for the user: the CLI prints the message as one line."""

from __future__ import annotations


class FrameworkError(Exception):
    """Base of every error the CLI reports as one line (exit code 2 unless overridden)."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        text = f"{self.message} ({self.hint})" if self.hint else self.message
        # Control characters (a newline in a key the user typed) as escapes: one line.
        return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class UsageError(FrameworkError):
    """The command line names something that does not exist or does not fit."""


class CycleError(FrameworkError):
    """The `requires` edges of the steps form a cycle."""


class ConfigError(FrameworkError):
    """A config value, file or override is invalid; raised before any step runs."""


class PluginError(FrameworkError):
    """A plugin is broken: it failed to load, a hook raised, a spec is wrong or taken twice."""


class ManifestError(FrameworkError):
    """A run's manifest is missing, unreadable or does not match its schema."""


class RunLockedError(FrameworkError):
    """Another process is running in the same run directory."""


class ArtifactError(FrameworkError):
    """An artifact path is invalid, undeclared or missing."""


class StorageError(FrameworkError):
    """The artifact root cannot hold the run: not a directory, not writable, or full."""


class MissingInputsError(ArtifactError):
    """A step's upstream outputs are absent (with --only)."""


class SplitContractError(FrameworkError):
    """A step read a data split it did not declare, or splits overlap."""


class StepFailedError(FrameworkError):
    """A step raised; the run is recorded as failed."""

    exit_code = 1


class VerifyError(FrameworkError):
    """Artifacts changed or vanished after the run."""

    exit_code = 1


class SchemaDriftError(FrameworkError):
    """A committed JSON Schema no longer matches the class it was generated from."""

    exit_code = 1


def short_error(exc: BaseException) -> str:
    """The exception in one line, with its type: ``ValueError: bad value``."""
    first = next(iter(str(exc).strip().splitlines()), "")
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
