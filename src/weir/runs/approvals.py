"""Versions held for approval (``[run] republish = "hold"``): listing them (``weir approvals``),
publishing them (``weir approve``) and dropping them (``weir reject``), and their JSON forms."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from weir.errors import UsageError
from weir.model.records import iso

if TYPE_CHECKING:
    from weir.engine.approval import Decision
    from weir.project.graph import Project
    from weir.runs.service import Monitors, Tables
    from weir.store.store import MetadataStore


def held_json(r: dict) -> dict[str, Any]:
    """One held version (``weir approvals --json``)."""
    change, was = r["change"], r["replaces"]
    return {
        "asset": r["asset"], "partition": r["partition_key"], "run_id": r["run_id"], "held_at": iso(r["held_at"]),
        "cause": r["cause"], "state": r["state"], "from_code_version": was["code_version"], "to_code_version": r["code_version"],
        "replaces": {"version": was["version"], "run_id": was["run_id"]}, "rows_before": was.get("rows"),
        "rows_after": r["row_count"], "material": bool(change.get("reasons")), "why": change.get("reasons") or [],
        "added": change.get("added"), "removed": change.get("removed"), "changed": change.get("changed"),
        "metrics": change.get("metrics") or [], "note": change.get("note"),
    }


def decision_json(d: Decision, verb: str) -> dict[str, Any]:
    """What ``weir approve --json`` (``verb`` approved) or ``weir reject --json`` (rejected) did."""
    out: dict[str, Any] = {verb: d.done, "refused": d.refused}
    if verb == "approved":
        out["rollouts"] = d.rollouts
    return out


class ApprovalService:
    """The versions a run held for approval instead of publishing them, and their fate."""

    def __init__(self, *, project: Callable[[], Project], store: Callable[[], MetadataStore], tables: Tables,
                 monitors: Monitors) -> None:
        self._project = project
        self._store = store
        self._tables = tables
        self._monitors = monitors

    def held(self, asset: str | None = None) -> list[dict]:
        """The held versions (of ``asset``), by asset and partition. Raises UnknownObjectError
        for an asset the project does not have."""
        project = self._project()
        name = project.asset(asset).name if asset else None
        store = self._store()
        with store.read():
            return store.held.list(project.name, asset=name)

    def select(self, asset: str | None, keys: tuple[str, ...], every: bool) -> list[dict]:
        """The held versions a command names: those of ASSET, of partitions ``keys`` (of ASSET,
        or of every asset), or with ``every`` all of them. Raises UsageError when nothing is
        named, or a named partition has no held version."""
        if every and (asset or keys):
            raise UsageError("--all names every held version: give it without ASSET or --partition")
        if not (every or asset or keys):
            raise UsageError("say which held versions: ASSET, --partition KEY, or --all ('weir approvals' lists them)")
        rows = self.held(asset)
        if keys:
            missing = sorted(set(keys) - {r["partition_key"] for r in rows})
            if missing:
                what = f"{asset} " if asset else ""
                raise UsageError(f"no version of {what}{', '.join(missing)} is held for approval ('weir approvals' lists them)")
            rows = [r for r in rows if r["partition_key"] in keys]
        if asset and not rows:
            raise UsageError(f"no version of {asset} is held for approval ('weir approvals' lists them)")
        return rows

    def approve(self, asset: str | None = None, keys: tuple[str, ...] = (), *, every: bool = False,
                actor: str = "unknown", force: bool = False) -> Decision:
        """Publish the held versions named (see ``select``), each partition atomically, with
        the ``rollout_changed`` event of their material changes; the monitors then judge them.
        Raises UsageError, changing nothing, when one was built by code the project no longer
        has (reverted since: reject it, or rebuild), unless ``force``."""
        from weir.engine.approval import approve

        rows = self.select(asset, keys, every)
        project = self._project()
        stale = [r for r in rows if r["asset"] in project.assets
                 and r["code_version"] != project.assets[r["asset"]].code_version]
        if stale and not force:
            first = stale[0]
            raise UsageError(
                f"{len(stale)} held version(s) were built by code the project no longer has ({first['asset']} "
                f"{first['partition_key']}: {first['code_version']}, now {project.assets[first['asset']].code_version}): "
                "'weir reject' them, or 'weir run --stale' to build them again; --force approves them all the same")
        decision = approve(project=project, store=self._store(), catalog=self._tables.catalog, rows=rows, by=actor)
        runner = self._monitors.runner()
        for name in sorted({d["asset"] for d in decision.done}):
            for run_id in sorted({d["run_id"] for d in decision.done if d["asset"] == name}):
                keys_of = [d["partition"] for d in decision.done if d["asset"] == name and d["run_id"] == run_id]
                try:
                    runner.evaluate(name, keys_of, run_id)
                except Exception:  # noqa: BLE001, S112 - the data is published; the monitors judge it again on the next run
                    continue
        return decision

    def reject(self, asset: str | None = None, keys: tuple[str, ...] = (), *, every: bool = False,
               actor: str = "unknown") -> Decision:
        """Drop the held versions named (see ``select``): readers stay on the published ones."""
        from weir.engine.approval import reject

        rows = self.select(asset, keys, every)
        return reject(project=self._project(), store=self._store(), catalog=self._tables.catalog, rows=rows, by=actor)
