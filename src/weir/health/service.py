"""Keeping a workspace healthy, as users ask for it: ``doctor`` (verify, and repair what the
Delta logs prove) and ``vacuum`` (remove files no reader needs past a retention)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from weir.errors import WeirError

if TYPE_CHECKING:
    from weir.health.report import RepairReport, Report
    from weir.health.vacuum import VacuumReport
    from weir.project.graph import Project
    from weir.store.store import MetadataStore


class HealthService:
    def __init__(self, *, project: Callable[[], Project], store: Callable[[], MetadataStore], home: Path) -> None:
        self._project = project
        self._store = store
        self._home = Path(home)

    def _loaded(self) -> Project | None:
        try:
            return self._project()
        except WeirError:  # doctor works outside a project folder, or when the project is broken
            return None

    def doctor(self) -> Report:
        from weir.health.doctor import doctor

        project = self._loaded()
        return doctor(self._home, self._store(), project=project.name if project else None)

    def _refuse_a_name_held_elsewhere(self, project: Project | None) -> None:
        """Changing what a workspace stores from a folder whose project name another folder
        holds is refused, as a run is (ConfigError): it would act on that folder's data."""
        if project is not None:
            from weir.store.projects import refuse_name_held_elsewhere

            refuse_name_held_elsewhere(self._store(), project.name, str(project.root))

    def repair(self) -> RepairReport:
        """Raises ConfigError when another folder holds this folder's project name."""
        from weir.health.repair import repair

        project = self._loaded()
        self._refuse_a_name_held_elsewhere(project)
        name = project.name if project else None
        return repair(self._home, self._store(), project=name, project_for=lambda n: project if n == name else None)

    def vacuum(self, older_than: timedelta | str = "7d", *, dry_run: bool = False) -> VacuumReport:
        """Raises ConfigError when another folder holds this folder's project name (unless
        ``dry_run``: then nothing changes)."""
        from weir.health.vacuum import parse_age, vacuum

        age = parse_age(older_than) if isinstance(older_than, str) else older_than
        if not dry_run:
            self._refuse_a_name_held_elsewhere(self._loaded())
        return vacuum(self._home, self._store(), older_than=age, dry_run=dry_run)
