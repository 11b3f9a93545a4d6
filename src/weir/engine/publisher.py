"""Publishing what a run built: each batch of an asset's staged partitions is audited, judged
against the versions it replaces when its code or configuration changed (``engine.republish``),
and published in one Delta commit (or, with ``republish`` ``hold``, held for ``weir approve``);
the commit is recorded with its task rows and events in one transaction. Once every planned
partition of an asset is decided, its rollout judgement goes out as an event."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from weir.engine.blocked import checks_version
from weir.engine.leasing import transact
from weir.engine.recorder import task_row
from weir.engine.republish import RolloutJudge, held_version
from weir.engine.rollout import PartitionChange, describe
from weir.engine.tasks import TaskOutcome
from weir.events import Event, EventKind

if TYPE_CHECKING:
    from weir.engine.audit import Auditor
    from weir.engine.cancel import CancelSignals
    from weir.engine.inputs import InputResolver
    from weir.engine.planner import Plan
    from weir.engine.recorder import RunRecorder
    from weir.engine.specs import PublishedTables
    from weir.model.definitions import Asset
    from weir.project.configuration import ConfigurationSnapshot
    from weir.project.graph import Project
    from weir.storage.delta import AssetTable
    from weir.store.store import MetadataStore


class Publisher:
    """Publishes the batches of the run ``recorder`` records into ``tables``, audited by
    ``auditor`` and judged by ``judge``. ``republish`` ``hold`` keeps a republished partition's
    new version staged for approval (``held_now``); ``held`` maps the partitions that have a
    version held before this run to the run that built it: a publish or a hold replaces it."""

    def __init__(self, *, store: MetadataStore, project: Project, plan: Plan, resolver: InputResolver,
                 tables: PublishedTables, recorder: RunRecorder, auditor: Auditor, judge: RolloutJudge,
                 configuration: ConfigurationSnapshot, republish: str, held: dict[tuple[str, str], str],
                 signals: CancelSignals) -> None:
        self.store = store
        self.project = project
        self.resolver = resolver
        self.tables = tables
        self.recorder = recorder
        self.leases = recorder.leases
        self.run_id = recorder.run_id
        self.result = recorder.result
        self.auditor = auditor
        self.judge = judge
        self.configuration = configuration
        self.republish = republish
        self._signals = signals
        self._held_before = dict(held)  # (asset, key) -> the run whose version of it is held
        self.held_now: set[tuple[str, str]] = set()  # held by this run
        self._gathered = {r.asset for r in plan.replaces}  # published in as few commits as the batch allows
        self._undecided: dict[str, set[str]] = {}  # per asset, its planned partitions not decided yet
        for t in plan.tasks:
            self._undecided.setdefault(t.asset, set()).add(t.key)

    def gathers(self, asset: str) -> bool:
        """Whether ``asset`` republishes partitions under changed code or configuration: they are
        published together, so readers never see the old and the new code side by side and the
        judgement goes out with the commit that publishes them."""
        return asset in self._gathered

    def pending(self) -> list[Event]:
        """The rollout events not sent yet (a run cut short)."""
        return [e for asset in list(self.judge.rollouts) for e in self.rollout_events(asset)]

    def rollouts(self) -> list[dict]:
        """What this run republished under changed code or configuration, per asset, judged."""
        return [r.to_json() for r in self.judge.rollouts.values() if r.changes]

    def decide(self, asset: str, keys: list[str]) -> list[Event]:
        """``keys`` of ``asset`` are decided; once all its planned partitions are, its rollout
        event (if any), to be written with the transaction that records the last of them."""
        left = self._undecided.get(asset)
        if left is None:
            return []
        left.difference_update(keys)
        if left:
            return []
        del self._undecided[asset]
        return self.rollout_events(asset)

    def rollout_events(self, asset: str) -> list[Event]:
        """The ``rollout_changed`` event of what this run published of ``asset`` under changed
        code or configuration, once: its held versions are judged again when approved."""
        rollout = self.judge.rollouts.get(asset)
        if rollout is None or rollout.emitted:
            return []
        rollout.emitted = True
        event = rollout.published(lambda key: (asset, key) not in self.held_now).event(self.project.name, self.run_id)
        rollout.announced = event is not None
        return [event] if event is not None else []

    def publish(self, asset: Asset, outcomes: list[TaskOutcome]) -> None:
        """Audit what was built of ``asset``, judge what it replaces under changed code or
        configuration, and commit it: a cancel waits until the commit is recorded."""
        table = self.tables.table(asset.name)
        staged = [o.staged for o in outcomes if o.staged is not None]
        verdicts = self.auditor.audit(asset, table.uri, staged, self.run_id)
        # what passed, judged against the versions it replaces under changed code or configuration
        publishable = [s for s in staged if verdicts[s.key].publish]
        replaced = self.judge.replaced(asset, publishable, self.resolver.current)
        changes = self.judge.compare(asset, table, [s for s in publishable if s.key in replaced], replaced,
                                     lambda key: self.auditor.measured(asset.name, key)) if replaced else {}
        with self._signals.shielded():  # a cancel never falls between the Delta commit and its record
            self._commit(asset, table, outcomes, verdicts, replaced, changes)

    def _commit(self, asset: Asset, table: AssetTable, outcomes: list[TaskOutcome], verdicts: dict,
                replaced: Mapping[str, tuple[Mapping[str, Any], str]], changes: Mapping[str, PartitionChange]) -> None:
        """Publish what passed its audit in one Delta commit, but with ``republish`` ``hold`` not
        what ``replaced`` names (held instead: ``changes`` say how each differs from what it
        replaces); record it, the held and blocked builds and their events in one transaction,
        and give up their leases."""
        staged = [o.staged for o in outcomes if o.staged is not None]
        publishable = [s for s in staged if verdicts[s.key].publish]
        held: dict[str, dict] = {}
        if self.republish == "hold" and replaced:
            kept = self.auditor.withhold(asset.name, list(replaced))
            held = {s.key: held_version(self.project.name, self.run_id, asset, s, state=verdicts[s.key].state,
                                        replaced=replaced[s.key], change=changes[s.key], profile=kept.get(s.key),
                                        configuration_id=self.configuration.id,
                                        input_versions=self.recorder.versions.get((asset.name, s.key)))
                    for s in publishable if s.key in replaced}
            publishable = [s for s in publishable if s.key not in held]
            self.judge.held(asset.name, len(held))
        index = self.tables.files(asset.name)
        version = None
        self.tables.forget_schema(asset.name)  # a publish may add columns
        if publishable:
            try:
                version = table.publish(publishable, run_id=self.run_id, metadata={"weir.code_version": asset.code_version})
            except Exception as exc:  # noqa: BLE001 - e.g. a schema the table cannot take: these partitions fail
                lost = {s.key for s in publishable}
                failing = [o for o in outcomes if o.key in lost]
                for o in failing:
                    self.recorder.failed.add((asset.name, o.key))
                self.judge.forget(asset.name, lost)
                self.recorder.failures(asset, [TaskOutcome(**{**o.__dict__, "error": f"publish failed: {exc}"}) for o in failing],
                                       str(exc), self.decide(asset.name, [o.key for o in failing]))
                outcomes = [o for o in outcomes if o.key not in lost]
                publishable = []
        published = {s.key for s in publishable}
        now = time.time()
        published_rows, task_rows, events = [], [], []
        for o in outcomes:
            s = o.staged
            assert s is not None
            verdict = verdicts[s.key]
            if s.key in published:
                index[s.key] = [s.path]
                row = {
                    "project": self.project.name, "asset": asset.name, "partition_key": s.key, "version": version,
                    "run_id": self.run_id, "code_version": asset.code_version,
                    "input_versions": self.recorder.versions.get((asset.name, s.key)), "row_count": s.rows, "published_at": now,
                }
                published_rows.append(row)
                self.resolver.current[(asset.name, s.key)] = row
            elif s.key in held:
                self.held_now.add((asset.name, s.key))
            else:
                self.recorder.failed.add((asset.name, s.key))
            state = "held" if s.key in held else verdict.state if s.key in published else "blocked"
            if state in ("blocked", "failed_check") or state == "held" and verdict.state == "failed_check":
                self.recorder.check_failed = True
                self.result.failures.append({"asset": asset.name, "partition": s.key, "error": f"{'failed_check' if state == 'held' else state}: {verdict.message}"})
            reason = verdict.message or self.recorder.reasons.get((asset.name, s.key))
            if state == "held":
                reason = f"held for approval: {describe([changes[s.key]])}"
            task_rows.append(
                task_row(
                    asset.name, s.key, state=state, reason=reason, attempt=o.attempts,
                    input_versions=self.recorder.versions.get((asset.name, s.key)), output_version=version if s.key in published else None,
                    row_count=s.rows, started_at=o.started_at, finished_at=now, seconds=o.seconds, staged_path=s.path,
                )
            )
            built = {"held": True} if state == "held" else {}
            events.append(self.recorder.event(EventKind.PARTITION_BUILT, asset.name, s.key, rows=s.rows,
                                              seconds=round(o.seconds, 3), attempts=o.attempts,
                                              code_version=asset.code_version, **built))
            if s.key in published:
                events.append(self.recorder.event(
                    EventKind.PARTITION_PUBLISHED, asset.name, s.key, version=version, rows=s.rows, state=state,
                    code_version=asset.code_version, inputs=self.recorder.versions.get((asset.name, s.key)), table=table.uri,
                ))
            elif state == "blocked":
                events.append(self.recorder.event(EventKind.PARTITION_BLOCKED, asset.name, s.key, rows=s.rows,
                                                  message=verdict.message, staged_path=s.path,
                                                  checks=checks_version(asset)))
            self.recorder.count(asset.name, state)
        # a version held before is replaced by what this commit published or held of its partition
        superseded = {k: self._held_before.pop((asset.name, k)) for k in sorted(published | set(held))
                      if (asset.name, k) in self._held_before}
        decided = self.decide(asset.name, [o.key for o in outcomes])

        def record() -> dict[str, dict]:
            self.store.runs.update_tasks(self.run_id, task_rows)  # first: on SQLite the write lock is ours from here
            newer = self._published_since(asset.name, published_rows)
            self.store.partitions.record_published([r for r in published_rows if r["partition_key"] not in newer])
            self.store.partitions.record_versions([r for r in published_rows if r["partition_key"] in newer])
            self._supersede(asset.name, superseded)
            self.store.held.hold(list(held.values()))
            self.leases.release([(asset.name, o.key) for o in outcomes])
            self.auditor.flush()
            self.store.emit(*events, *decided)
            return newer

        newer = transact(self.store, record)
        for key, row in newer.items():  # another run published it after this commit: its version is current
            self.resolver.current[(asset.name, key)] = row
            self.tables.forget_files(asset.name)

    def _supersede(self, asset: str, superseded: dict[str, str]) -> None:
        """Versions held before (key -> the run that built them) that a newer build replaced:
        dropped, their builds marked rejected (their staged files go with ``weir vacuum``)."""
        if not superseded:
            return
        self.store.held.drop(self.project.name, asset, list(superseded))
        for run_id in sorted(set(superseded.values()) - {self.run_id}):
            self.store.runs.settle_held(run_id, asset, [k for k, r in superseded.items() if r == run_id], state="rejected",
                                        reason=f"replaced by a newer build in run {self.run_id}")

    def _published_since(self, asset: str, rows: list[dict]) -> dict[str, dict]:
        """Of ``rows`` (this commit's), those the store already records a newer version of — a
        run that took over a lapsed lease and committed after this one — with that version's row."""
        if not rows:
            return {}
        current = self.store.partitions.current(self.project.name, [asset])
        newer = {}
        for r in rows:
            now = current.get((asset, r["partition_key"]))
            if now is not None and now["version"] is not None and now["version"] > r["version"]:
                newer[r["partition_key"]] = now
        return newer
