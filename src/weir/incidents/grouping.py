"""Which open incident a new trigger belongs to, by provenance rather than by time: the same
partition, a partition that reads the incident's (or is read by it) through lineage, or the same
failed run. No I/O here: the service hands in the project's lineage and the incidents."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from weir.events import Event, EventKind, SignalRaised, payload
from weir.model.rows import IncidentMember, IncidentRecord

TRIGGERS = (EventKind.PARTITION_BLOCKED, EventKind.PARTITION_FAILED, EventKind.SOURCE_BLOCKED,
            EventKind.SIGNAL_RAISED, EventKind.SCHEMA_CHANGED)
BROKEN = {str(EventKind.PARTITION_BLOCKED), str(EventKind.PARTITION_FAILED), str(EventKind.SOURCE_BLOCKED)}


@dataclass(frozen=True)
class Match:
    incident_id: int
    why: str
    new_root: tuple[str, str | None] | None = None  # the trigger lies upstream of the incident's root


def related_keys(a: str | None, b: str | None) -> bool:
    """Partitions that can read one another: the same key, or a key inside the other's period
    (a monthly "2013-02" and a daily "2013-02-15"; an hourly "2013-02-15T08" and its day)."""
    if a is None or b is None:
        return a == b
    return a == b or a.startswith(b) or b.startswith(a)


def summary(event: Event) -> str:
    """One line saying what the trigger was, in the words of what raised it."""
    d = event.data
    where = f"{event.asset} {event.partition_key}" if event.partition_key else str(event.asset)
    kind = str(event.kind)
    if kind == EventKind.PARTITION_BLOCKED:
        return f"{where} blocked: {d.get('message') or 'a check failed'}"
    if kind == EventKind.PARTITION_FAILED:
        if d.get("state") == "upstream_failed":
            return f"{where} not built: {d.get('reason') or 'an upstream partition failed'}"
        return f"{where} failed: {d.get('error') or 'the build raised'}"
    if kind == EventKind.SOURCE_BLOCKED:
        return f"delivery {where} blocked: {d.get('message') or 'it breaks its contract'}"
    if kind == EventKind.SCHEMA_CHANGED:
        return f"{where}: {d.get('rule') or 'schema changed'}"
    return f"{where}: {d.get('message') or d.get('rule') or 'a monitor alerted'}"


def match(event: Event, active: Iterable[IncidentRecord], members: dict[int, list[IncidentMember]],
          downstream: Callable[[str], set[str]], before: Callable[[str, str], str | None] = lambda a, k: None,
          scope: dict[int, set[tuple[str, str]]] | None = None) -> Match | None:
    """The active incident ``event`` joins, and why; None when it shares a root with none.
    ``downstream(asset)`` is every asset that reads ``asset``, directly or through others;
    ``before(asset, key)`` is the partition before ``key`` (a fault that goes on day after day);
    ``scope`` the partitions each incident holds bad (built under its cause, or from one that was):
    a trigger on one of them is that fault showing, whatever series it is on."""
    active = list(active)
    asset, key = event.asset or "", event.partition_key
    for incident in active:
        for m_asset, m_key in [(incident.root_asset, incident.root_partition),
                               *((m.asset, m.partition_key) for m in members.get(incident.id, []))]:
            if not related_keys(key, m_key):
                continue
            if m_asset == asset:
                return Match(incident.id, f"the same partition as {m_asset} {m_key}")
            if asset in downstream(m_asset):  # type: ignore[arg-type]
                return Match(incident.id, f"reads {m_asset} {m_key} (lineage)")
            if m_asset in downstream(asset):
                return Match(incident.id, f"feeds {m_asset} {m_key}: the root moves up to it",
                             new_root=(asset, key))
        if event.run_id and str(event.kind) == EventKind.PARTITION_FAILED and any(
                m.run_id == event.run_id and m.kind == EventKind.PARTITION_FAILED for m in members.get(incident.id, [])):
            return Match(incident.id, f"the same failed run {event.run_id}")
    for incident in active:
        if key is not None and (asset, key) in (scope or {}).get(incident.id, set()):
            return Match(incident.id, f"{asset} {key} is in its scope")
    line = series(event)
    if line is None or key is None:
        return None
    previous = before(asset, key)
    for incident in active:  # a fault that goes on: the same series off on the partition before, and again
        keys = {m.partition_key for m in members.get(incident.id, [])
                if m.asset == asset and m.series == line and m.partition_key}
        if previous is not None and previous in keys:
            what = line if line in CONTINUING.values() else f"the same series ({line}) still off"
            return Match(incident.id, f"{what} since {min(keys)}")
    return None


# a partition blocked or failed the day after one that was, for the same reason: the fault goes on
CONTINUING = {str(EventKind.PARTITION_BLOCKED): "blocked again", str(EventKind.SOURCE_BLOCKED): "delivery blocked again",
              str(EventKind.PARTITION_FAILED): "failed again"}


def series(event: Event) -> str | None:
    """The series a monitor alert is on, ``"column metric"`` (a table-level series: its metric);
    for a blocked or failed partition, what happened to it."""
    kind = str(event.kind)
    if kind in CONTINUING and event.data.get("state") != "upstream_failed":
        return CONTINUING[kind]
    if kind != EventKind.SIGNAL_RAISED:
        return None
    alert = payload(event, SignalRaised)
    if not alert.metric:
        return None
    return f"{alert.column or ''} {alert.metric}".strip()
