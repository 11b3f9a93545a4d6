"""The diagnosis of an incident, as it is told: the diagnosis of its root partition
(``diagnosis.py``), then what only the incident knows:

- a member that is blocked or failed data makes it "the pipeline broke", whatever the root's own
  measures say (a truncated delivery moves many measures together, as the world does);
- **peers**: when one key of the root partition (one site, one store) moved a measure and its
  peers in the same partition did not, a source changed, not the world (``peers.py``);
- **witnesses**: when a source outside the root's lineage moved the same day, the world did."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from weir.errors import UnknownObjectError
from weir.incidents.grouping import BROKEN
from weir.incidents.records import Cause

if TYPE_CHECKING:
    from weir.model.rows import IncidentMember
    from weir.project.graph import Project
    from weir.store.store import MetadataStore


def diagnose_incident(project: Project, store: MetadataStore, root_asset: str, root_partition: str | None,
                      members: list[IncidentMember], *, tables: Any = None,
                      before: Callable[[str, str], str | None] = lambda a, k: None) -> dict | None:
    """The diagnosis of an incident whose root is ``root_asset`` ``root_partition`` and members
    ``members``; None when its root was never built (an upstream of it failed: nothing to compare). ``tables`` (the asset
    tables) lets an asset's root be read beside its last good version; ``before(asset, key)`` is
    the partition before ``key``."""
    from weir.incidents.diagnosis import diagnose
    from weir.project.keys import partition_key

    if not root_partition:
        return None
    asset = root_asset
    try:
        key = partition_key(project, asset, root_partition, sources=True)
        diagnosis = diagnose(project, store, asset, key)
    except UnknownObjectError:
        return None
    broken = [m for m in members if m.kind in BROKEN]
    pipeline = bool(diagnosis["code"] or diagnosis["packages"] or (diagnosis["config"] or {}).get("changes"))
    if broken:
        if diagnosis["classification"]["verdict"] != "the pipeline broke":
            diagnosis["classification"] = {"verdict": "the pipeline broke", "why": broken[0].summary,
                                           "for": "the data team to fix"}
        return diagnosis
    if pipeline:
        return diagnosis
    shift = _peers(project, store, asset, key, diagnosis, tables, before(asset, key))
    if shift is not None:  # one key moved: more telling than a unit guess or "the world"
        diagnosis["peers"] = shift.to_json()
        diagnosis["classification"] = {"verdict": "the pipeline broke", "why": shift.line,
                                       "for": "the data team to fix"}
        cause = Cause(kind="input data", score=0.9, summary=f"one {shift.key} moved and its peers did not: a source "
                      "change (a sensor, a feed), not the world", evidence=[shift.line],
                      fix=f"have {asset}'s {shift.key} {', '.join(shift.groups)} checked at its source; once "
                          "corrected, have the deliveries made again")
        diagnosis["causes"] = [cause.to_json(), *[c for c in diagnosis["causes"] if c["kind"] != "data"]]
        return diagnosis
    if (diagnosis["classification"]["verdict"] == "the world changed"
            or diagnosis["classification"]["why"].startswith("the row count moved")):  # a storm's cancellations
        witnesses = independent(project, store, asset, key)
        if witnesses:  # another source, not in this one's lineage, saw the same day move
            diagnosis["classification"] = {
                "verdict": "the world changed", "for": "a caution for the business",
                "why": f"an independent source moved the same day ({'; '.join(witnesses[:2])}) and nothing "
                       "in the pipeline changed"}
            diagnosis["independent"] = witnesses
    return diagnosis


def _peers(project: Project, store: MetadataStore, asset: str, key: str, diagnosis: dict, tables: Any,
           good_key: str | None) -> Any:
    """The peer shift of the root partition, if one key of it moved alone (None otherwise, or when
    its data cannot be read)."""
    from weir.errors import WeirError
    from weir.incidents.peers import peers, read_pair, read_source_pair

    with store.read():
        alerted = sorted({s["column_name"] for s in store.signals.list(project.name, asset=asset, partition=key,
                                                                       limit=None)
                          if s["severity"] == "alert" and s["column_name"]})
    if not alerted:
        return None
    try:
        if asset in project.sources:
            pair = read_source_pair(project, store, asset, key, alerted, good_key=good_key)
        elif tables is not None:
            good = diagnosis.get("last_good") or {}
            with store.read():
                builds = store.runs.builds(project.name, asset, key=good.get("partition") or key, limit=50)
            version = next((b.output_version for b in builds if b.run_id == good.get("run_id")), None)
            pair = read_pair(tables.get(asset), key, version, alerted, good_key=good.get("partition") or good_key)
        else:
            return None
    except (WeirError, OSError):
        return None
    return None if pair is None else peers(pair[0], pair[1], columns=alerted)


def independent(project: Project, store: MetadataStore, asset: str, key: str) -> list[str]:
    """Alerts on ``key`` (or the day it falls in) in sources outside ``asset``'s lineage: the
    same event seen by a witness that shares no pipeline with it (a storm in the weather and
    in the flights)."""
    try:
        related = set(project.closure([asset], upstream=True)) | set(project.closure([asset], upstream=False))
    except Exception:  # noqa: BLE001 - an asset no longer in the project
        return []
    out = []
    with store.read():
        for source in sorted(set(project.sources) - related):
            alerts = [s for s in store.signals.list(project.name, asset=source, partition=key[:10], limit=None)
                      if s["severity"] == "alert"]
            if alerts:
                columns = sorted({s["column_name"] or s["metric"] for s in alerts})
                out.append(f"{source} {key[:10]}: {', '.join(columns[:4])} moved")
    return out
