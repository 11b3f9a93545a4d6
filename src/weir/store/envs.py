"""Environment snapshots, and the runs and assets that used each."""

from __future__ import annotations

import builtins

import sqlalchemy as sa

from weir.store import schema as t
from weir.store.base import Repository, dialect_insert


class Environments(Repository):
    """Environment snapshots, stored once per content hash. (Annotations below ``list`` name the
    builtin as ``builtins.list``: in the class body, ``list`` is that method.)"""

    def save(self, row: dict) -> None:
        """Keep a snapshot once per content hash (two runs starting together may both save it)."""
        self.c.execute(dialect_insert(self.c, t.environments).values(**row).on_conflict_do_nothing(index_elements=["id"]))

    def get(self, env_id: str) -> dict | None:
        """The snapshot row: ``packages`` is ``{name: version}``, ``origins`` ``{name: origin}``."""
        row = self.c.execute(sa.select(t.environments).where(t.environments.c.id == env_id)).mappings().first()
        return dict(row) if row else None

    def find(self, prefix: str) -> builtins.list[str]:
        """Up to three ids starting with ``prefix``."""
        q = sa.select(t.environments.c.id).where(t.environments.c.id.startswith(prefix)).limit(3)
        return builtins.list(self.c.execute(q).scalars())

    def count(self) -> int:
        return int(self.c.execute(sa.select(sa.func.count()).select_from(t.environments)).scalar() or 0)

    def list(self, *, project: str | None = None) -> builtins.list[dict]:
        """Every snapshot some run used (of ``project``), each with ``runs`` (how many),
        ``first_used``, ``last_used``, ``last_run`` and ``projects``; most recently used first."""
        r = t.runs
        q = (sa.select(r.c.environment_id, sa.func.count().label("runs"), sa.func.min(r.c.created_at).label("first_used"),
                       sa.func.max(r.c.created_at).label("last_used"))
             .where(r.c.environment_id.is_not(None)).group_by(r.c.environment_id))
        if project:
            q = q.where(r.c.project == project)
        usage = {u["environment_id"]: dict(u) for u in self.c.execute(q).mappings()}
        if not usage:
            return []
        envs = {e["id"]: dict(e) for e in self.c.execute(
            sa.select(t.environments).where(t.environments.c.id.in_(usage))).mappings()}
        last: dict[str, tuple[float, str]] = {}
        projects: dict[str, set[str]] = {}
        runs = sa.select(r.c.environment_id, r.c.id, r.c.created_at, r.c.project).where(r.c.environment_id.in_(usage))
        for env_id, run_id, created, name in self.c.execute(runs if not project else runs.where(r.c.project == project)):
            if env_id not in last or (created, run_id) > last[env_id]:
                last[env_id] = (created, run_id)
            projects.setdefault(env_id, set()).add(name)
        out = [{**envs[i], **usage[i], "last_run": last[i][1], "projects": sorted(projects[i])} for i in usage if i in envs]
        return sorted(out, key=lambda e: (e["last_used"], e["id"]), reverse=True)

    def runs(self, env_id: str, *, limit: int = 20) -> builtins.list[dict]:
        """The runs that used ``env_id``, newest first: ``{id, project, state, trigger, created_at}``."""
        r = t.runs
        q = (sa.select(r.c.id, r.c.project, r.c.state, r.c.trigger, r.c.created_at).where(r.c.environment_id == env_id)
             .order_by(r.c.created_at.desc(), r.c.id.desc()).limit(limit))
        return [dict(x) for x in self.c.execute(q).mappings()]

    def usage(self, env_id: str) -> dict:
        """``{runs, first_used, last_used}`` of ``env_id`` (zero and None when no run used it)."""
        r = t.runs
        q = sa.select(sa.func.count(), sa.func.min(r.c.created_at), sa.func.max(r.c.created_at)).where(
            r.c.environment_id == env_id)
        n, first, last = self.c.execute(q).one()
        return {"runs": int(n or 0), "first_used": first, "last_used": last}

    def assets(self, env_ids: builtins.list[str]) -> dict[str, builtins.list[str]]:
        """Per environment, the ``project.asset`` names its runs built partitions of."""
        if not env_ids:
            return {}
        k = t.run_tasks
        q = (sa.select(t.runs.c.environment_id, k.c.project, k.c.asset).distinct()
             .join(t.runs, t.runs.c.id == k.c.run_id).where(t.runs.c.environment_id.in_(env_ids)))
        out: dict[str, builtins.list[str]] = {}
        for env_id, project, asset in self.c.execute(q):
            out.setdefault(env_id, []).append(f"{project}.{asset}")
        return {e: sorted(names) for e, names in out.items()}

    def published(self) -> builtins.list[dict]:
        """Per project, asset and environment: how many of the asset's published partitions runs
        in that environment wrote (``partitions``), and the newest (``last_published``)."""
        p, r = t.partitions, t.runs
        q = (sa.select(p.c.project, p.c.asset, r.c.environment_id, sa.func.count().label("partitions"),
                       sa.func.max(p.c.published_at).label("last_published"))
             .join(r, r.c.id == p.c.run_id).where(r.c.environment_id.is_not(None))
             .group_by(p.c.project, p.c.asset, r.c.environment_id))
        return [dict(x) for x in self.c.execute(q).mappings()]

    def packages(self, env_ids: builtins.list[str]) -> dict[str, dict[str, str]]:
        """``{environment id: {package: version}}``."""
        if not env_ids:
            return {}
        q = sa.select(t.environments.c.id, t.environments.c.packages).where(t.environments.c.id.in_(env_ids))
        return {i: dict(pk or {}) for i, pk in self.c.execute(q)}
