"""Runs: what a run would build and why, building it, the runs recorded, and recovering runs
whose process died."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from weir.errors import UnknownObjectError
from weir.model.choice import parse_choice
from weir.model.rows import RunRecord
from weir.model.runs import FAILED_TASK_STATES, RunState, TaskState
from weir.runs.request import RunRequest

if TYPE_CHECKING:
    from weir.engine.audit import Auditor
    from weir.engine.blocked import OpenBlocks
    from weir.engine.executors import Executor
    from weir.engine.inputs import InputResolver
    from weir.engine.planner import Causes, Plan
    from weir.engine.recorder import RunResult
    from weir.engine.republish import RolloutCauses
    from weir.engine.runner import MetricJudge, SourceGate
    from weir.project.graph import Project
    from weir.reporting import Reporter
    from weir.storage.catalog import TableCatalog
    from weir.storage.delta import AssetTable
    from weir.store.store import MetadataStore


class Tables(Protocol):
    """Where the workspace's tables are (``workspace.Tables``): its catalog, and any project's table."""

    @property
    def catalog(self) -> TableCatalog: ...

    def at(self, project: str, asset: str) -> AssetTable: ...


class Quality(Protocol):
    """What a run needs of quality (``quality.service.QualityService``): the audit step of its
    builds and the gate of the sources they read."""

    def auditor(self) -> Auditor: ...

    def gate(self) -> SourceGate: ...


class Monitors(Protocol):
    """What a run needs of the monitors (``monitoring.service.MonitorService``): the judge of
    newly measured partitions."""

    def runner(self) -> MetricJudge: ...


class RunService:
    """Plans and executes runs, lists them and shows one. The project is loaded (and validated)
    before the metadata store is first opened, so a bad project writes nothing."""

    def __init__(self, *, project: Callable[[], Project], store: Callable[[], MetadataStore], tables: Tables,
                 quality: Quality, monitors: Monitors, snapshot: Callable[[], dict]) -> None:
        self._project = project
        self._store = store
        self._snapshot = snapshot  # this interpreter's environment, as a run records it
        self._tables = tables
        self._quality = quality
        self._monitors = monitors

    # -- planning and building ------------------------------------------------------------
    def _resolver(self) -> InputResolver:
        from weir.engine.inputs import InputResolver

        project = self._project()  # validate the project before the store is created or touched
        store = self._store()
        with store.read():
            current = store.partitions.current(project.name)
        return InputResolver(project, current)

    def blocks(self) -> OpenBlocks:
        """The project's open blocks: partitions whose newest build was blocked by its checks,
        and landed source deliveries blocked on arrival."""
        from weir.engine.blocked import OpenBlocks

        project = self._project()
        store = self._store()
        with store.read():
            return OpenBlocks.of(store.runs.blocked(project.name), store.sources.list(project.name, blocked=True))

    def held(self) -> dict[tuple[str, str], dict]:
        """The versions held for approval now, by (asset, partition)."""
        project = self._project()
        store = self._store()
        with store.read():
            return {(r["asset"], r["partition_key"]): r for r in store.held.list(project.name)}

    def causes(self) -> RolloutCauses:
        """Why a republished partition is judged, against this project's configuration now."""
        from weir.engine.republish import RolloutCauses
        from weir.project.configuration import capture

        project = self._project()
        return RolloutCauses(self._store(), project.name, capture(project))

    def plan(self, request: RunRequest, resolver: InputResolver | None = None, *, causes: Causes | None = None,
             held: Mapping[tuple[str, str], Mapping[str, Any]] | None = None) -> Plan:
        """What ``run`` would build and why, from ``resolver``'s view of what is published. A
        stale plan leaves out the open blocks nothing has changed for (``Plan.still_blocked``)
        and the partitions whose held version is up to date (``Plan.held``); ``Plan.replaces``
        names the published partitions it would replace under changed code or configuration."""
        from weir.engine.planner import make_plan

        return make_plan(
            self._project(), resolver or self._resolver(), assets=list(request.assets) or None,
            selection=request.selection(), stale=request.stale, blocks=self.blocks() if request.stale else None,
            causes=causes or self.causes(), held=self.held() if held is None else held,
        )

    def run(self, request: RunRequest, reporter: Reporter | None = None, auditor: Auditor | None = None, *, environment: dict | None = None,
            executor: Executor | None = None) -> RunResult:
        """Plan and execute. Returns the RunResult (state ``succeeded`` or ``failed``). The run
        records ``environment`` (a snapshot row; default: this interpreter's); ``executor``, an
        executor already started, builds its partitions instead of ``request.executor``'s."""
        from weir.engine.runner import Run
        from weir.project.configuration import version_digest
        from weir.store.projects import claim_project

        project = self._project()
        deployment = claim_project(self._store(), project.name, str(project.root), digest=version_digest(project),
                                   actor=request.actor)
        if deployment is not None:
            request = dataclasses.replace(request, deployment=int(deployment["id"]))
        resolver = self._resolver()
        auditor = auditor if auditor is not None else self._quality.auditor()
        causes, held = self.causes(), self.held()
        run = Run(
            project=project, store=self._store(), catalog=self._tables.catalog,
            plan=self.plan(request, resolver, causes=causes, held=held),
            resolver=resolver, executor=executor or request.executor, workers=request.workers, trigger=request.trigger,
            request=request.as_record(), reporter=reporter, auditor=auditor, publish_every=request.publish_every,
            gate=self._quality.gate(), monitor=self._monitors.runner(),
            on_conflict=request.on_conflict or project.config.run.on_conflict,
            environment=environment or self._snapshot(), republish=project.config.run.republish,
            held={node: r["run_id"] for node, r in held.items()}, causes=causes,
        )
        return run.execute()

    def recover(self) -> list[dict]:
        """Close runs whose process died (marked failed; what they published is recorded).
        Returns the runs closed; cheap when no run is active."""
        store = self._store()
        with store.read():
            if not store.runs.active():  # the common case: nothing to recover, nothing to import
                return []
        from weir.engine.recovery import InputsAsOf, reap_dead_runs
        from weir.errors import WeirError

        def project_for(name: str) -> Project | None:
            try:
                project = self._project()
            except WeirError:  # a project that does not load: its inputs stay unknown
                return None
            return project if project.name == name else None

        return reap_dead_runs(store, self._tables.at, InputsAsOf(project_for, self._tables.at))

    # -- the runs recorded -----------------------------------------------------------------
    def list(self, limit: int = 20, state: RunState | str | None = None) -> list[RunRecord]:
        """The newest runs first. Raises UsageError for a state that is not a run state."""
        chosen = parse_choice(RunState, state, "a run state") if state is not None else None
        store = self._store()
        with store.read():
            return store.runs.list(limit=limit, state=chosen)

    def detail(self, run_id: str, *, asset: str | None = None, state: TaskState | str | None = None,
               failed: bool = False) -> dict:
        """One run (by id or unique prefix) with its environment and its tasks, those of ``asset``
        or in ``state`` (or, with ``failed``, in a failed state) only; ``task_count`` counts them all."""
        chosen = parse_choice(TaskState, state, "a task state") if state is not None else None
        store = self._store()
        with store.read():
            run = self._find(run_id)
            tasks = store.runs.tasks(run.id)
            env = store.environments.get(run.environment_id) if run.environment_id else None
        if asset is not None and not any(t.asset == asset for t in tasks):
            known = sorted({t.asset for t in tasks})
            raise UnknownObjectError(f"run {run.id} built no partition of {asset!r} (it built: {', '.join(known) or 'none'})")
        shown = [
            t for t in tasks
            if (asset is None or t.asset == asset) and (chosen is None or t.state == chosen)
            and (not failed or t.state in FAILED_TASK_STATES)
        ]
        return {**run.as_dict(), "tasks": [t.as_dict() for t in shown], "task_count": len(tasks), "environment": env}

    def code(self, run_id: str, asset: str) -> dict:
        """The definition (function source or SQL) and settings of ``asset`` as run ``run_id`` built it."""
        store = self._store()
        with store.read():
            run = self._find(run_id)
            versions: set[Any] = {t.code_version for t in store.runs.tasks(run.id) if t.asset == asset}
            if not versions:
                raise UnknownObjectError(f"run {run.id} built no partition of {asset!r}")
            version = min(versions)  # one code version per asset in a run
            kept = store.code.get(run.project, asset, version)
        if kept is None:
            raise UnknownObjectError(f"the definition of {asset!r} at code version {version} was not kept (built before weir kept them)")
        return kept

    def _find(self, run_id: str) -> RunRecord:
        run = self._store().runs.by_ref(run_id)
        if run is None:
            raise UnknownObjectError(f"unknown run {run_id!r}; 'weir runs' lists them")
        return run

