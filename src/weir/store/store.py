"""The metadata store facade: one connection, repositories per concept, explicit transactions."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from weir.store.database import connect, database_url, upgrade
from weir.store.repositories import CheckResults, Environments, Metrics, Partitions, Runs, Signals, SourcePartitions


class MetadataStore:
    """Holds one connection for the whole command; every write goes through ``transaction()``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine, self.connection = connect(url)
        self.runs = Runs(self.connection)
        self.partitions = Partitions(self.connection)
        self.environments = Environments(self.connection)
        self.checks = CheckResults(self.connection)
        self.metrics = Metrics(self.connection)
        self.sources = SourcePartitions(self.connection)
        self.signals = Signals(self.connection)

    @classmethod
    def for_workspace(cls, workspace: Path) -> MetadataStore:
        workspace.mkdir(parents=True, exist_ok=True)
        return cls(database_url(workspace))

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Commit on success, roll back on error."""
        try:
            yield
            self.connection.commit()
        except BaseException:
            self.connection.rollback()
            raise

    def read(self):
        """Reads autobegin a transaction; end it so a long-lived connection sees new data."""
        return _ReadScope(self.connection)

    def upgrade(self) -> str | None:
        """Apply pending migrations; returns the revision the store had when this command opened it."""
        upgrade(self.connection)
        return self.connection.info.get("weir_revision_before")

    def close(self) -> None:
        self.connection.close()
        self.engine.dispose()


class _ReadScope(contextlib.AbstractContextManager):
    def __init__(self, connection) -> None:
        self.connection = connection

    def __exit__(self, *exc) -> None:
        self.connection.rollback()
