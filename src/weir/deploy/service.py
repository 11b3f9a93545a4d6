"""Deployments: which version of a project (a digest of its configuration and code versions) is
served from which code location (a folder today, a bundle file later). One deployment is active
per project in an instance; every run records the deployment that made it. ``weir run`` deploys
the folder it runs from when the project is free or already there (a new version at the same
place is a new deployment); moving or restoring a project folder is the explicit ``weir deploy``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from weir.model.records import iso

if TYPE_CHECKING:
    from weir.project.graph import Project
    from weir.store.store import MetadataStore


def deployment_json(row: dict) -> dict[str, Any]:
    """A deployment as ``weir deployments --json`` prints it."""
    return {"id": row["id"], "project": row["project"], "digest": row["digest"], "location": row["location"],
            "kind": row["kind"], "active": bool(row["active"]), "created_at": iso(row["created_at"]),
            "activated_at": iso(row["activated_at"]) if row.get("activated_at") else None, "actor": row.get("actor"),
            "runs": row.get("runs", 0)}


class DeploymentService:
    def __init__(self, *, project: Callable[[], Project], store: Callable[[], MetadataStore]) -> None:
        self._project = project
        self._store = store

    def deploy(self, *, actor: str | None = None) -> dict:
        """Make this folder's project version the active deployment of its project, whichever
        folder held it before (a moved or restored folder); returns the deployment."""
        from weir.project.configuration import version_digest
        from weir.store.projects import claim_project

        project = self._project()
        row = claim_project(self._store(), project.name, str(project.root), digest=version_digest(project), actor=actor,
                            move=True)
        assert row is not None  # a digest was given
        return row

    def list(self) -> list[dict]:
        """The project's deployments, newest first, with the runs each made."""
        store = self._store()
        with store.read():
            return store.deployments.list(self._project().name)
