"""Which folder each project name belongs to in a workspace (tables are keyed by project name,
so two folders claiming one name would overwrite each other's tables), and the deployments made
there: a version of a project at a code location, one active per project."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from weir.store import schema as t
from weir.store.base import Repository, dialect_insert
from weir.store.claims import holder_elsewhere, still_declares

if TYPE_CHECKING:
    from weir.errors import ConfigError
    from weir.store.store import MetadataStore


class Projects(Repository):
    def claim(self, name: str, root: str) -> str | None:
        """Register ``root`` as the folder of project ``name``. Returns None when the name is
        free or already ``root``'s, else the other folder that holds it. A folder that no longer
        declares that name in its weir.toml (moved or renamed) gives the name up."""
        c = t.projects.c
        # the first claim wins, even between two runs starting at once
        self.c.execute(dialect_insert(self.c, t.projects).values(name=name, root=root, registered_at=time.time())
                       .on_conflict_do_nothing(index_elements=["name"]))
        known = self.c.execute(sa.select(c.root).where(c.name == name)).scalar()
        if known == root:
            return None
        if known is not None and still_declares(Path(known), name):
            return known
        self.c.execute(t.projects.update().where(c.name == name).values(root=root, registered_at=time.time()))
        return None

    def move(self, name: str, root: str) -> None:
        """Register ``root`` as the folder of project ``name``, whoever held it."""
        self.c.execute(dialect_insert(self.c, t.projects).values(name=name, root=root, registered_at=time.time())
                       .on_conflict_do_update(index_elements=["name"], set_={"root": root, "registered_at": time.time()}))

    def root_of(self, name: str) -> str | None:
        """The folder registered for project ``name``, or None."""
        return self.c.execute(sa.select(t.projects.c.root).where(t.projects.c.name == name)).scalar()

    def all(self) -> dict[str, str]:
        return {n: r for n, r in self.c.execute(sa.select(t.projects.c.name, t.projects.c.root))}


def name_taken(name: str, root: str, other: str) -> ConfigError:
    """The one-line error for a folder whose project name ``other`` holds, naming the way out."""
    from weir.errors import ConfigError

    return ConfigError(
        f"project {name!r} is deployed in this workspace from {other}; to deploy it from {root} instead "
        f"(a moved or restored folder), run 'weir deploy' there; or give this project another name in its "
        "weir.toml, or use another workspace (--workspace)",
        where=str(Path(root) / "weir.toml"),
    )


def claim_project(store: MetadataStore, name: str, root: str, *, digest: str | None = None, actor: str | None = None,
                  move: bool = False) -> dict | None:
    """Make ``root`` project ``name``'s active deployment in this workspace before anything is
    written for it (with ``digest``, the project version: a new version at the same place is a
    new deployment). Returns the deployment (None without a digest). Raises ConfigError when
    another folder that still declares the name is deployed (their tables would overwrite each
    other), naming the command that moves the project here; ``move`` is that command."""
    with store.transaction():
        if move:
            store.projects.move(name, root)
            other = None
        else:
            other = store.projects.claim(name, root)
        if other is None and digest is not None:
            return store.deployments.record(name, digest=digest, location=root, actor=actor)
    if other is not None:
        raise name_taken(name, root, other)
    return None


def refuse_name_held_elsewhere(store: MetadataStore, name: str, root: str) -> None:
    """Raise the ConfigError of ``claim_project`` when another folder holds project ``name``,
    without claiming it: for commands that change what is stored (repair, vacuum) but do not
    build this folder's project."""
    with store.read():
        registered = store.projects.root_of(name)
    other = holder_elsewhere(registered, name, root)
    if other is not None:
        raise name_taken(name, root, other)


class Deployments(Repository):
    """Deployments: a project version (digest) at a code location; one active per project."""

    def active(self, project: str) -> dict | None:
        d = t.deployments.c
        row = self.c.execute(sa.select(t.deployments).where(d.project == project, d.active.is_(True))
                             .order_by(d.activated_at.desc())).mappings().first()
        return dict(row) if row else None

    def get(self, deployment_id: int) -> dict | None:
        row = self.c.execute(sa.select(t.deployments).where(t.deployments.c.id == deployment_id)).mappings().first()
        return dict(row) if row else None

    def list(self, project: str) -> list[dict]:
        """The project's deployments, newest first, each with the number of runs it made."""
        d, r = t.deployments.c, t.runs.c
        runs = (sa.select(r.deployment_id, sa.func.count().label("runs")).where(r.deployment_id.is_not(None))
                .group_by(r.deployment_id).subquery())
        q = (sa.select(t.deployments, sa.func.coalesce(runs.c.runs, 0).label("runs"))
             .outerjoin(runs, runs.c.deployment_id == d.id).where(d.project == project)
             .order_by(d.created_at.desc(), d.id.desc()))
        return [dict(x) for x in self.c.execute(q).mappings()]

    def record(self, project: str, *, digest: str, location: str, kind: str = "folder", actor: str | None = None) -> dict:
        """The deployment of ``project`` at ``digest`` and ``location``, made the active one (a new
        row the first time this version is seen there)."""
        d = t.deployments.c
        now = time.time()
        self.c.execute(dialect_insert(self.c, t.deployments).values(
            project=project, digest=digest, location=location, kind=kind, active=False, created_at=now, actor=actor)
            .on_conflict_do_nothing(index_elements=["project", "digest", "location"]))
        row = self.c.execute(sa.select(t.deployments).where(d.project == project, d.digest == digest,
                                                            d.location == location)).mappings().one()
        if not row["active"]:
            self.c.execute(t.deployments.update().where(d.project == project, d.active.is_(True)).values(active=False))
            self.c.execute(t.deployments.update().where(d.id == row["id"]).values(active=True, activated_at=now))
        return {**dict(row), "active": True}
