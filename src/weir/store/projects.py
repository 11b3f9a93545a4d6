"""Which folder each project name belongs to in a workspace: tables are keyed by project name,
so two folders claiming one name would overwrite each other's tables."""

from __future__ import annotations

import time
from pathlib import Path

import sqlalchemy as sa

from weir.store import schema as t
from weir.store.base import Repository, dialect_insert
from weir.store.claims import holder_elsewhere, still_declares


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

    def root_of(self, name: str) -> str | None:
        """The folder registered for project ``name``, or None."""
        return self.c.execute(sa.select(t.projects.c.root).where(t.projects.c.name == name)).scalar()

    def all(self) -> dict[str, str]:
        return {n: r for n, r in self.c.execute(sa.select(t.projects.c.name, t.projects.c.root))}


def name_taken(name: str, root: str, other: str):
    """The one-line error for a folder whose project name ``other`` holds."""
    from weir.errors import ConfigError

    return ConfigError(
        f"project name {name!r} is already used in this workspace by {other}; give this project another "
        f"name in its weir.toml, or use another workspace (--workspace)",
        where=str(Path(root) / "weir.toml"),
    )


def claim_project(store, name: str, root: str) -> None:
    """Register ``root`` as project ``name``'s folder in this workspace before anything is
    written for it. Raises ConfigError when another folder holds the name (their tables would
    overwrite each other)."""
    with store.transaction():
        other = store.projects.claim(name, root)
    if other is not None:
        raise name_taken(name, root, other)


def refuse_name_held_elsewhere(store, name: str, root: str) -> None:
    """Raise the ConfigError of ``claim_project`` when another folder holds project ``name``,
    without claiming it: for commands that change what is stored (repair, vacuum) but do not
    build this folder's project."""
    with store.read():
        registered = store.projects.root_of(name)
    other = holder_elsewhere(registered, name, root)
    if other is not None:
        raise name_taken(name, root, other)
