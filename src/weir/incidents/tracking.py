"""Keeping incident scopes as partitions are published (``scope.py`` says what a scope is). Used
by the incidents service inside one sync batch, in the batch's unit of work:

- ``sweep`` (when an incident opens or its cause is known): every published partition of the
  cause's asset built under the cause, then every published partition downstream that was
  built from one in scope;
- ``built`` (each ``partition_published`` / ``source_admitted`` event): a build under the cause,
  or from a bad partition, joins the scope; a bad partition built otherwise becomes a candidate
  fix, kept only if nothing is raised on it later in the batch (``retract``);
- ``settle`` (end of the batch): the candidates whose inputs are all good are fixed, in
  dependency order."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from weir.events import Event, EventKind, PartitionPublished, payload
from weir.incidents.grouping import BROKEN
from weir.incidents.scope import PROVENANCE, UNPUBLISHED, Build, IncidentCause, bad_version, reads_bad, under
from weir.model.rows import IncidentRecord, RunRecord, ScopeRecord

if TYPE_CHECKING:
    from weir.project.graph import Project
    from weir.store.store import MetadataStore

ACTIVE = ("open", "acknowledged")
Where = tuple[str, str]


class ScopeTracker:
    def __init__(self, project: Project, store: MetadataStore, downstream: Callable[[str], set[str]]) -> None:
        self.project, self.store, self.downstream = project, store, downstream
        self.pending: dict[Where, tuple[Event, Build]] = {}
        self.grown: dict[int, list[str]] = {}  # incident -> lines of what joined its scope in this batch
        self._active: list[tuple[IncidentRecord, IncidentCause | None, list[ScopeRecord]]] | None = None
        self._runs: dict[str, RunRecord | None] = {}
        self._envs: dict[str, dict[str, str] | None] = {}

    # -- what is in scope now ---------------------------------------------------------------------
    def active(self) -> list[tuple[IncidentRecord, IncidentCause | None, list[ScopeRecord]]]:
        """Active incidents with their cause and scope rows (cached until ``changed``)."""
        if self._active is None:
            rows = self.store.incidents.select(self.project.name, states=ACTIVE)
            scope = self.store.incidents.scope([r.id for r in rows])
            self._active = [(r, IncidentCause.from_json(r.cause), scope.get(r.id, [])) for r in rows]
        return self._active

    def changed(self) -> None:
        self._active = None

    @staticmethod
    def bad(rows: list[ScopeRecord]) -> dict[Where, str | None]:
        """The scope's partitions still bad, each with which of its versions are (``scope.bad_version``)."""
        return {(r.asset, r.partition_key): r.version for r in rows if r.fixed_run_id is None}

    # -- builds ----------------------------------------------------------------------------------
    def build(self, asset: str, key: str, run_id: str | None, code_version: str | None,
              inputs: dict[str, Any] | None, *, need_packages: bool, version: Any = None) -> Build:
        run = self._run(run_id)
        packages = self._packages(run.environment_id if run else None) if need_packages else None
        return Build(asset=asset, key=key, run_id=run_id, code_version=code_version,
                     configuration_id=run.configuration_id if run else None, packages=packages,
                     inputs={up: dict(parts or {}) for up, parts in (inputs or {}).items()},
                     version=None if version is None else str(version))

    def _run(self, run_id: str | None) -> RunRecord | None:
        if not run_id:
            return None
        if run_id not in self._runs:
            self._runs[run_id] = self.store.runs.get(run_id)
        return self._runs[run_id]

    def _packages(self, environment_id: str | None) -> dict[str, str] | None:
        if not environment_id:
            return None
        if environment_id not in self._envs:
            env = self.store.environments.get(environment_id)
            self._envs[environment_id] = dict(env["packages"]) if env and env.get("packages") else None
        return self._envs[environment_id]

    def add(self, incident_id: int, where: Where, *, run_id: str | None, via: str, why: str, at: float,
            version: str | None = None, grows: bool = True) -> bool:
        """Put ``where`` in the incident's scope; ``grows``: the fault reaches further (not a reader
        of a corrected partition waiting to be built again)."""
        new = self.store.incidents.add_scope(incident_id, asset=where[0], partition_key=where[1], run_id=run_id,
                                             via=via, why=why, version=version, at=at)
        if new and grows:
            self.grown.setdefault(incident_id, []).append(f"{where[0]} {where[1]}: {why}")
        self.changed()
        return new

    # -- when an incident opens --------------------------------------------------------------------
    def sweep(self, incident_id: int, cause: IncidentCause | None, at: float) -> None:
        """Bring into the scope every published partition built under ``cause``, then everything
        published downstream that was built from a partition in scope."""
        name = self.project.name
        rows = next((s for r, _, s in self.active() if r.id == incident_id), [])
        bad = self.bad(rows)
        if cause is not None and cause.kind in ("library", "code", "configuration") and cause.asset in self.project.assets:
            current = self.store.partitions.current(name, [cause.asset])
            for (asset, key), row in sorted(current.items()):
                b = self.build(asset, key, row["run_id"], row["code_version"], row["input_versions"],
                               need_packages=cause.kind == "library")
                if (asset, key) not in bad and under(cause, b):
                    self.add(incident_id, (asset, key), run_id=row["run_id"], via="cause", version=str(row["version"]),
                             why=f"built under the same cause ({cause.summary})", at=at)
                    bad[(asset, key)] = str(row["version"])
        self._sweep_lineage(incident_id, bad, at)

    def _sweep_lineage(self, incident_id: int, bad: dict[Where, str | None], at: float) -> None:
        roots = {asset for asset, _ in bad}
        below: set[str] = set()
        for asset in roots:
            below |= self.downstream(asset)
        below &= set(self.project.assets)
        if not below:
            return
        order = [a for a in self.project.closure(sorted(roots), upstream=False) if a in below]
        current = self.store.partitions.current(self.project.name, order)
        for asset in order:
            for (a, key), row in sorted(current.items()):
                if a != asset or (a, key) in bad:
                    continue
                b = self.build(a, key, row["run_id"], row["code_version"], row["input_versions"], need_packages=False)
                hit = reads_bad(b, bad)
                if hit is not None:
                    self.add(incident_id, (a, key), run_id=row["run_id"], via="lineage", version=str(row["version"]),
                             why=f"built from {hit[0]} {hit[1]}, in scope", at=at)
                    bad[(a, key)] = str(row["version"])

    # -- as builds are published ---------------------------------------------------------------------
    def built(self, event: Event) -> None:
        """A partition published or a delivery admitted: it joins a scope, or may fix one."""
        active = [x for x in self.active() if x[2] or x[1] is not None]
        if not active or not event.asset or not event.partition_key:
            return
        where = (event.asset, event.partition_key)
        published = event.kind == EventKind.PARTITION_PUBLISHED
        library = any(c is not None and c.kind == "library" for _, c, _ in active)
        done = payload(event, PartitionPublished) if published else None
        b = (self.build(event.asset, event.partition_key, event.run_id, done.code_version,
                        done.inputs, need_packages=library, version=done.version) if done is not None
             else Build(asset=event.asset, key=event.partition_key, run_id=event.run_id, code_version=None,
                        configuration_id=None, packages=None, inputs={}, version=event.data.get("fingerprint")))
        healing = set(self.pending)
        candidate = False
        for incident, cause, rows in active:
            bad = {w: v for w, v in self.bad(rows).items() if w not in healing}
            if cause is not None and under(cause, b):
                self.add(incident.id, where, run_id=event.run_id, via="cause", version=b.version,
                         why=f"built under the same cause ({cause.summary})", at=event.at)
                continue
            hit = reads_bad(b, bad)
            if hit is not None:
                self.add(incident.id, where, run_id=event.run_id, via="lineage", version=b.version,
                         why=f"built from {hit[0]} {hit[1]}, in scope", at=event.at)
                continue
            if where in {(r.asset, r.partition_key) for r in rows}:
                candidate = True
        if candidate:
            self.pending[where] = (event, b)
        else:
            self.pending.pop(where, None)

    def _still_to_build(self, incident_id: int, where: Where, b: Build, at: float) -> None:
        """A partition fixed by a new version: what reads it must be built again from that version
        before the incident is over. Each partition of an asset that reads it directly and was
        built from an older version of it (or, on the same grid, was never built) joins the
        scope, unless this batch already rebuilt it from the new one."""
        children = sorted(a for a, node in self.project.assets.items() if where[0] in node.upstream_names)
        if not children:
            return
        current = self.store.partitions.current(self.project.name, children)
        for child in children:
            rows = {k: r for (a, k), r in current.items() if a == child}
            reading = {k for k, r in rows.items() if where[1] in ((r["input_versions"] or {}).get(where[0]) or {})}
            try:
                scheme = self.project.node(child).partitions
                same_grid = scheme.is_partitioned and where[1] in set(scheme.keys())
            except Exception:  # noqa: BLE001 - a key outside the child's grid
                same_grid = False
            if same_grid and where[1] not in rows:
                reading.add(where[1])  # never built (its input was blocked): built now or still due
            for key in sorted(reading):
                if (child, key) in self.pending:
                    continue  # rebuilt in this batch: it is a candidate of its own
                row = rows.get(key)
                read = ((row or {}).get("input_versions") or {}).get(where[0], {}).get(where[1])
                if row is not None and b.version is not None and str(read) == str(b.version):
                    continue  # already built from the good version
                self.add(incident_id, (child, key), run_id=None, via="lineage", version=None, at=at, grows=False,
                         why=f"reads {where[0]} {where[1]}, which was corrected: to be built again from it")

    def retract(self, where: tuple[str | None, str | None]) -> None:
        """Something was raised on ``where`` after it was built: it fixes nothing."""
        self.pending.pop((where[0] or "", where[1] or ""), None)

    def settle(self) -> dict[int, list[str]]:
        """Fix the candidates, in each incident whose scope holds them, once nothing they read is
        still bad there (upstream first: a pass fixes what the last one made readable); returns
        per incident the partitions fixed."""
        fixed: dict[int, list[str]] = {}
        progress = True
        while progress and self.pending:
            progress = False
            for where, (event, b) in sorted(self.pending.items()):
                waiting = False
                for incident, _, rows in self.active():
                    bad = self.bad(rows)
                    if where not in bad:
                        continue
                    if reads_bad(b, {w: v for w, v in bad.items() if w != where}) is not None:
                        waiting = True  # it read something this incident still holds bad
                        continue
                    if self.store.incidents.fix_scope(incident.id, asset=where[0], partition_key=where[1],
                                                      run_id=event.run_id, at=event.at):
                        fixed.setdefault(incident.id, []).append(f"{where[0]} {where[1]}")
                        self._still_to_build(incident.id, where, b, event.at)
                        self.changed()
                        progress = True
                if not waiting:
                    del self.pending[where]
        self.pending.clear()
        return fixed


def bad_versions(project: Project, store: MetadataStore, event: Event, keys: list[str]) -> dict[str, str | None]:
    """Which version of each partition a trigger says is bad: none readable for a blocked or
    failed one; the delivery now checked for a source's alert; the version its run published
    for an asset's alert or a rollout (None when that is not known: any version read counts)."""
    kind, asset = str(event.kind), event.asset or ""
    if kind in BROKEN:
        return dict.fromkeys(keys, UNPUBLISHED)
    if asset in project.sources:
        delivered = store.sources.get(project.name, asset)
        return {k: (delivered.get(k) or {}).get("fingerprint") for k in keys}
    current = store.partitions.current(project.name, [asset])
    out: dict[str, str | None] = {}
    for k in keys:
        row = current.get((asset, k))
        out[k] = str(row["version"]) if row is not None and (row["run_id"] == event.run_id or not event.run_id) else None
    return out


def same_cause(project: Project, store: MetadataStore, event: Event, resolved: list[IncidentRecord],
               tracker: ScopeTracker) -> list[IncidentRecord]:
    """The recently resolved incidents whose cause (a library, code or configuration version)
    the trigger's partition was built under again: the same fault back, not a new one."""
    causes: list[tuple[IncidentRecord, IncidentCause]] = []
    for i in resolved:
        c = IncidentCause.from_json(i.cause)
        if c is not None and c.kind in PROVENANCE and c.asset == event.asset:
            causes.append((i, c))
    if not causes or not event.partition_key or event.asset not in project.assets:
        return []
    row = store.partitions.current(project.name, [event.asset or ""]).get((event.asset or "", event.partition_key))
    if row is None:
        return []
    build = tracker.build(event.asset or "", event.partition_key, row["run_id"], row["code_version"],
                          row["input_versions"], need_packages=True, version=row["version"])
    return [i for i, c in causes if under(c, build)]


def undelivered(project: Project, store: MetadataStore, incident_id: int) -> list[str]:
    """The source partitions of an incident's scope still bad whose landed files are still a
    delivery the incident holds bad: ``["source key"]``."""
    from pathlib import Path

    from weir.storage.sources import fingerprint, source_files

    with store.read():
        scope = store.incidents.scope([incident_id])[incident_id]
    out = []
    for r in scope:
        if r.fixed_run_id is not None or r.asset not in project.sources or r.version in (None, UNPUBLISHED):
            continue
        files = source_files(project.sources[r.asset], Path(project.root), r.partition_key)
        if files and bad_version(r.version, fingerprint(files)):
            out.append(f"{r.asset} {r.partition_key}")
    return out
