"""What a run does about the other live runs of its project: it takes the lease of each
partition it decides, and a partition whose lease another run holds is waited for or skipped
(``on_conflict``). While another run is live, what it published is read again before a
partition is built, so one it built since this run planned it is not built twice."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from weir.engine.blocked import normalized
from weir.engine.leasing import transact
from weir.engine.recorder import task_row
from weir.engine.scheduler import Held

if TYPE_CHECKING:
    from weir.engine.inputs import InputResolver, ResolvedInputs
    from weir.engine.planner import Plan
    from weir.engine.recorder import RunRecorder
    from weir.engine.specs import PublishedTables
    from weir.model.definitions import Asset
    from weir.project.graph import Project
    from weir.store.store import MetadataStore

Node = tuple[str, str]  # (asset, partition key)
# While another run of the project is live, what it published is read again at most this often
# (whether one is live is asked as often): a partition it built after this run planned is not rebuilt.
RIVALS_SECONDS = 1.0


class ConflictPolicy:
    """The leases of the run ``recorder`` records, and what it does when another live run holds
    one (``on_conflict``: ``wait`` or ``skip``); the runs met and the partitions waited for,
    found up to date or skipped are counted in the run's result (``conflicts``)."""

    def __init__(self, *, store: MetadataStore, project: Project, plan: Plan, resolver: InputResolver,
                 tables: PublishedTables, recorder: RunRecorder, on_conflict: str) -> None:
        self.store = store
        self.project = project
        self.resolver = resolver
        self.tables = tables
        self.leases = recorder.leases
        self.run_id = recorder.run_id
        self.on_conflict = on_conflict
        self.conflicts = recorder.result.conflicts
        self.conflicts["on_conflict"] = on_conflict
        # what each planned partition was when planned: a waited-for one that changed since was
        # published by the run it waited for
        self._planned = {
            (t.asset, t.key): (row["version"], row["run_id"])
            for t in plan.tasks if (row := resolver.current.get((t.asset, t.key))) is not None
        }
        self._waited: dict[Node, str] = {}  # partition -> the run it waited for
        self._deferred: dict[Node, str] = {}  # skipped for another run -> that run
        self._refused: dict[Node, str] = {}  # claimed, but another live run holds it -> that run
        self._rivals: tuple[float, bool] = (float("-inf"), False)  # (asked at, another run is live)
        self._read_at: dict[str, float] = {}  # asset -> when its published partitions were last read

    def claim(self, nodes: list[Node]) -> None:
        """Take the leases of the partitions about to be decided, in one transaction."""
        wanted = [n for n in nodes if n not in self.leases.held]
        if wanted:
            self._refused.update(self.leases.take(wanted))

    def deferred(self, node: Node, reads: list[Node]) -> dict | None:
        """The task row of ``node`` (skipped) when what it ``reads`` is half-way through another
        run's rebuild: not read now. None otherwise."""
        busy = [n for n in reads if n in self._deferred]
        if not busy:
            return None
        self._deferred[node] = holder = self._deferred[busy[0]]
        self.conflicts["skipped"] += 1
        return task_row(*node, state="skipped",
                        reason=f"{busy[0][0]} {busy[0][1]!r} is being built by run {holder}".replace(" ''", ""))

    def lease(self, node: Node) -> dict | Held | None:
        """None once this run holds ``node``'s lease (taken now if it was not claimed); while
        another live run holds it, the task row of ``node`` skipped, or Held to wait for it."""
        taken_by = self._refused.pop(node, None)
        if taken_by is None and node not in self.leases.held:  # not claimed: the lease is taken now
            taken_by = self.leases.take([node]).get(node)
        if taken_by is None:
            return None
        self._conflict_with(taken_by)
        if self.on_conflict == "skip":
            self._deferred[node] = taken_by
            self.conflicts["skipped"] += 1
            return task_row(*node, state="skipped", reason=f"being built by run {taken_by}")
        if self._waited.get(node) != taken_by:  # say so where ``weir runs show`` looks
            transact(self.store, lambda: self.store.runs.update_tasks(
                self.run_id, [{"asset": node[0], "partition_key": node[1], "reason": f"waiting for run {taken_by}"}]))
        if node not in self._waited:
            self.conflicts["waited"] += 1
        self._waited[node] = taken_by
        return Held(holder=taken_by)

    def recheck(self, asset: Asset, key: str, resolved: ResolvedInputs) -> tuple[ResolvedInputs, dict | None]:
        """``key``'s inputs, decided again on what is published now when this run waited for
        it or another run is live, and the task row of ``key`` when it is not to be built after
        all (another run built it up to date, or an input is gone); else ``resolved`` and None."""
        node = (asset.name, key)
        if node not in self._waited and not self._contended():
            return resolved, None
        resolved, row = self._replan(asset, key, again=node in self._waited)
        if row is not None:
            self._conflict_with(row["run_id"])
            self.conflicts["up_to_date"] += 1
            when = "while this run waited" if node in self._waited else "after this run planned it"
            return resolved, task_row(*node, state="skipped", reason=f"up to date: run {row['run_id']} built it {when}")
        absent = resolved.describe_missing()
        if absent:
            return resolved, task_row(*node, state="skipped", reason=absent)
        return resolved, None

    def _conflict_with(self, run_id: str) -> None:
        if run_id not in self.conflicts["runs"]:
            self.conflicts["runs"].append(run_id)

    def _contended(self) -> bool:
        """Whether another run of this project is live (asked at most every RIVALS_SECONDS)."""
        asked, live = self._rivals
        if time.monotonic() - asked >= RIVALS_SECONDS:
            with self.store.read():
                live = any(r.project == self.project.name and r.id != self.run_id for r in self.store.runs.active())
            self._rivals = (time.monotonic(), live)
        return live

    def _replan(self, asset: Asset, key: str, *, again: bool) -> tuple[ResolvedInputs, dict | None]:
        """Decide ``key`` again on what is published now (read anew when ``again``, else as read
        at most RIVALS_SECONDS ago): its inputs, and the row of the version another run
        published since this run planned it when that version has this code and these inputs
        (up to date: not rebuilt), else None."""
        names = {asset.name} | {inp.upstream for inp in asset.inputs.values() if inp.upstream in self.project.assets}
        now = time.monotonic()
        stale = sorted(n for n in names if again or now - self._read_at.get(n, float("-inf")) >= RIVALS_SECONDS)
        if stale:
            with self.store.read():
                fresh = self.store.partitions.current(self.project.name, stale)
            for name in stale:  # files read again after the metadata: never older than what it says
                self.tables.forget_files(name)
                self.tables.forget_schema(name)
                self._read_at[name] = now
            self.resolver.current.update(fresh)
        resolved = self.resolver.resolve(asset, key)
        row = self.resolver.current.get((asset.name, key))
        if (
            row is not None and row["run_id"] != self.run_id
            and (row["version"], row["run_id"]) != self._planned.get((asset.name, key))
            and row["code_version"] in (asset.code_version, asset.legacy_code_version)
            and normalized(row.get("input_versions")) == normalized(resolved.versions)
        ):
            return resolved, row
        return resolved, None
