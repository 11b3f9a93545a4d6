"""Deciding versions held for approval (``[run] republish = "hold"``): approving publishes them
as a run publishes a partition — one atomic Delta commit per asset and build, then, in one
transaction, the published state, the measurements kept with them, their builds' tasks, the
``partition_published`` events and the ``rollout_changed`` event of their material changes —
and rejecting drops them, the published versions staying as they are.

A held version is approved only while the version it was judged against is still the one
published: a partition republished since (another run, a newer build) is refused, named."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from weir.engine.leasing import transact
from weir.engine.rollout import AssetRollout, PartitionChange
from weir.errors import DataError
from weir.events import Event, EventKind
from weir.project.graph import Project
from weir.storage.catalog import TableCatalog
from weir.storage.delta import AssetTable, StagedPartition, staged_file
from weir.store.quality import KeptProfile
from weir.store.store import MetadataStore


@dataclass(kw_only=True)
class Decision:
    """What approving or rejecting did: the versions ``done`` (``{asset, partition, run_id,
    version}``, version None for a rejection), those ``refused`` and why, and per asset and
    build the rollouts published (``AssetRollout.to_json`` plus ``run_id``)."""

    done: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    rollouts: list[dict[str, Any]] = field(default_factory=list)


def approve(*, project: Project, store: MetadataStore, catalog: TableCatalog, rows: list[dict], by: str) -> Decision:
    """Publish the held versions ``rows`` (``store.held`` rows of ``project``)."""
    out = Decision()
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for r in rows:  # one commit per asset and build: a commit names the run and code that made it
        groups.setdefault((r["asset"], r["run_id"], r["code_version"]), []).append(r)
    for (asset, run_id, code_version), group in groups.items():
        partitioned = project.assets[asset].partitions.is_partitioned if asset in project.assets else True
        table = catalog.table(project.name, asset, partitioned=partitioned)
        _approve_group(project.name, store, table, asset, run_id, code_version, group, by, out)
    return out


def _approve_group(project: str, store: MetadataStore, table: AssetTable, asset: str, run_id: str, code_version: str,
                   rows: list[dict], by: str, out: Decision) -> None:
    with store.read():
        current = store.partitions.current(project, [asset])
    ready: list[tuple[dict, StagedPartition]] = []
    for r in rows:
        why = _refusal(r, current.get((asset, r["partition_key"])))
        staged = None
        if why is None:
            try:
                staged = staged_file(table.uri, r["partition_key"], r["staged_path"])
            except DataError as exc:
                why = f"its staged file cannot be read ({exc}): 'weir reject' it and rebuild the partition"
        if staged is not None and (staged.rows != r["row_count"] or staged.size != r["size"]):
            why, staged = "its staged file changed since it was held: 'weir reject' it and rebuild the partition", None
        if why is not None or staged is None:
            out.refused.append({"asset": asset, "partition": r["partition_key"], "run_id": r["run_id"], "why": why})
            continue
        ready.append((r, staged))
    if not ready:
        return
    version = table.publish([s for _, s in ready], run_id=run_id,
                            metadata={"weir.code_version": code_version, "weir.approved_by": by})
    now = time.time()
    rollout = AssetRollout(asset=asset, changes=[PartitionChange.from_record(r["change"]) for r, _ in ready])
    event = rollout.event(project, run_id)
    keys = [r["partition_key"] for r, _ in ready]

    def record() -> None:
        store.partitions.record_published([
            {"project": project, "asset": asset, "partition_key": r["partition_key"], "version": version, "run_id": run_id,
             "code_version": code_version, "input_versions": r["input_versions"], "row_count": s.rows, "published_at": now}
            for r, s in ready
        ])
        for r, _ in ready:
            if r["profile"]:
                store.metrics.record(project, asset, r["partition_key"], run_id, KeptProfile.from_json(r["profile"]))
        for state in sorted({r["state"] for r, _ in ready}):
            store.runs.settle_held(run_id, asset, [r["partition_key"] for r, _ in ready if r["state"] == state],
                                   state=state, reason=f"approved by {by}", output_version=version)
        store.held.drop(project, asset, keys)
        store.emit(*(
            Event(kind=EventKind.PARTITION_PUBLISHED, project=project, asset=asset, partition_key=r["partition_key"],
                  run_id=run_id, data={"version": version, "rows": s.rows, "state": r["state"], "code_version": code_version,
                                       "inputs": r["input_versions"], "table": table.uri, "approved_by": by})
            for r, s in ready
        ))
        if event is not None:
            store.emit(event)

    transact(store, record)
    rollout.announced = event is not None
    out.done += [{"asset": asset, "partition": k, "run_id": run_id, "version": version} for k in keys]
    out.rollouts.append({**rollout.to_json(), "run_id": run_id})


def _refusal(held: dict, current: dict | None) -> str | None:
    """Why ``held`` cannot be published now: the version it was judged against is gone."""
    was = held["replaces"]
    if current is None:
        return "the version it replaces is no longer published: 'weir reject' it and rebuild the partition"
    if current["version"] != was["version"] or current["run_id"] != was["run_id"]:
        return (f"its partition was published again since it was held (by run {current['run_id']}): "
                "'weir reject' it, or rebuild the partition")
    return None


def reject(*, project: Project, store: MetadataStore, catalog: TableCatalog, rows: list[dict], by: str,
           remove: Callable[[str], None] = os.remove) -> Decision:
    """Drop the held versions ``rows``: their builds are marked rejected and their staged files
    removed; the published versions stay."""
    out = Decision()
    by_build: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        by_build.setdefault((r["asset"], r["run_id"]), []).append(r)

    def record() -> None:
        for (asset, run_id), group in by_build.items():
            keys = [r["partition_key"] for r in group]
            store.held.drop(project.name, asset, keys)
            store.runs.settle_held(run_id, asset, keys, state="rejected", reason=f"rejected by {by}")

    transact(store, record)
    for r in rows:
        partitioned = project.assets[r["asset"]].partitions.is_partitioned if r["asset"] in project.assets else True
        table = catalog.table(project.name, r["asset"], partitioned=partitioned)
        try:
            remove(os.path.join(table.uri, r["staged_path"]))
        except FileNotFoundError:
            pass
        out.done.append({"asset": r["asset"], "partition": r["partition_key"], "run_id": r["run_id"], "version": None})
    return out
