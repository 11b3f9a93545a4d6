"""Answers for the quickest read-only commands (``weir status``) straight from an embedded
SQLite store through the standard library's ``sqlite3``, without importing SQLAlchemy (which
costs more than the query). The same answers as the repositories': a contract test holds them
equal. Any other backend, or a store that is not at the head revision, uses the full store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from weir.store.database import DATABASE_ENV, HEAD_REVISION
from weir.store.summary import fold

_SUMMARY = """
SELECT asset, code_version, count(*), sum(row_count), min(partition_key), max(partition_key), max(published_at)
FROM partitions WHERE project = :project GROUP BY asset, code_version
"""
_CODE_VERSIONS = """
SELECT code_version, count(*) FROM partitions WHERE project = :project AND asset = :asset GROUP BY code_version
"""
_LAST_RUN = """
SELECT run_id FROM run_tasks WHERE project = :project AND asset = :asset ORDER BY run_id DESC LIMIT 1
"""
_LAST_RUN_STATES = """
SELECT state, count(*) FROM run_tasks WHERE run_id = :run_id AND asset = :asset GROUP BY state
"""


class LightReader:
    """Read-only queries on ``<workspace>/weir.db``; ``open`` returns None when it cannot serve."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.c = connection

    @classmethod
    def open(cls, workspace: Path) -> LightReader | None:
        import os

        if os.environ.get(DATABASE_ENV):
            return None
        path = workspace / "weir.db"
        if not path.is_file():
            return None
        try:
            c = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
            head = c.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.Error:
            return None
        if head is None or head[0] != HEAD_REVISION:
            c.close()
            return None
        c.row_factory = sqlite3.Row
        return cls(c)

    def close(self) -> None:
        self.c.close()

    def summary(self, project: str) -> dict[str, dict]:
        return fold(tuple(r) for r in self.c.execute(_SUMMARY, {"project": project}))

    def code_version_counts(self, project: str, asset: str) -> dict[str, int]:
        return {cv: n for cv, n in self.c.execute(_CODE_VERSIONS, {"project": project, "asset": asset})}

    def last_task_states(self, project: str, asset: str) -> dict[str, str | int]:
        row = self.c.execute(_LAST_RUN, {"project": project, "asset": asset}).fetchone()
        if row is None:
            return {}
        states = self.c.execute(_LAST_RUN_STATES, {"run_id": row[0], "asset": asset})
        return {"run_id": row[0], **{s: n for s, n in states}}

    def active_runs(self) -> int:
        return int(self.c.execute("SELECT count(*) FROM runs WHERE state IN ('queued', 'running')").fetchone()[0])
