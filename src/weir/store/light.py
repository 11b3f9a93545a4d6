"""Answers for the quickest read-only commands (``weir status``) straight from an embedded
SQLite store through the standard library's ``sqlite3``, without importing SQLAlchemy (which
costs more than the query). The same answers as the repositories': a contract test holds them
equal. Any other backend, or a store that is not at the head revision, uses the full store."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from weir.store.database import HEAD_REVISION
from weir.store.readers import PartitionSummaryReader, RunSummaryReader
from weir.store.summary import blocked_rows, fold

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
_BLOCKED = """
SELECT b.run_id, b.asset, b.partition_key, b.code_version, b.input_versions, b.reason, b.finished_at, e.data
FROM events e JOIN run_tasks b ON b.run_id = e.run_id AND b.asset = e.asset AND b.partition_key = e.partition_key
WHERE e.kind = 'partition_blocked' AND e.project = :project AND b.project = :project AND b.state = 'blocked'
  AND b.finished_at IS NOT NULL
  AND NOT EXISTS (
    SELECT 1 FROM run_tasks later
    WHERE later.project = b.project AND later.asset = b.asset AND later.partition_key = b.partition_key
      AND later.state IN ('succeeded', 'failed_check', 'blocked', 'failed') AND later.finished_at IS NOT NULL
      AND (later.finished_at > b.finished_at OR (later.finished_at = b.finished_at AND later.run_id > b.run_id)))
ORDER BY b.finished_at, b.asset, b.partition_key
"""


class LightReader:
    """Read-only queries on ``<workspace>/weir.db``; ``open`` returns None when it cannot serve."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.c = connection

    @classmethod
    def open(cls, workspace: Path, *, elsewhere: bool = False) -> LightReader | None:
        """``elsewhere``: the instance keeps its store in another database (nothing to read here)."""
        if elsewhere:
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

    def blocked(self, project: str) -> list[dict]:
        rows = self.c.execute(_BLOCKED, {"project": project})
        return blocked_rows({**dict(r), "input_versions": _json(r["input_versions"]), "data": _json(r["data"])} for r in rows)

    def project_root(self, name: str) -> str | None:
        row = self.c.execute("SELECT root FROM projects WHERE name = :name", {"name": name}).fetchone()
        return row[0] if row else None

    def active_runs(self) -> int:
        return int(self.c.execute("SELECT count(*) FROM runs WHERE state IN ('queued', 'running')").fetchone()[0])


def _json(text: str | None) -> Any:
    import json

    return json.loads(text) if text else None


def _implements(reader: LightReader) -> tuple[RunSummaryReader, PartitionSummaryReader]:
    return reader, reader  # mypy holds the light reader to the protocols it shares with the repositories
