"""A build that stops after the audit: each planned partition is built, by any executor, into a
shadow folder of its own asset (``<root>/<asset>/``, never the published table), audited there,
and kept; nothing is published, leased, recorded in the metadata store or sent as an event.

A partition reads what its published version read, so the two differ only by what the build
changed: the upstream partitions at the table versions its published version recorded (time
travel), and the source files landed now (a delivery replaced since is noted). An upstream
partition built in the same shadow build is read from there instead: the graph is rehearsed as
a whole, each downstream partition on the new output of what it reads."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from weir.engine.audit import Auditor
from weir.engine.executors import Executor
from weir.engine.inputs import InputResolver
from weir.engine.planner import Plan
from weir.engine.scheduler import Scheduler, TaskGraph
from weir.engine.specs import Reading, SpecBuilder
from weir.engine.tasks import TaskOutcome, TaskSpec
from weir.model.definitions import Asset, Source
from weir.project.graph import Project
from weir.storage.catalog import TableCatalog
from weir.storage.delta import AssetTable, StagedPartition
from weir.storage.sources import fingerprint

# what became of a partition; "building" until its outcome is in
SHADOW_STATES = ("building", "built", "blocked", "failed", "upstream_failed", "skipped")


@dataclass(kw_only=True)
class ShadowPartition:
    """What became of one partition of a shadow build. ``state``: ``built`` (staged and audited
    in the shadow folder), ``blocked`` (its audit would not have published it), ``failed``,
    ``upstream_failed`` or ``skipped`` (an input is not there). ``notes`` say where what it read
    differs from what its published version read."""

    asset: str
    key: str
    state: str
    staged: StagedPartition | None = None
    path: str | None = None  # the staged file, absolute
    error: str | None = None
    traceback: str | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.state not in SHADOW_STATES:
            raise ValueError(f"shadow partition state {self.state!r} is not one of {', '.join(SHADOW_STATES)}")


class ShadowBuild:
    """Builds ``plan`` into folders under ``root`` with ``executor`` and audits each partition
    with ``auditor`` (whose ``flush`` it never calls: it records nothing). ``execute()`` returns
    the partitions by (asset, key), in plan order."""

    def __init__(self, *, project: Project, plan: Plan, resolver: InputResolver, catalog: TableCatalog, root: Path,
                 auditor: Auditor, build_id: str) -> None:
        self.project = project
        self.plan = plan
        self.resolver = resolver
        self.catalog = catalog
        self.root = root
        self.auditor = auditor
        self.build_id = build_id
        self.partitions: dict[tuple[str, str], ShadowPartition] = {}
        self._tables: dict[str, AssetTable] = {}
        self._files_at: dict[tuple[str, int | None], dict[str, list[str]]] = {}
        self._started: dict[tuple[str, str], float] = {}
        self._notes: dict[tuple[str, str], list[str]] = {}  # per partition being specified: where its reads differ
        self.specs = SpecBuilder(project, self, run_id=build_id)

    def execute(self, executor: Executor) -> dict[tuple[str, str], ShadowPartition]:
        """Build, audit and keep every planned partition; closes ``executor``."""
        failed = True
        try:
            if self.plan.tasks:
                graph = TaskGraph.of(self.project, self.plan, self.resolver)
                Scheduler(graph, self, executor, batch=len(self.plan.tasks), every=0.0).run()
            failed = False
        finally:
            executor.close(cancel=failed)
        return {(t.asset, t.key): self.partitions[(t.asset, t.key)] for t in self.plan.tasks
                if (t.asset, t.key) in self.partitions}

    def folder(self, asset: str) -> Path:
        return self.root / asset

    def table(self, asset: str) -> AssetTable:
        if asset not in self._tables:
            self._tables[asset] = self.catalog.table(self.project.name, asset,
                                                     partitioned=self.project.assets[asset].partitions.is_partitioned)
        return self._tables[asset]

    # -- steps the scheduler takes (engine.scheduler.RunSteps) ---------------------------------
    def open_asset(self, asset: str, keys: list[str]) -> None:
        pass

    def claim(self, nodes: list[tuple[str, str]]) -> None:
        pass  # nothing published: no lease to take

    def prepare(self, asset: str, key: str) -> TaskSpec | dict:
        a = self.project.assets[asset]
        resolved = self.resolver.resolve(a, key)
        reads = [(inp.upstream, uk) for param, inp in a.inputs.items() for uk in resolved.keys[param]]
        bad = [n for n in reads if n in self.partitions and self.partitions[n].state != "built"]
        if bad:
            return {"asset": asset, "partition_key": key, "state": "upstream_failed",
                    "reason": f"{bad[0][0]} {bad[0][1]!r} {self.partitions[bad[0]].state.replace('_', ' ')}".replace(" ''", "")}
        absent = resolved.describe_missing(skip={n for n in reads if n in self.partitions})
        if absent:
            return {"asset": asset, "partition_key": key, "state": "skipped", "reason": absent}
        self._started[(asset, key)] = time.time()
        self._notes[(asset, key)] = []
        spec = self.specs.spec(a, key, resolved.keys)
        notes = self._notes.pop((asset, key))
        self.partitions[(asset, key)] = ShadowPartition(asset=asset, key=key, state="building", notes=notes)
        return spec

    def record_unbuilt(self, asset: str, rows: list[dict]) -> None:
        for r in rows:
            self.partitions[(asset, r["partition_key"])] = ShadowPartition(
                asset=asset, key=r["partition_key"], state=r["state"], error=r["reason"])

    def record_failed(self, outcome: TaskOutcome) -> None:
        p = self.partitions[(outcome.asset, outcome.key)]
        p.state, p.error, p.traceback, p.seconds = "failed", outcome.error, outcome.traceback, outcome.seconds

    def publish(self, asset: str, outcomes: list[TaskOutcome]) -> None:
        """Audit what was built; nothing is published."""
        staged = [o.staged for o in outcomes if o.staged is not None]
        verdicts = self.auditor.audit(self.project.assets[asset], str(self.folder(asset)), staged, self.build_id)
        for o in outcomes:
            assert o.staged is not None
            p = self.partitions[(asset, o.key)]
            p.staged, p.seconds = o.staged, o.seconds
            p.path = os.path.join(self.folder(asset), o.staged.path)
            p.state = "built" if verdicts[o.key].publish else "blocked"
            if not verdicts[o.key].publish:
                p.error = verdicts[o.key].message

    def gathers(self, asset: str) -> bool:
        return False  # one batch holds the whole plan

    def finish_asset(self, asset: str, built: list[str]) -> None:
        pass

    # -- what a partition reads (engine.specs.Reads) -----------------------------------------------
    def target(self, asset: Asset) -> tuple[str, pa.Schema | None]:
        return str(self.folder(asset.name)), self.table(asset.name).schema()

    def source(self, asset: Asset, key: str, source: Source, keys: list[str]) -> tuple[tuple[str, str], ...]:
        then = self._read_then(asset, key).get(source.name, {})
        for uk in keys:
            found = self.resolver.source_files(source, uk)
            if found and uk in then and fingerprint(found) != then[uk]:
                self._notes[(asset.name, key)].append(
                    f"source {source.name} {uk!r} was delivered again since the published build".replace(" ''", ""))
        return tuple((uk, f) for uk in keys for f in self.resolver.source_files(source, uk))

    def upstream(self, asset: Asset, key: str, upstream: Asset, keys: list[str]) -> Reading:
        then = self._read_then(asset, key).get(upstream.name, {})
        paths, shadow = self._asset_files(upstream.name, keys, then, self._notes[(asset.name, key)])
        schema = self._schema(upstream.name, shadow)
        table_dir = str(self.folder(upstream.name)) if shadow and len(shadow) == len(paths) else self.table(upstream.name).uri
        return Reading(files=tuple(paths), table_dir=table_dir, schema=schema)

    def _read_then(self, asset: Asset, key: str) -> dict[str, dict[str, Any]]:
        """What the published version of ``key`` read: per upstream, the version of each partition."""
        published = self.resolver.current.get((asset.name, key)) or {}
        return published.get("input_versions") or {}

    def _asset_files(self, upstream: str, keys: list[str], then: dict[str, Any],
                     notes: list[str]) -> tuple[list[tuple[str, str]], list[StagedPartition]]:
        """(key, path) of each upstream partition read: built here, else at the version the
        published partition read (as now published if that version's files are gone)."""
        paths: list[tuple[str, str]] = []
        shadow: list[StagedPartition] = []
        for uk in keys:
            built = self.partitions.get((upstream, uk))
            if built is not None and built.path is not None and built.staged is not None:
                paths.append((uk, built.path))
                shadow.append(built.staged)
                now = (self.resolver.current.get((upstream, uk)) or {}).get("version")
                if uk in then and now is not None and then[uk] != now:
                    notes.append(f"its published version read {upstream} {uk!r} at version {then[uk]}, since "
                                 f"republished (version {now})".replace(" ''", ""))
                continue
            version = then.get(uk)
            at = self._files(upstream, version if isinstance(version, int) else None).get(uk, [])
            table = self.table(upstream)
            if at and not all(os.path.exists(os.path.join(table.uri, p)) for p in at):
                notes.append(f"{upstream} {uk!r} read as published now: the files of version {version} are gone".replace(" ''", ""))
                at = self._files(upstream, None).get(uk, [])
            paths += [(uk, p) for p in at]
        return paths, shadow

    def _files(self, asset: str, version: int | None) -> dict[str, list[str]]:
        if (asset, version) not in self._files_at:
            table = self.table(asset)
            try:
                self._files_at[(asset, version)] = table.files(version) if table.exists() else {}
            except Exception:  # noqa: BLE001 - a version no longer in the log: as published now
                self._files_at[(asset, version)] = self._files(asset, None) if version is not None else {}
        return self._files_at[(asset, version)]

    def _schema(self, upstream: str, shadow: list[StagedPartition]) -> pa.Schema | None:
        """The schema to read ``upstream`` in: its table's, widened by what was built here."""
        published = self.table(upstream).schema()
        if not shadow:
            return published
        try:
            return pa.unify_schemas([s for s in [published, *(b.schema for b in shadow)] if s is not None],
                                    promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return None
