"""Code definitions: the text and settings behind each code version, kept from its first build
so a diagnosis can show what changed, not only that the hash did."""

from __future__ import annotations

import time

import sqlalchemy as sa

from weir.store import schema as t
from weir.store.base import Repository, dialect_insert


class CodeVersions(Repository):
    def save(self, rows: list[dict]) -> None:
        """Keep each (project, asset, code_version) once; later saves of a known one do nothing
        (two runs starting together may both save it)."""
        for row in rows:
            self.c.execute(
                dialect_insert(self.c, t.code_versions).values(**{"created_at": time.time(), **row})
                .on_conflict_do_nothing(index_elements=["project", "asset", "code_version"])
            )

    def get(self, project: str, asset: str, code_version: str) -> dict | None:
        c = t.code_versions.c
        row = self.c.execute(
            sa.select(t.code_versions).where(c.project == project, c.asset == asset, c.code_version == code_version)
        ).mappings().first()
        return dict(row) if row else None

    def of_asset(self, project: str, asset: str) -> list[dict]:
        """Every kept version of ``asset``'s code, newest first."""
        c = t.code_versions.c
        q = sa.select(t.code_versions).where(c.project == project, c.asset == asset).order_by(c.created_at.desc())
        return [dict(r) for r in self.c.execute(q).mappings()]
