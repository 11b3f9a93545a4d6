"""One hierarchy of errors, each carrying what a user needs to fix it."""

from __future__ import annotations


class WeirError(Exception):
    """Base of every error weir raises on purpose.

    ``exit_code`` is what the CLI exits with: 2 for bad usage, configuration or input,
    1 when the work ran and failed.
    """

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None) -> None:
        self.message = message
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class ConfigError(WeirError):
    """weir.toml, a project module or a definition is invalid."""


class ProjectError(ConfigError):
    """The project's objects do not form a valid graph (unknown upstream, cycle, ...)."""


class UsageError(WeirError):
    """A command was given an option value it does not accept."""


class PartitionError(WeirError):
    """A partition key or range does not fit a partition scheme."""


class UnknownObjectError(WeirError):
    """An asset, source, run or version named by the user does not exist."""


class DataError(WeirError):
    """Input data is malformed, corrupted or does not match what was declared."""


class EnvironmentUnavailable(WeirError):
    """An environment cannot be materialized: a recorded package version (or the interpreter)
    cannot be obtained. The message names it; nothing was changed."""


class StoreError(WeirError):
    """The metadata store is unreachable or inconsistent."""


class RunFailed(WeirError):
    """A run finished but some of its work failed."""

    exit_code = 1
