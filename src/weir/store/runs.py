"""Runs and their per-partition tasks."""

from __future__ import annotations

import builtins
from typing import Any

import sqlalchemy as sa

from weir.model.rows import BlockedBuild, BuildRecord, RunRecord, TaskRecord
from weir.store import schema as t
from weir.store.base import Repository
from weir.store.readers import RunReader, RunSummaryReader
from weir.store.summary import blocked_rows

ACTIVE_RUN_STATES = ("queued", "running")
BUILT_STATES = ("succeeded", "failed_check", "blocked", "failed")  # with a finish time: what a build decided


class Runs(Repository):
    """Runs and their per-partition tasks (a ``RunReader`` and a ``RunSummaryReader``). (Annotations below the ``list`` method name the
    builtin as ``builtins.list``: in the class body, ``list`` is that method.)"""

    def create(self, row: dict) -> None:
        self.c.execute(t.runs.insert(), row)

    def update(self, run_id: str, **fields: Any) -> None:
        self.c.execute(t.runs.update().where(t.runs.c.id == run_id).values(**fields))

    def get(self, run_id: str) -> RunRecord | None:
        row = self.c.execute(sa.select(t.runs).where(t.runs.c.id == run_id)).mappings().first()
        return RunRecord.from_row(row) if row else None

    def find(self, prefix: str) -> list[str]:
        rows = self.c.execute(sa.select(t.runs.c.id).where(t.runs.c.id.startswith(prefix)).limit(3)).scalars()
        return list(rows)

    def by_ref(self, ref: str) -> RunRecord | None:
        """The run with id ``ref``, else the one run whose id starts with it; a prefix that fits
        several is an UnknownObjectError naming them."""
        run = self.get(ref)
        if run is not None:
            return run
        matches = self.find(ref)
        if len(matches) > 1:
            from weir.errors import UnknownObjectError

            raise UnknownObjectError(f"run id {ref!r} is ambiguous: {', '.join(matches)}")
        return self.get(matches[0]) if matches else None

    def list(self, *, project: str | None = None, limit: int = 20, state: str | None = None) -> builtins.list[RunRecord]:
        q = sa.select(t.runs).order_by(t.runs.c.created_at.desc(), t.runs.c.id.desc()).limit(limit)
        if project:
            q = q.where(t.runs.c.project == project)
        if state:
            q = q.where(t.runs.c.state == state)
        return [RunRecord.from_row(r) for r in self.c.execute(q).mappings()]

    def active(self) -> builtins.list[RunRecord]:
        q = sa.select(t.runs).where(t.runs.c.state.in_(ACTIVE_RUN_STATES))
        return [RunRecord.from_row(r) for r in self.c.execute(q).mappings()]

    def configuration_ids(self, run_ids: builtins.list[str]) -> dict[str, str | None]:
        """The configuration each of ``run_ids`` ran with (None for runs from before they were kept)."""
        r = t.runs.c
        out: dict[str, str | None] = {}
        ids = sorted(set(run_ids))
        for i in range(0, len(ids), 500):
            out.update((rid, cid) for rid, cid in self.c.execute(
                sa.select(r.id, r.configuration_id).where(r.id.in_(ids[i : i + 500]))))
        return out

    def add_tasks(self, rows: builtins.list[dict]) -> None:
        if rows:
            self.c.execute(t.run_tasks.insert(), rows)

    def update_tasks(self, run_id: str, rows: builtins.list[dict]) -> None:
        """Update tasks by (asset, partition_key); every row must carry the same keys."""
        if not rows:
            return
        fields = [k for k in rows[0] if k not in ("asset", "partition_key")]
        stmt = (
            t.run_tasks.update()
            .where(
                t.run_tasks.c.run_id == run_id,
                t.run_tasks.c.asset == sa.bindparam("b_asset"),
                t.run_tasks.c.partition_key == sa.bindparam("b_key"),
            )
            .values({f: sa.bindparam(f"b_{f}") for f in fields})
        )
        self.c.execute(
            stmt,
            [{"b_asset": r["asset"], "b_key": r["partition_key"], **{f"b_{f}": r[f] for f in fields}} for r in rows],
        )

    def settle_held(self, run_id: str, asset: str, keys: builtins.list[str], *, state: str, reason: str,
                    output_version: int | None = None) -> None:
        """Tasks of ``run_id`` still ``held`` for ``keys`` become ``state`` (approved: what their
        audit made them, with ``output_version``; rejected or replaced: ``rejected``)."""
        c = t.run_tasks.c
        for i in range(0, len(keys), 500):
            self.c.execute(t.run_tasks.update().where(
                c.run_id == run_id, c.asset == asset, c.partition_key.in_(keys[i : i + 500]), c.state == "held",
            ).values(state=state, reason=reason, output_version=output_version))

    def builds(self, project: str, asset: str, *, key: str | None = None, states: tuple[str, ...] = (),
               before: float | None = None, key_before: str | None = None, limit: int = 1) -> builtins.list[BuildRecord]:
        """Finished builds of ``asset`` (of partition ``key``, in ``states``, finished before
        ``before``, of a partition before ``key_before``), newest first (by partition when
        ``key_before`` is given), each with its run's environment and configuration ids."""
        k, r = t.run_tasks.c, t.runs.c
        q = (sa.select(t.run_tasks, r.environment_id, r.configuration_id).join(t.runs, r.id == k.run_id)
             .where(k.project == project, k.asset == asset, k.finished_at.is_not(None)))
        if key is not None:
            q = q.where(k.partition_key == key)
        if states:
            q = q.where(k.state.in_(states))
        if before is not None:
            q = q.where(k.finished_at < before)
        order = [k.finished_at.desc()]
        if key_before is not None:
            q = q.where(k.partition_key < key_before)
            order.insert(0, k.partition_key.desc())
        return [BuildRecord.from_row(x) for x in self.c.execute(q.order_by(*order).limit(limit)).mappings()]

    def tasks(self, run_id: str) -> builtins.list[TaskRecord]:
        q = sa.select(t.run_tasks).where(t.run_tasks.c.run_id == run_id).order_by(t.run_tasks.c.asset, t.run_tasks.c.partition_key)
        return [TaskRecord.from_row(r) for r in self.c.execute(q).mappings()]

    def unfinished_tasks_to(self, run_id: str, state: str, reason: str) -> None:
        self.c.execute(
            t.run_tasks.update()
            .where(t.run_tasks.c.run_id == run_id, t.run_tasks.c.state.in_(("queued", "running")))
            .values(state=state, reason=reason)
        )

    def staged_paths(self, project: str, asset: str, states: tuple[str, ...] = ("blocked",)) -> dict[str, str]:
        """Staged files of ``asset``'s tasks in ``states`` (quarantined builds by default): path -> run id."""
        c = t.run_tasks.c
        q = sa.select(c.staged_path, c.run_id).where(
            c.project == project, c.asset == asset, c.state.in_(states), c.staged_path.is_not(None)
        )
        return {path: run_id for path, run_id in self.c.execute(q)}

    def task_counts(self, run_id: str) -> dict[str, int]:
        q = sa.select(t.run_tasks.c.state, sa.func.count()).where(t.run_tasks.c.run_id == run_id).group_by(t.run_tasks.c.state)
        return {s: n for s, n in self.c.execute(q)}

    def last_task_states(self, project: str, asset: str) -> dict[str, str | int]:
        """The newest run that touched ``asset`` and its task counts by state: {"run_id": id, state: n}."""
        q = (
            sa.select(t.run_tasks.c.run_id)
            .where(t.run_tasks.c.project == project, t.run_tasks.c.asset == asset)
            .order_by(t.run_tasks.c.run_id.desc())
            .limit(1)
        )
        run_id = self.c.execute(q).scalar()
        if run_id is None:
            return {}
        q2 = (
            sa.select(t.run_tasks.c.state, sa.func.count())
            .where(t.run_tasks.c.run_id == run_id, t.run_tasks.c.asset == asset)
            .group_by(t.run_tasks.c.state)
        )
        return {"run_id": run_id, **{s: n for s, n in self.c.execute(q2)}}

    def newest_blocked(self, project: str, asset: str, key: str) -> BlockedBuild | None:
        """The newest blocked build of a partition (its staged file is kept for forensics)."""
        c = t.run_tasks.c
        q = (
            sa.select(c.run_id, c.staged_path)
            .where(c.project == project, c.asset == asset, c.partition_key == key, c.state == "blocked")
            .order_by(c.run_id.desc())
            .limit(1)
        )
        row = self.c.execute(q).mappings().first()
        return BlockedBuild.from_row(row) if row else None

    def blocked(self, project: str) -> builtins.list[dict]:
        """The partitions whose newest finished build (succeeded, failed a check, blocked or
        failed) was blocked, oldest block first: run_id, asset, partition_key, code_version,
        input_versions, reason, finished_at and ``checks`` (the checks version the block was
        judged by, None if not recorded). Found from their ``partition_blocked`` events, which
        are indexed by kind where tasks are not by state."""
        c, e = t.run_tasks.c, t.events.c
        later = t.run_tasks.alias("later").c
        newer = sa.exists().where(
            later.project == c.project, later.asset == c.asset, later.partition_key == c.partition_key,
            later.state.in_(BUILT_STATES), later.finished_at.is_not(None),
            sa.or_(later.finished_at > c.finished_at, sa.and_(later.finished_at == c.finished_at, later.run_id > c.run_id)),
        )
        q = (
            sa.select(c.run_id, c.asset, c.partition_key, c.code_version, c.input_versions, c.reason, c.finished_at, e.data)
            .select_from(t.events.join(t.run_tasks, sa.and_(
                c.run_id == e.run_id, c.asset == e.asset, c.partition_key == e.partition_key)))
            .where(e.kind == "partition_blocked", e.project == project, c.project == project, c.state == "blocked",
                   c.finished_at.is_not(None), ~newer)
            .order_by(c.finished_at, c.asset, c.partition_key)
        )
        return blocked_rows(dict(r) for r in self.c.execute(q).mappings())


def _implements(runs: Runs) -> tuple[RunReader, RunSummaryReader]:
    return runs, runs  # mypy holds the repository to its read protocols
