"""``weir rehearse``: an upgrade tried on real data before it reaches production.

The shadow environment is this one's pins with the upgrades applied, made with uv like an
earlier environment for ``weir rebuild --env`` (the same venv cache). The chosen partitions
(default: the newest published partition of each asset) are built in worker processes of its
interpreter into ``<workspace>/rehearsals/<id>/<asset>/``, audited there with their checks and
profile (``engine.shadow``), and compared with the version published now: schema, row counts,
rows on the asset's key (else as multisets), profile metrics, and the limits the monitors judged
the published version against. Nothing is published or recorded in the metadata store; the
rehearsal is kept as ``rehearsal.json`` beside its shadow data."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from weir.envs.rehearsal import PartitionRehearsal, Rehearsal, failed_checks, judge, metric_deltas, outside_limits
from weir.errors import UsageError
from weir.runs.request import RunRequest

if TYPE_CHECKING:
    import pyarrow as pa

    from weir.engine.audit import AuditVerdict
    from weir.engine.executors import Executor
    from weir.engine.inputs import InputResolver
    from weir.engine.planner import Plan
    from weir.engine.shadow import ShadowBuild, ShadowPartition
    from weir.envs.upgrade import Upgrade
    from weir.model.definitions import Asset
    from weir.project.graph import Project
    from weir.quality.auditor import PartitionAudit, ReferencesOf
    from weir.quality.profile import Profile
    from weir.storage.catalog import TableCatalog
    from weir.storage.delta import StagedPartition
    from weir.store.store import MetadataStore

RECORD = "rehearsal.json"


@dataclass(frozen=True, kw_only=True)
class RehearsalRequest:
    """What to rehearse: ``upgrades`` (``PKG==VERSION`` each) or a ``requirements`` file; on
    ``assets`` (default: all) and partitions (one key, ``first``..``last``, or by default the
    newest published partition of each). Raises UsageError or PartitionError."""

    upgrades: tuple[str, ...] = ()
    requirements: str | None = None
    assets: tuple[str, ...] = ()
    partition: str | None = None
    first: str | None = None
    last: str | None = None
    workers: int | None = None

    def __post_init__(self) -> None:
        if bool(self.upgrades) == bool(self.requirements):
            raise UsageError("say what to rehearse: --upgrade PKG==VERSION (repeatable) or --requirements FILE, not both")
        RunRequest(partition=self.partition, first=self.first, last=self.last)  # the range is checked as for 'weir run'
        if self.upgrades:
            self.pins()

    def pins(self) -> tuple[list[Upgrade], list[Path]]:
        """The pins asked for and the folders to look for local wheels in."""
        from weir.envs.upgrade import parse_pin, read_requirements

        if self.requirements:
            return read_requirements(Path(self.requirements))
        return [parse_pin(u) for u in self.upgrades], []

    @property
    def selected(self) -> bool:
        return bool(self.partition or self.first)


def rehearse(*, project: Project, store: MetadataStore, catalog: TableCatalog, references: ReferencesOf, cache: Path, home: Path,
             request: RehearsalRequest) -> Rehearsal:
    """Rehearse ``request``; see the module. Raises UsageError (nothing to rehearse, a bad pin),
    PartitionError, UnknownObjectError, or EnvironmentUnavailable naming a package version that
    cannot be obtained — all before anything is written."""
    from weir.engine.executors import AUTO, make_executor
    from weir.engine.executors.venv import VenvExecutor
    from weir.engine.inputs import InputResolver
    from weir.envs.diff import environment_diff
    from weir.envs.rebuild import capture_in
    from weir.envs.snapshot import capture
    from weir.envs.upgrade import apply
    from weir.envs.uv import materialize

    started = time.perf_counter()
    pins, links = request.pins()
    here = capture()
    target = apply(here, pins, links)
    with store.read():
        current = store.partitions.current(project.name)
    resolver = InputResolver(project, current)
    plan = choose(project, resolver, request)
    workers = request.workers or max(1, min(len(plan.tasks), os.cpu_count() or 1, 8))
    made = None
    if target.id == here.id:  # the pins are what runs here: no venv to make
        executor: Any = make_executor(AUTO, project, request.workers, tasks=len(plan.tasks))
        used = here
    else:
        made = materialize(target, target.id, cache)
        executor = VenvExecutor(project, python=str(made.python), workers=workers)
        try:
            used = capture_in(made.python, target.id)
        except BaseException:
            executor.close(cancel=True)
            raise
    environment = {"current": here.id, "shadow": target.id, "used": used.id, "same": used.id == target.id,
                   "differences": environment_diff(target.to_row(), used.to_row())["packages"],
                   "venv": made.to_json() if made else None}
    rehearsal = Rehearsal(id=_new_id(), project=project.name, created_at=time.time(),
                          upgrades=environment_diff(here.to_row(), target.to_row())["packages"], environment=environment)
    root = home / "rehearsals" / rehearsal.id
    rehearsal.path = str(root)
    try:
        rehearsal.partitions = _rehearse_plan(project, store, catalog, references, resolver, plan, root, rehearsal.id,
                                              executor, here.id)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)  # an interrupted rehearsal leaves nothing behind
        raise
    rehearsal.seconds = time.perf_counter() - started
    _record(root, rehearsal)
    return rehearsal


def choose(project: Project, resolver: InputResolver, request: RehearsalRequest) -> Plan:
    """The partitions to rehearse, in build order: the selected keys of the chosen assets (by
    default every asset but the models) that are published, else the newest published partition
    of each. Raises UsageError when none is."""
    from weir.engine.planner import Plan, PlannedTask, make_plan

    # a model is retrained only when named: never as the side effect of rehearsing the rest
    names = ([project.asset(a).name for a in request.assets] if request.assets else
             [n for n in project.order if n in project.assets and project.assets[n].model is None])
    published = resolver.current
    if request.selected:
        selection = RunRequest(partition=request.partition, first=request.first, last=request.last).selection()
        planned = make_plan(project, resolver, assets=names, selection=selection, stale=False)
        tasks = [t for t in planned.tasks if (t.asset, t.key) in published]
    else:
        tasks = []
        for name in [n for n in project.order if n in names]:
            keys = [k for a, k in published if a == name]
            if keys:
                order = {k: i for i, k in enumerate(project.assets[name].partitions.keys())}
                newest = max(keys, key=lambda k: (order.get(k, -1), k))
                tasks.append(PlannedTask(asset=name, key=newest, reason="rehearsal"))
    if not tasks:
        what = "the selected partitions" if request.selected else "the chosen assets"
        raise UsageError(f"nothing to rehearse: {what} have no published partition to compare with")
    return Plan(tasks=[PlannedTask(asset=t.asset, key=t.key, reason="rehearsal") for t in tasks])


def _rehearse_plan(project: Project, store: MetadataStore, catalog: TableCatalog, references: ReferencesOf,
                   resolver: InputResolver, plan: Plan, root: Path, rehearsal_id: str, executor: Executor,
                   here: str) -> list[PartitionRehearsal]:
    from weir.engine.shadow import ShadowBuild

    auditor = ShadowAuditor(project, store, catalog, references)
    build = ShadowBuild(project=project, plan=plan, resolver=resolver, catalog=catalog, root=root, auditor=auditor,
                        build_id=rehearsal_id)
    built = build.execute(executor)
    return [compare(project, store, build, auditor, built[(t.asset, t.key)], here) for t in plan.tasks]


class ShadowAuditor:
    """The audit of a shadow partition: against the schema of the table it would be published
    to, its checks and profile in one scan (``quality.auditor.audit_staged``), kept here; the
    metadata store is only read (histogram bins)."""

    def __init__(self, project: Project, store: MetadataStore, catalog: TableCatalog, references: ReferencesOf) -> None:
        self.project, self.store, self.catalog, self.references = project, store, catalog, references
        self.audits: dict[tuple[str, str], PartitionAudit] = {}
        self.bins: dict[str, dict[str, list[float]]] = {}

    def audit(self, asset: Asset, table_dir: str, staged: list[StagedPartition], run_id: str) -> dict[str, AuditVerdict]:
        from weir.quality.auditor import audit_staged

        if asset.name not in self.bins:
            with self.store.read():
                self.bins[asset.name] = self.store.metrics.bins(self.project.name, asset.name)
        table = self.catalog.table(self.project.name, asset.name, partitioned=asset.partitions.is_partitioned)
        found = audit_staged(asset, table.schema(), table_dir, staged, project=self.project.name, run_id=run_id,
                             references=self.references, bins=dict(self.bins[asset.name]))
        for key, audit in found.items():
            self.audits[(asset.name, key)] = audit
        return {key: audit.verdict for key, audit in found.items()}

    def measured(self, asset: str, key: str) -> dict | None:
        return None  # compared by the rehearsal itself (compare)

    def withhold(self, asset: str, keys: Collection[str]) -> dict[str, dict]:
        return {}  # nothing is flushed

    def flush(self) -> None:
        pass  # a rehearsal records nothing


def compare(project: Project, store: MetadataStore, build: ShadowBuild, auditor: ShadowAuditor, shadow: ShadowPartition,
            here: str) -> PartitionRehearsal:
    """One shadow partition against the version published now, with its verdict. Its notes say
    what else than the upgrade differs from the published build: the code, the environment
    (``here`` is the one the rehearsal started from), what it read."""
    import pyarrow.parquet as pq

    from weir.compute.diff import diff_tables

    asset = project.assets[shadow.asset]
    row = build.resolver.current.get((shadow.asset, shadow.key)) or {}
    out = PartitionRehearsal(asset=shadow.asset, partition=shadow.key, verdict="", state=shadow.state,
                             error=shadow.error, notes=shadow.notes, output=shadow.path,
                             published_version=row.get("version"), published_run=row.get("run_id"))
    with store.read():
        published_run = store.runs.get(row["run_id"]) if row.get("run_id") else None
    if row and row.get("code_version") not in (asset.code_version, asset.legacy_code_version):
        out.notes.insert(0, "its code changed since the published build: the diff shows that change too")
    env = published_run.environment_id if published_run else None
    if env and env != here:
        out.notes.insert(0, f"its published version was built in environment {env}, not this one ({here}): the diff "
                            f"shows those changes too (weir envs diff {env} {here})")
    audit = auditor.audits.get((shadow.asset, shadow.key))
    if audit is not None:
        with store.read():
            checked = store.checks.list(project.name, asset=asset.name, partition=shadow.key, run_id=row.get("run_id"),
                                        latest=False) if row.get("run_id") else []
            points = store.metrics.series(project.name, asset.name, start=shadow.key, end=shadow.key)
        out.checks = failed_checks(audit.results, {c["check_name"]: bool(c["passed"]) for c in checked})
        out.monitors = outside_limits([p for p in points if p["partition_key"] == shadow.key], audit.profile)
    if shadow.state == "built" and shadow.path is not None:
        table = build.table(shadow.asset)
        before = table.read([shadow.key], version=row.get("version")) if table.exists() else _empty()
        after = pq.read_table(shadow.path)
        if asset.model is not None:  # the same model from another build is the same model
            from weir.storage.models import BOOKKEEPING

            before, after = (t.drop_columns([c for c in BOOKKEEPING if c in t.column_names]) for t in (before, after))
            out.notes.append(f"a model's rows are compared without {', '.join(BOOKKEEPING)} (where and by which "
                             f"build its artifact is stored)")
        diff = diff_tables(before, after, key=asset.key)
        out.diff = diff.to_json()
        if audit is not None and audit.profile is not None:
            out.metrics = metric_deltas(_profile(asset, before, auditor), audit.profile)
    return judge(out)


def _profile(asset: Asset, data: pa.Table, auditor: ShadowAuditor) -> Profile | None:
    """The published version measured as its shadow one was (the same bins)."""
    from weir.quality.scan import ScanInput, scan

    schema = {f.name: str(f.type) for f in data.schema}
    found = scan([], ScanInput(table=data, schema=schema), metrics=dict(asset.metrics),
                 bins=dict(auditor.bins.get(asset.name, {})), profile=True)
    return found.profile


def _empty() -> pa.Table:
    import pyarrow as pa

    return pa.table({})


def _new_id() -> str:
    from weir.engine.recorder import new_run_id

    return new_run_id()


def _record(root: Path, rehearsal: Rehearsal) -> None:
    """Keep the rehearsal as ``rehearsal.json`` beside its shadow data (written whole, then renamed)."""
    root.mkdir(parents=True, exist_ok=True)
    partial = root / f".{RECORD}.{secrets.token_hex(4)}"
    partial.write_text(json.dumps(rehearsal.to_json(), indent=2, default=str) + "\n")
    os.replace(partial, root / RECORD)
