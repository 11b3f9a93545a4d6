"""Republishing a published partition under changed code or configuration: why its new version is
judged (``RolloutCauses``), and the facts it is judged on (``RolloutJudge``), cheaply — the
stored metric points of the old version beside the unflushed ones of the new, the row counts the
store and the staged file already hold, and a row diff on the asset's key that reads the old
version by its Delta version (time travel), for at most ``DIFF_PARTITIONS`` partitions of an
asset per run, each of at most ``DIFF_ROWS`` rows a side. What the judge finds is
``engine.rollout``'s."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from weir.engine.rollout import TABLE, AssetRollout, PartitionChange, Points, judge
from weir.model.definitions import Asset
from weir.project.configuration import ConfigurationSnapshot
from weir.storage.delta import AssetTable, StagedPartition, read_files
from weir.store.store import MetadataStore

if TYPE_CHECKING:
    from weir.compute.diff import TableDiff

DIFF_PARTITIONS = 20
DIFF_ROWS = 1_000_000


class RolloutCauses:
    """Why a new version of a published partition is judged against the one it replaces:
    ``code`` when the asset's code version changed since that version was built, else
    ``configuration`` when its checks, monitor settings, metrics or schema policy changed (as the
    run that built it kept them; weir.toml decides no partition's data), else None. ``now`` is
    the configuration the new versions are built with."""

    def __init__(self, store: MetadataStore, project: str, now: ConfigurationSnapshot) -> None:
        self.store = store
        self.project = project
        self.now = now
        self._configuration_of: dict[str, str | None] = {}  # run id -> its configuration id
        self._nodes: dict[str, Mapping[str, Any]] = {}  # configuration id -> its nodes

    def prime(self, published: Iterable[tuple[Asset, Mapping[str, Any]]]) -> None:
        """Read, in one query, the configurations of the runs that built the ``published`` rows
        of assets whose code did not change (those whose code changed need none)."""
        wanted = sorted({r["run_id"] for a, r in published if r["run_id"] not in self._configuration_of
                         and r["code_version"] in (a.code_version, a.legacy_code_version)})
        if not wanted:
            return
        with self.store.read():
            found = self.store.runs.configuration_ids(wanted)
            self._configuration_of.update({rid: found.get(rid) for rid in wanted})
            for cid in {c for c in found.values() if c and c not in self._nodes}:
                kept = self.store.configurations.get(cid)
                self._nodes[cid] = (kept or {}).get("nodes") or {}

    def of(self, asset: Asset, row: Mapping[str, Any] | None) -> str | None:
        if row is None:
            return None
        if row["code_version"] not in (asset.code_version, asset.legacy_code_version):
            return "code"
        self.prime([(asset, row)])
        cid = self._configuration_of.get(row["run_id"])
        if cid is None or cid == self.now.id:
            return None  # built before configurations were kept, or with this very one
        was = self._nodes.get(cid, {}).get(asset.name)
        if was is None:
            return None
        now = {k: list(v) for k, v in (self.now.nodes.get(asset.name) or {}).items()}
        return "configuration" if dict(was) != now else None


class RolloutJudge:
    """Judges the new versions one run republishes under changed code or configuration, and
    keeps them per asset (``rollouts``) until the run says what they came to."""

    def __init__(self, store: MetadataStore, project: str, causes: RolloutCauses) -> None:
        self.store = store
        self.project = project
        self.causes = causes
        self.rollouts: dict[str, AssetRollout] = {}
        self._diffed: dict[str, int] = {}
        self._files_at: dict[tuple[str, int], dict[str, list[str]]] = {}

    def replaced(self, asset: Asset, staged: list[StagedPartition],
                 current: Mapping[tuple[str, str], Mapping[str, Any]]) -> dict[str, tuple[Mapping[str, Any], str]]:
        """Of ``staged``, those replacing a published version under another code or
        configuration: key -> (the published row, the cause)."""
        self.causes.prime([(asset, current[(asset.name, s.key)]) for s in staged if (asset.name, s.key) in current])
        out = {}
        for s in staged:
            row = current.get((asset.name, s.key))
            cause = self.causes.of(asset, row)
            if row is not None and cause is not None:
                out[s.key] = (row, cause)
        return out

    def compare(self, asset: Asset, table: AssetTable, staged: list[StagedPartition],
                replaced: Mapping[str, tuple[Mapping[str, Any], str]],
                measured: Callable[[str], Points | None]) -> dict[str, PartitionChange]:
        """Judge each of ``staged`` (all in ``replaced``) against the version it replaces;
        ``measured(key)`` gives the new version's metric points. Kept in ``rollouts``."""
        keys = [s.key for s in staged]
        with self.store.read():
            stored = self.store.metrics.points(self.project, asset.name, keys)
        out = {}
        for s in staged:
            row, cause = replaced[s.key]
            before, note = _measured_on(row, stored.get(s.key, []))
            after = measured(s.key)
            if after is None or not asset.profile:
                before = after = None
                note = None
            diff = None
            if asset.key:
                diff, why = self._diff(asset, table, s, row)
                note = "; ".join(n for n in (note, why) if n) or None
            out[s.key] = judge(partition=s.key, cause=cause, from_code_version=row["code_version"],
                               to_code_version=asset.code_version, rows_before=row.get("row_count"),
                               rows_after=s.rows, before=before, after=after, diff=diff, note=note)
        self.rollouts.setdefault(asset.name, AssetRollout(asset=asset.name)).changes.extend(out.values())
        return out

    def _diff(self, asset: Asset, table: AssetTable, staged: StagedPartition, row: Mapping[str, Any]) -> tuple[TableDiff | None, str | None]:
        """The row diff of the new version against the old on the asset's key, or (None, why not)."""
        import pyarrow.parquet as pq

        from weir.compute.diff import diff_tables

        done = self._diffed.get(asset.name, 0)
        if done >= DIFF_PARTITIONS:
            return None, f"not diffed row by row: {DIFF_PARTITIONS} partitions of an asset are, per run"
        if max(row.get("row_count") or 0, staged.rows) > DIFF_ROWS:
            return None, f"not diffed row by row: more than {DIFF_ROWS:,} rows"
        self._diffed[asset.name] = done + 1
        try:
            at = (asset.name, int(row["version"]))
            if at not in self._files_at:
                self._files_at[at] = table.files(int(row["version"]))
            before = read_files(table.uri, [(staged.key, p) for p in self._files_at[at].get(staged.key, [])], None)
            after = pq.read_table(os.path.join(table.uri, staged.path))
            return diff_tables(before, after, key=asset.key, sample=0), None
        except Exception as exc:  # noqa: BLE001 - a judgement never fails a publish: counts and metrics remain
            return None, f"not diffed row by row: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"

    def held(self, asset: str, n: int) -> None:
        self.rollouts.setdefault(asset, AssetRollout(asset=asset)).held += n

    def forget(self, asset: str, keys: set[str]) -> None:
        """Drop what was judged of ``keys``: their publish failed, nothing replaced them."""
        rollout = self.rollouts.get(asset)
        if rollout is not None:
            rollout.changes = [c for c in rollout.changes if c.partition not in keys]


def _measured_on(row: Mapping[str, Any], points: list[dict]) -> tuple[Points | None, str | None]:
    """The stored points of the published version ``row`` (None, and why, when the points stored
    for its partition are another build's: a later blocked build was measured since)."""
    mine = [p for p in points if p["run_id"] == row["run_id"] and not p["quarantined"]]
    if not mine:
        return None, ("metrics not compared: the published version's measurements were not kept" if points else None)
    if not any(p["column_name"] == TABLE and p["metric"] == "row_count" for p in mine):
        return None, "metrics not compared: the published version was not profiled"
    return {(p["column_name"], p["metric"]): p["value"] for p in mine}, None


def held_version(project: str, run_id: str, asset: Asset, staged: StagedPartition, *, state: str,
                 replaced: tuple[Mapping[str, Any], str], change: PartitionChange, profile: dict | None,
                 configuration_id: str, input_versions: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``store.held`` row of a new version held for approval: what publishing it needs (its
    staged file, its audit's ``state``, its inputs and measurements), what it replaces and how
    it differs from it."""
    row, cause = replaced
    return {
        "project": project, "asset": asset.name, "partition_key": staged.key, "run_id": run_id,
        "code_version": asset.code_version, "configuration_id": configuration_id, "state": state,
        "staged_path": staged.path, "size": staged.size, "row_count": staged.rows, "input_versions": input_versions,
        "replaces": {"version": row["version"], "run_id": row["run_id"], "code_version": row["code_version"],
                     "rows": row.get("row_count")},
        "cause": cause, "change": change.to_record(), "profile": profile, "held_at": time.time(),
    }
