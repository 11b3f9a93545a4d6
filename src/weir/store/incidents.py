"""Incidents and their members. The grouping is the incidents service's; this module only keeps
what it decided, inside the caller's unit of work."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from weir.model.rows import IncidentMember, IncidentRecord, ScopeRecord
from weir.store import schema as t
from weir.store.base import Repository
from weir.store.readers import IncidentReader

ACTIVE = ("open", "acknowledged")


class Incidents(Repository):
    def open(self, project: str, *, root_asset: str, root_partition: str | None, severity: str, title: str,
             at: float | None = None) -> int:
        """A new open incident; returns its id."""
        now = at or time.time()
        row = {"project": project, "root_asset": root_asset, "root_partition": root_partition, "state": "open",
               "severity": severity, "title": title, "opened_at": now, "updated_at": now, "reopened": 0}
        return int(self.c.execute(sa.insert(t.incidents).values(**row).returning(t.incidents.c.id)).scalar_one())

    def add_member(self, incident_id: int, *, event_id: int | None, kind: str, asset: str | None,
                   partition_key: str | None, run_id: str | None, summary: str, why: str, at: float,
                   series: str | None = None) -> None:
        self.c.execute(sa.insert(t.incident_members).values(
            incident_id=incident_id, project=self._project_of(incident_id), event_id=event_id, kind=kind, asset=asset, partition_key=partition_key,
            run_id=run_id, summary=summary, why=why, at=at, series=series))

    @staticmethod
    def _project_of(incident_id: int) -> sa.ScalarSelect[Any]:
        """The incident's project, for the rows that belong to it (members, scope)."""
        return sa.select(t.incidents.c.project).where(t.incidents.c.id == incident_id).scalar_subquery()

    def update(self, incident_id: int, **values: Any) -> None:
        """Change an incident's fields (state, severity, root, reason, note...); stamps updated_at."""
        values.setdefault("updated_at", time.time())
        self.c.execute(sa.update(t.incidents).where(t.incidents.c.id == incident_id).values(**values))

    def get(self, incident_id: int) -> IncidentRecord | None:
        row = self.c.execute(sa.select(t.incidents).where(t.incidents.c.id == incident_id)).mappings().first()
        return IncidentRecord.from_row(row) if row else None

    def select(self, project: str, *, states: tuple[str, ...] = (), limit: int | None = None) -> list[IncidentRecord]:
        """Newest first."""
        c = t.incidents.c
        q = sa.select(t.incidents).where(c.project == project)
        if states:
            q = q.where(c.state.in_(states))
        q = q.order_by(c.updated_at.desc(), c.id.desc())
        if limit:
            q = q.limit(limit)
        return [IncidentRecord.from_row(r) for r in self.c.execute(q).mappings()]

    def members(self, incident_ids: list[int]) -> dict[int, list[IncidentMember]]:
        """Members per incident, oldest first."""
        if not incident_ids:
            return {}
        m = t.incident_members.c
        q = sa.select(t.incident_members).where(m.incident_id.in_(incident_ids)).order_by(m.at, m.id)
        out: dict[int, list[IncidentMember]] = {i: [] for i in incident_ids}
        for r in self.c.execute(q).mappings():
            out[r["incident_id"]].append(IncidentMember.from_row(r))
        return out

    def resolved_since(self, project: str, since: float) -> list[IncidentRecord]:
        """Incidents resolved at or after ``since`` (a recurrence may reopen them), newest first."""
        c = t.incidents.c
        q = sa.select(t.incidents).where(c.project == project, c.state == "resolved", c.resolved_at >= since)
        return [IncidentRecord.from_row(r) for r in self.c.execute(q.order_by(c.resolved_at.desc())).mappings()]

    def touching(self, project: str, assets: set[str]) -> set[int]:
        """The incidents (any state) with a member on one of ``assets``."""
        if not assets:
            return set()
        i, m = t.incidents.c, t.incident_members.c
        q = (sa.select(m.incident_id).distinct().join(t.incidents, i.id == m.incident_id)
             .where(i.project == project, m.asset.in_(sorted(assets))))
        return {int(r[0]) for r in self.c.execute(q)}

    def resolved_partitions(self, project: str, asset: str, reason: str) -> set[str]:
        """Partitions of ``asset`` that triggered incidents resolved with ``reason``."""
        i, m = t.incidents.c, t.incident_members.c
        q = (sa.select(m.partition_key).join(t.incidents, i.id == m.incident_id)
             .where(i.project == project, i.state == "resolved", i.reason == reason, m.asset == asset,
                    m.partition_key.is_not(None)))
        return {r[0] for r in self.c.execute(q)}

    # -- scope: every partition built under an incident's cause ---------------------------------
    def add_scope(self, incident_id: int, *, asset: str, partition_key: str, run_id: str | None, via: str,
                  why: str, version: str | None = None, at: float | None = None) -> bool:
        """Put a partition in the incident's scope (bad until rebuilt good), ``version`` saying
        which of its versions are bad (see the schema); True when it is new. A partition already in
        scope that was fixed and is built bad again is bad again; a source partition with another
        bad delivery has both bad."""
        s = t.incident_scope.c
        found = self.c.execute(sa.select(s.id, s.fixed_run_id, s.version).where(
            s.incident_id == incident_id, s.asset == asset, s.partition_key == partition_key)).first()
        if found is None:
            self.c.execute(sa.insert(t.incident_scope).values(
                incident_id=incident_id, project=self._project_of(incident_id), asset=asset, partition_key=partition_key, run_id=run_id, via=via, why=why,
                version=version, added_at=at or time.time()))
            return True
        if found.fixed_run_id is not None:
            self.c.execute(sa.update(t.incident_scope).where(s.id == found.id).values(
                run_id=run_id, why=why, version=version, fixed_run_id=None, fixed_at=None))
        elif (version is not None and found.version is not None and version not in found.version.split()
              and not (version.isdigit() and found.version.isdigit())):  # deliveries: both are bad
            merged = version if found.version == "unpublished" else f"{found.version} {version}"
            self.c.execute(sa.update(t.incident_scope).where(s.id == found.id).values(version=merged[-200:]))
        return False

    def fix_scope(self, incident_id: int, *, asset: str, partition_key: str, run_id: str | None,
                  at: float | None = None) -> bool:
        """Mark a scope partition rebuilt good by ``run_id``; True when it was bad."""
        s = t.incident_scope.c
        done = self.c.execute(sa.update(t.incident_scope).where(
            s.incident_id == incident_id, s.asset == asset, s.partition_key == partition_key,
            s.fixed_run_id.is_(None)).values(fixed_run_id=run_id or "", fixed_at=at or time.time()))
        return bool(done.rowcount)

    def scope(self, incident_ids: list[int]) -> dict[int, list[ScopeRecord]]:
        """Scope rows per incident, by asset then partition."""
        if not incident_ids:
            return {}
        s = t.incident_scope.c
        q = sa.select(t.incident_scope).where(s.incident_id.in_(incident_ids)).order_by(s.asset, s.partition_key)
        out: dict[int, list[ScopeRecord]] = {i: [] for i in incident_ids}
        for r in self.c.execute(q).mappings():
            out[r["incident_id"]].append(ScopeRecord.from_row(r))
        return out

    def held_partitions(self, project: str, asset: str) -> set[str]:
        """Partitions of ``asset`` an open or acknowledged incident holds (a member, or in its scope
        and not yet rebuilt good): the monitors keep them out of baselines and new normals."""
        i, m, s = t.incidents.c, t.incident_members.c, t.incident_scope.c
        active = sa.and_(i.project == project, i.state.in_(ACTIVE))
        members = (sa.select(m.partition_key).join(t.incidents, i.id == m.incident_id)
                   .where(active, m.asset == asset, m.partition_key.is_not(None)))
        scoped = (sa.select(s.partition_key).join(t.incidents, i.id == s.incident_id)
                  .where(active, s.asset == asset, s.fixed_run_id.is_(None)))
        return {r[0] for r in self.c.execute(members)} | {r[0] for r in self.c.execute(scoped)}

    # -- the story as told ------------------------------------------------------------------------
    def keep_diagnosis(self, incident_id: int, *, change: str, diagnosis: dict[str, Any], at: float | None = None) -> None:
        self.c.execute(sa.insert(t.incident_diagnoses).values(
            incident_id=incident_id, change=change, diagnosis=diagnosis, at=at or time.time()))

    def diagnoses(self, incident_id: int) -> list[dict]:
        """The diagnoses told for an incident, oldest first: ``{at, change, diagnosis}``."""
        d = t.incident_diagnoses.c
        q = sa.select(d.at, d.change, d.diagnosis).where(d.incident_id == incident_id).order_by(d.at, d.id)
        return [dict(r) for r in self.c.execute(q).mappings()]

    def bad_builds(self, project: str, asset: str) -> set[tuple[str, str]]:
        """``(partition, run_id)`` of the builds of ``asset`` that were part of an open incident or of
        one fixed since: never a "last good build" for a diagnosis."""
        i, s, m = t.incidents.c, t.incident_scope.c, t.incident_members.c
        counted = sa.and_(i.project == project, sa.or_(i.state.in_(ACTIVE), i.reason == "fixed"))
        scoped = (sa.select(s.partition_key, s.run_id).join(t.incidents, i.id == s.incident_id)
                  .where(counted, s.asset == asset, s.run_id.is_not(None)))
        members = (sa.select(m.partition_key, m.run_id).join(t.incidents, i.id == m.incident_id)
                   .where(counted, m.asset == asset, m.run_id.is_not(None), m.partition_key.is_not(None)))
        return {(r[0], r[1]) for q in (scoped, members) for r in self.c.execute(q)}


def _implements(incidents: Incidents) -> IncidentReader:
    return incidents  # mypy holds the repository to its read protocol
