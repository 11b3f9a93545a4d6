"""Trust on insights, derived on each read from the open incidents, the lineage and what was
published (``read_facts`` reads them, the rest is pure): nothing to keep in sync. An insight is

- **broken** when an open incident has blocked or failed data upstream of it;
- **stale** when data it depends on has not arrived by its deadline (``fresh_within`` on the
  insight, for the inputs it depends on, or on a source upstream of it; see ``freshness``);
- **suspect** when an open incident touches what it rests on otherwise (a trigger of it, or a
  partition of its scope not yet rebuilt good);
- **trusted** when none of these holds.

The status is the worst that holds, in that order: wrong or missing data under an insight
outranks old data, and old data shown as today's outranks data that is only questioned.
``because`` lists every reason, the worst first.

**Trusted through** is the newest published partition of an input up to which no open
incident touches anything the insight rests on (through lineage, by partition: a day, its
month, its hours); for the insight, the earliest over its time-partitioned inputs.

**History** replays the incident events (opened, joined, reopened, resolved) against the
insight's lineage: each change between trusted, suspect and broken, when and which incident
made it. Only the events of the incidents with a member on what the insights rest on are read
(by incident, not the whole log): no other incident's events can move an insight's trust. Staleness is a matter of the clock, not of events, and is judged on read only."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from weir.events import Event, EventKind, IncidentOpened, IncidentResolved, IncidentUpdated, payload
from weir.incidents.freshness import Late, lateness
from weir.incidents.grouping import BROKEN, related_keys
from weir.model.partitions import PartitionScheme, TimeScheme
from weir.model.records import iso
from weir.model.rows import IncidentMember, IncidentRecord

if TYPE_CHECKING:
    from weir.project.graph import Project
    from weir.store.store import MetadataStore

STATUSES = ("trusted", "suspect", "stale", "broken")  # from best to worst
INCIDENT_EVENTS = (EventKind.INCIDENT_OPENED, EventKind.INCIDENT_UPDATED, EventKind.INCIDENT_RESOLVED)
ACTIVE = ("open", "acknowledged")  # the incident states that weigh on trust


@dataclass(frozen=True, kw_only=True)
class Facts:
    """What trust is derived from, read by the service in one unit of work."""

    now: datetime
    upstream: Mapping[str, set[str]]  # insight -> every asset and source it rests on
    active: Sequence[IncidentRecord]  # open and acknowledged incidents
    members: Mapping[int, list[IncidentMember]]  # incident -> its members (of every incident in ``events`` too)
    published: Mapping[str, dict[str, float]]  # asset or source -> partition -> when published or admitted
    schemes: Mapping[str, PartitionScheme]
    deadlines: Mapping[str, timedelta] = field(default_factory=dict)  # sources with fresh_within
    events: Sequence[Event] = ()  # incident events, oldest first


def read_facts(project: Project, store: MetadataStore, insights: Sequence[Any], now: datetime) -> Facts:
    """The facts about ``insights``, read inside the caller's unit of work: only the partitions
    of what they depend on and of the sources above them that have a deadline."""
    upstream = {i.name: set(project.closure(list(i.depends_on), upstream=True)) for i in insights}
    above: set[str] = set().union(*upstream.values())
    deadlines = {s.name: s.fresh_within for s in project.sources.values() if s.fresh_within and s.name in above}
    wanted = {d for i in insights for d in i.depends_on} | set(deadlines)
    published: dict[str, dict[str, float]] = {name: {} for name in wanted}
    for (asset, key), row in store.partitions.current(project.name, sorted(wanted & set(project.assets))).items():
        published[asset][key] = row["published_at"]
    for row in store.sources.list(project.name):
        if row["source"] in wanted and row["state"] == "accepted":
            published[row["source"]][row["partition_key"]] = row["checked_at"]
    active = store.incidents.select(project.name, states=ACTIVE)
    # the history replays the events of the incidents that ever touched what the insights rest
    # on (a member there): read by incident, not the whole log; the others never move trust
    touching = store.incidents.touching(project.name, above)
    events = store.events.about_incidents(project.name, sorted(touching), kinds=INCIDENT_EVENTS)
    ids = {i.id for i in active} | touching
    members = store.incidents.members(sorted(ids))
    for incident_id, rows in store.incidents.scope([i.id for i in active]).items():
        # a partition of an active incident's scope not yet rebuilt good weighs like a member; a
        # member whose partition was rebuilt good weighs no more
        good = {(r.asset, r.partition_key) for r in rows if r.fixed_run_id is not None}
        kept = [m for m in members.get(incident_id, []) if (m.asset, m.partition_key) not in good]
        members[incident_id] = [*kept, *(
            IncidentMember(id=0, incident_id=incident_id, event_id=None, kind="in scope", asset=r.asset,
                           partition_key=r.partition_key, run_id=r.run_id, summary=r.why, why=r.why, at=r.added_at)
            for r in rows if r.fixed_run_id is None)]
    return Facts(now=now, upstream=upstream, active=active, members=members,
                 published=published, schemes={n: project.node(n).partitions for n in above}, deadlines=deadlines,
                 events=events)


def trust(insights: Iterable[Any], facts: Facts) -> list[dict]:
    """Per insight: ``{insight, status, owners, url, incidents, partitions, because,
    trusted_through, inputs, late, history}`` (the documented JSON form of ``weir trust``)."""
    out = []
    for insight in insights:
        above = facts.upstream.get(insight.name, set())
        hits = [(i, touching) for i in facts.active
                if (touching := [m for m in facts.members.get(i.id, []) if m.asset in above])]
        broken = {i.id for i, t in hits if any(m.kind in BROKEN for m in t)}
        late = _late(insight, above, facts)
        status = "broken" if broken else "stale" if late else "suspect" if hits else "trusted"
        touched = [m for _, t in hits for m in t]
        inputs = [{"asset": dep, "newest": max(facts.published.get(dep, {}), default=None),
                   "trusted_through": _through(facts.schemes.get(dep), facts.published.get(dep, {}), touched, facts)}
                  for dep in insight.depends_on]
        out.append({
            "insight": insight.name, "status": status, "owners": list(insight.owners), "url": insight.url,
            "incidents": [i.id for i, _ in hits],
            "partitions": sorted({f"{m.asset} {m.partition_key}" for m in touched}),
            "because": ([f"incident {i.id}: {i.title}" for i, _ in hits if i.id in broken]
                        + [x.line() for x in late]
                        + [f"incident {i.id}: {i.title}" for i, _ in hits if i.id not in broken]),
            "trusted_through": _earliest(insight.depends_on, inputs, facts.schemes),
            "inputs": inputs,
            "late": [x.to_json() for x in late],
            "history": history(above, facts.events, facts.members),
        })
    return out


def _late(insight: Any, above: set[str], facts: Facts) -> list[Late]:
    """The inputs past their deadline: those the insight depends on (its own ``fresh_within``),
    then every source above it with one of its own."""
    wanted = [(dep, insight.fresh_within) for dep in insight.depends_on if insight.fresh_within]
    wanted += [(src, within) for src, within in sorted(facts.deadlines.items()) if src in above]
    out: dict[str, Late] = {}
    for name, within in wanted:
        scheme = facts.schemes.get(name)
        if name in out or scheme is None:
            continue
        found = lateness(name, scheme, within, facts.now, facts.published.get(name, {}))
        if found is not None:
            out[name] = found
    return list(out.values())


def _through(scheme: PartitionScheme | None, published: dict[str, float], touched: list[IncidentMember], facts: Facts) -> str | None:
    """The newest published partition with no touched partition at or before it (None: not
    time-partitioned, nothing published, or touched from the first)."""
    if not isinstance(scheme, TimeScheme):
        return None
    keys: list[str] = []
    for m in touched:
        if not isinstance(facts.schemes.get(m.asset or ""), TimeScheme) or not m.partition_key:
            return None  # a partition the time grid cannot place touches every one
        keys.append(m.partition_key)
    for key in sorted(published, reverse=True):
        if not any(t <= key or related_keys(t, key) for t in keys):
            return key
    return None


def _earliest(depends_on: Iterable[str], inputs: list[dict], schemes: Mapping[str, PartitionScheme]) -> str | None:
    """The earliest trusted-through partition over the time-partitioned inputs (by window end);
    None when one of them has none."""
    ends = []
    for dep, row in zip(depends_on, inputs, strict=True):
        scheme = schemes.get(dep)
        if not isinstance(scheme, TimeScheme):
            continue
        if row["trusted_through"] is None:
            return None
        ends.append((scheme.window(row["trusted_through"])[1], row["trusted_through"]))
    return min(ends)[1] if ends else None


def history(above: set[str], events: Sequence[Event], members: Mapping[int, list[IncidentMember]]) -> list[dict]:
    """The insight's changes between trusted, suspect and broken, oldest first: ``[{at, status,
    incident, because}]``, replayed from the incident events against the assets it rests on."""
    touching: dict[int, list[bool]] = {}  # incident -> whether each member above it is broken data
    active: set[int] = set()
    status, out = "trusted", []
    for e in events:
        told = payload(e)
        if isinstance(told, IncidentResolved):
            incident = int(told.incident or 0)
            active.discard(incident)
            because = f"incident {incident} resolved: {told.reason}"
        elif isinstance(told, IncidentOpened) or (isinstance(told, IncidentUpdated)
                                                  and told.change in ("joined", "reopened")):
            incident = int(told.incident or 0)
            active.add(incident)
            line = told.title if isinstance(told, IncidentOpened) else told.member
            verb = "opened" if isinstance(told, IncidentOpened) else str(told.change)
            asset = told.asset if told.names_asset else e.asset
            if asset in above:
                touching.setdefault(incident, []).append(_broken(members.get(incident, []), line))
            because = f"incident {incident} {verb}: {line}"
        else:
            continue  # acknowledged, severity: trust does not move
        now = ("broken" if any(any(touching.get(i, [])) for i in active)
               else "suspect" if any(touching.get(i) for i in active) else "trusted")
        if now != status:
            status = now
            out.append({"at": iso(e.at), "status": now, "incident": incident, "because": because})
    return out


def _broken(members: list[IncidentMember], line: str | None) -> bool:
    """Whether the member the event names (by its summary line) is blocked or failed data."""
    return any(m.kind in BROKEN for m in members if m.summary == line)
