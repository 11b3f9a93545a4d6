"""The composition root every shell calls (CLI, web app, daemon): one project of a weir
installation (an ``Instance``: store, catalog, bus). It only wires: the project, and the services
per concept (``ws.runs``, ``ws.approvals``, ``ws.data``, ``ws.quality``, ``ws.monitors``, ``ws.lineage``,
``ws.events``, ``ws.openlineage``, ``ws.health``, ``ws.incidents``, ``ws.envs``, ``ws.scenarios``).
Nothing here reads or writes state on its own; ``recover()`` is explicit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Self

from weir.alerts.service import AlertService
from weir.consumers import Consumer, FnConsumer, Pumped, pump
from weir.deploy.service import DeploymentService
from weir.envs.service import EnvironmentService
from weir.eventlog.feed import EventFeed
from weir.health.service import HealthService
from weir.incidents.service import IncidentService
from weir.instance import Instance, InstanceConfig, resolve_workspace
from weir.lineage.graph import LineageService
from weir.lineage.openlineage import OpenLineageService
from weir.monitoring.service import MonitorService
from weir.quality.service import QualityService
from weir.runs.approvals import ApprovalService
from weir.runs.published import PublishedData
from weir.runs.request import RunRequest
from weir.runs.service import RunService
from weir.scenarios.service import ScenarioService
from weir.scenarios.steps import Services

if TYPE_CHECKING:
    from weir.daemon.loop import Daemon
    from weir.project.graph import Project
    from weir.storage.catalog import TableCatalog
    from weir.storage.delta import AssetTable
    from weir.store.light import LightReader
    from weir.store.store import MetadataStore

__all__ = ["RunRequest", "Workspace", "resolve_workspace"]


class Workspace:
    """One project of a weir installation, seen from its folder. The project is loaded and the
    store opened on first use, the project first: a project that does not load leaves nothing
    behind. ``Workspace(home, folder)`` opens an instance of its own (closed with it);
    ``instance.project(folder)`` shares the instance's store with its other projects."""

    def __init__(self, home: str | Path | None = None, project_dir: str | Path | None = None, *,
                 reading: bool = False, instance: Instance | None = None) -> None:
        self._owns = instance is None
        self.instance = instance or Instance(InstanceConfig.load(home))
        self.home = self.instance.home
        self.project_dir = Path(project_dir or ".").resolve()
        self.reading = reading  # a command that only reads: the project may come from its cached manifest
        self.bus = self.instance.bus  # live sinks subscribe here; durable consumers read the log
        self._project: Project | None = None
        self.tables = Tables(self.instance.catalog, self._load_project)
        project, store = self._load_project, self._open_store
        self.monitors = MonitorService(project=project, store=store, tables=self.tables)
        self.quality = QualityService(project=project, store=store, tables=self.tables,
                                      evaluate=lambda name, keys, run_id: self.monitors.runner().evaluate(
                                          name, keys, run_id).alerts())
        self.runs = RunService(project=project, store=store, tables=self.tables, quality=self.quality,
                               monitors=self.monitors, snapshot=_snapshot)
        self.approvals = ApprovalService(project=project, store=store, tables=self.tables, monitors=self.monitors)
        self.envs = EnvironmentService(project=project, store=store, runs=self.runs, home=self.home, tables=self.tables,
                                       quality=self.quality)
        self.data = PublishedData(project=project, store=store, tables=self.tables, light=self.light)
        self.lineage = LineageService(project=project)
        self.deployments = DeploymentService(project=project, store=store)
        self.events = EventFeed(store=store)
        self.openlineage = OpenLineageService(project=project, store=store, home=self.home,
                                              data_root=self.tables.root)
        self.health = HealthService(project=project, store=store, home=self.home)
        self.alerts = AlertService(project=project, store=store, incidents=lambda: self.incidents)
        self.incidents = IncidentService(project=project, store=store, notify=self.alerts.queue, tables=self.tables)
        self.scenarios = ScenarioService(Services(project=project, store=store, runs=self.runs, quality=self.quality,
                                                  incidents=lambda: self.incidents, envs=self.envs,
                                                  workspace=lambda: self))

    @property
    def project(self) -> Project:
        return self._load_project()

    @property
    def store(self) -> MetadataStore:
        return self._open_store()

    def _load_project(self) -> Project:
        if self._project is None:
            from weir.project.manifest import load_for_reading, write_manifest

            if self.reading:
                self._project = load_for_reading(self.project_dir, self.home / "cache")
            else:
                from weir.project.loader import load_project

                self._project = load_project(self.project_dir)
                write_manifest(self._project, self.home / "cache")
        return self._project

    def reload(self) -> Project:
        """Load the project again from its files (a long-lived daemon after they changed); if
        it no longer loads, the project as it was stays and the ConfigError is raised."""
        before, self._project = self._project, None
        try:
            return self._load_project()
        except BaseException:
            self._project = before
            raise

    def light(self) -> LightReader | None:
        """A reader of the embedded store that needs no SQLAlchemy (quick read-only answers), or
        None when the store is elsewhere, not there yet, or needs a migration."""
        if not self.reading or self.instance.opened:
            return None
        from weir.store.light import LightReader

        return LightReader.open(self.home, elsewhere=not self.instance.config.embedded)

    def name_held_elsewhere(self) -> str | None:
        """The other folder that holds this project's name in the workspace (reads here show its
        data), or None when the name is this folder's or free."""
        from weir.store.claims import holder_elsewhere

        project = self.project
        light = self.light()
        if light is not None:
            try:
                registered = light.project_root(project.name)
            finally:
                light.close()
        else:
            with self.store.read():
                registered = self.store.projects.root_of(project.name)
        return holder_elsewhere(registered, project.name, str(project.root))

    def _open_store(self) -> MetadataStore:
        return self.instance.store

    def consumers(self) -> list[Consumer]:
        """The consumers the pump runs after a write, in order (``consumers.py``)."""
        return [FnConsumer("incidents", self.incidents.sync),
                FnConsumer("openlineage", self.openlineage.send),
                FnConsumer("alerts", self.alerts.deliver, wanted=lambda: bool(self.project.config.alerts.routes))]

    def pump(self) -> Pumped:
        """After a write: every consumer of the event log, once (``consumers.py``)."""
        return pump(self.consumers())

    def recover(self) -> list[dict]:
        """Close runs whose process died, recording what they published; returns those runs.
        Shells call it before commands that read or write run state."""
        return self.runs.recover()

    def daemon(self, *, interval: float, log: Callable[[str], None]) -> Daemon:
        """A daemon serving this project and the workspace's other registered projects."""
        from weir.daemon.loop import Daemon

        return Daemon.serving(self, lambda root: self.instance.project(root), interval=interval, log=log)

    def close(self) -> None:
        """Close the instance if this workspace opened it (a shared one is its owner's to close)."""
        if self._owns:
            self.instance.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _snapshot() -> dict:
    """This interpreter's environment, as a run records it."""
    from weir.envs.snapshot import capture

    return capture().to_row()


class Tables:
    """The Delta tables of this project's assets, through the workspace's one table catalog."""

    def __init__(self, catalog: TableCatalog, project: Callable[[], Project]) -> None:
        self.catalog = catalog
        self._project = project

    @property
    def root(self) -> Path:
        """Where the tables live (the instance's data root)."""
        return Path(self.catalog.root)

    def get(self, asset: str) -> AssetTable:
        """The table of an asset of this project."""
        project = self._project()
        node = project.assets.get(asset)
        return self.catalog.table(project.name, asset, partitioned=node.partitions.is_partitioned if node else True)

    def uri(self, asset: str) -> str:
        return self.get(asset).uri

    def files(self, asset: str) -> dict[str, list[str]]:
        """Published files per partition key ({} before the first publish)."""
        table = self.get(asset)
        return table.files() if table.exists() else {}

    def at(self, project: str, asset: str) -> AssetTable:
        """The table of any project's asset (recovery closes runs of every project)."""
        return self.catalog.table(project, asset)
