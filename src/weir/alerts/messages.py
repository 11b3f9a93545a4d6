"""What each audience is told, in its own words.

- **Business owners** of the impacted insights get a caution: which insight, which period to
  treat with care, why in one plain sentence, and when they will hear again; then a second
  message when it is resolved, saying which days and how: rebuilt and checked (only then can it
  be trusted again), judged a real change, or a false alarm. No metric names, no stack traces.
- **The data team** gets the diagnosis: the causes ranked with their evidence, the impact
  (assets and insights), and the exact commands to look and to fix.

Composed from stored facts only (the incident, its members, its diagnosis, the lineage)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from weir.alerts.evidence import cause_lines, cut
from weir.incidents.grouping import BROKEN

SHOWN_DATES = 8  # dates named in a business message; past them, "and N more"


@dataclass(frozen=True)
class Message:
    subject: str
    text: str  # plain text: the email body, the webhook's Slack-compatible ``text``
    recipients: tuple[str, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)  # the structured form, for webhooks and files

    def to_json(self) -> dict[str, Any]:
        return {"subject": self.subject, "text": self.text, "recipients": list(self.recipients), "data": self.data}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Message:
        return cls(subject=d["subject"], text=d["text"], recipients=tuple(d.get("recipients") or ()),
                   data=d.get("data") or {})


def when(key: str | None) -> str:
    """A partition key as people say it: 15 February 2013, February 2013, 15 February 2013 08:00."""
    if not key:
        return "the latest data"
    for fmt, out in (("%Y-%m-%d", "{d.day} {d:%B %Y}"), ("%Y-%m", "{d:%B %Y}"),
                     ("%Y-%m-%dT%H", "{d.day} {d:%B %Y %H}:00"), ("%Y", "{d:%Y}")):
        try:
            return out.format(d=datetime.strptime(key, fmt))
        except ValueError:
            continue
    try:
        return when(date.fromisoformat(key[:10]).isoformat())
    except ValueError:
        return key


def _period(insight: Any, incident: dict, members: list[dict]) -> str:
    """The period of ``insight`` to treat with care: the partitions of what it reads directly that
    are still bad in the incident's scope (``incident["bad"]``), else those its triggers reached,
    else the incident's root partition; a span when they are several."""
    bad = incident.get("bad") or []
    direct = sorted({b["partition"] for b in bad if b["asset"] in insight.depends_on and b["partition"]})
    if not direct:
        direct = sorted({m["partition_key"] for m in members if m["asset"] in insight.depends_on and m["partition_key"]})
    if not direct:
        return when(incident["root_partition"])
    if len(direct) == 1:
        return when(direct[0])
    return f"{when(direct[0])} to {when(direct[-1])}"


def _plain_why(incident: dict, members: list[dict], diagnosis: dict | None, label: str) -> str:
    """One sentence, no metric names: what happened to the data, as the business would say it."""
    day = when(incident["root_partition"])
    kinds = {m["kind"] for m in members}
    causes = (diagnosis or {}).get("causes") or [{}]
    if "partition_blocked" in kinds and causes[0].get("kind") in ("code", "library", "configuration"):
        return (f"the {label} data for {day} came out wrong after a change in how it is processed and was held "
                "back, so what you see still rests on the last good version and misses that day")
    if "source_blocked" in kinds or "partition_blocked" in kinds:
        return (f"the {label} data for {day} arrived damaged and was held back, so what you see still rests on the "
                "last good version and misses that day")
    if "partition_failed" in kinds:
        return f"the figures for {day} could not be refreshed, so what you see may be out of date"
    verdict = (diagnosis or {}).get("classification", {}).get("verdict")
    if verdict == "the world changed":
        return (f"the {label} data for {day} moved sharply in a way that looks like a real change in the world, "
                "not an error; read those figures with that in mind")
    return (f"the {label} data for {day} changed suddenly in a way that looks like a processing or delivery "
            "problem, and the data team is checking it")


def business(change: str, incident: dict, members: list[dict], insights: list[Any], diagnosis: dict | None,
             *, team: tuple[str, ...], to: tuple[str, ...] = ()) -> Message:
    """The caution (opened, reopened) or the closing word (resolved) for the owners of ``insights``."""
    names = ", ".join(i.name for i in insights)
    recipients = to or tuple(dict.fromkeys(o for i in insights for o in i.owners))
    contact = f" Questions: {', '.join(team)}." if team else ""
    label = incident["root_asset"].replace("_", " ")
    links = [f"{i.name}: {i.url}" for i in insights if i.url]
    if change == "resolved":
        subject, text = _closing(names, incident, members)
        text += contact
    else:
        period = _period(insights[0], incident, members)
        subject = f"Treat {names} with care for {period}"
        why = _plain_why(incident, members, diagnosis, label)
        again = {"reopened": "It happened again after it had been fixed: ",
                 "grew": "The problem we wrote about reaches further than we knew: "}.get(change, "")
        text = (f"{again}Please treat {names} with care for {period}: {why}. "
                "We will write again as soon as it can be trusted." + contact)
    if links:
        text += "\n" + "\n".join(links)
    data = {"insights": [{"name": i.name, "url": i.url, "owners": list(i.owners)} for i in insights]}
    return Message(subject=subject, text=text, recipients=recipients, data=data)


def _closing(names: str, incident: dict, members: list[dict]) -> tuple[str, str]:
    """The subject and words of a resolved incident, promising no more than its resolution says:
    trust is given back only for ``fixed``, and only for the days that were rebuilt good.
    ``incident["scope"]`` (``[{asset, partition, fixed}]``, when known) says which were;
    ``incident["automatic"]`` that weir saw the root rebuilt and checked."""
    scope = incident.get("scope") or []
    keys = [m["partition_key"] for m in members] + [s["partition"] for s in scope]
    days = dates(keys)
    reason = incident.get("reason")
    if reason == "expected":
        return (f"{names}: the change for {days} was real",
                f"About {names} for {days}: the change was judged real: the figures stand as they are, nothing "
                "in them was corrected. Read them knowing that this really happened.")
    if reason == "false-alarm":
        return (f"{names}: a false alarm for {days}",
                f"About {names} for {days}: it was a false alarm. On checking, nothing was wrong with the data, "
                "and nothing in it was changed.")
    if reason != "fixed":
        return (f"{names}: the data team closed the matter for {days}",
                f"About {names} for {days}: the data team closed the matter.")
    left = [s["partition"] for s in scope if not s.get("fixed")]
    if left:  # resolved before the whole scope was rebuilt: trust only for what was
        done = [k for k in keys if k not in left and not any(x.startswith(k) or k.startswith(x) for x in left)]
        rebuilt = (f"The data for {dates(done)} was rebuilt and checked: {names} can be trusted again for "
                   "those days. " if done else "")
        return (f"{names}: not every day is corrected yet",
                f"{rebuilt}The data for {dates(left)} has not been rebuilt yet: keep treating {names} with care "
                "for those days.")
    how = ("was rebuilt and checked" if scope or incident.get("automatic")
           else "was corrected, the data team reports")
    return (f"{names} can be trusted again for {days}",
            f"{names} can be trusted again for {days}: the data for those days {how}.")


def dates(keys: Iterable[str | None]) -> str:
    """Partition keys as people say them, the finest only (a day, not also its month): "15, 16 and
    20 February 2013", "February 2013"; past ``SHOWN_DATES`` of them, "and N more"."""
    found = sorted({k for k in keys if k})
    finest = [k for k in found if not any(o != k and o.startswith(k) for o in found)]
    if not finest:
        return "the latest data"
    shown, more = finest[:SHOWN_DATES], len(finest) - SHOWN_DATES
    groups: list[tuple[str, list[str]]] = []  # (month, its days), in order
    for k in shown:
        try:
            day = datetime.strptime(k, "%Y-%m-%d")
        except ValueError:
            groups.append((when(k), []))
            continue
        month = f"{day:%B %Y}"
        if groups and groups[-1][0] == month and groups[-1][1]:
            groups[-1][1].append(str(day.day))
        else:
            groups.append((month, [str(day.day)]))
    words = [f"{_and(d)} {month}" if d else month for month, d in groups]
    return _and(words) if more <= 0 else f"{', '.join(words)} and {more} more"


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def team_message(change: str, incident: dict, members: list[dict], diagnosis: dict | None, impact: dict,
                 *, recipients: tuple[str, ...]) -> Message:
    """The data team's message: what opened (or was resolved), the diagnosis, the impact, the commands."""
    n = incident["id"]
    root = f"{incident['root_asset']} {incident['root_partition'] or ''}".strip()
    if change == "resolved":
        subject = f"incident {n} resolved ({incident.get('reason')}): {root}"
        lines = [f"incident {n} resolved ({incident.get('reason')}): {incident['title']}"]
        if incident.get("note"):
            lines.append(f"note: {incident['note']}")
        scope = incident.get("scope") or []
        left = [f"{x['asset']} {x['partition']}" for x in scope if not x.get("fixed")]
        if scope:
            line = f"scope: {len(scope)} partition(s), {len(scope) - len(left)} rebuilt good"
            if left:
                line += f"; still bad: {', '.join(left[:10])}" + (f" and {len(left) - 10} more" if len(left) > 10 else "")
            lines.append(line)
        if impact["insights"] and not left:
            lines.append("trust restored on: " + ", ".join(i["name"] for i in impact["insights"]))
        return Message(subject=subject, text="\n".join(lines), recipients=recipients,
                       data={"impact": impact, "commands": [f"weir incidents show {n}"]})
    verb = "reopened" if change == "reopened" else "opened"
    subject = f"incident {n} {verb} ({incident['severity']}): {incident['title']}"
    lines = [f"incident {n} {verb}, severity {incident['severity']}: {incident['title']}",
             f"root: {root}; {len(members)} trigger(s) joined it"]
    commands = [f"weir incidents show {n}"]
    if diagnosis:
        c = diagnosis["classification"]
        lines.append(f"diagnosis: {c['verdict']} ({c['why']}; {c['for']})")
        for i, cause in enumerate(diagnosis["causes"][:3], 1):
            lines.append(f"  {i}. {cause['kind']} ({cause['score']:.2f}): {cause['summary']}")
            # the whole evidence (a code change as hunks, its changed lines first), cut only past a generous limit
            lines.extend(f"       {e}" for e in cut(cause_lines(cause, diagnosis), f"weir incidents show {n} --json"))
            fix = cause["fix"].replace("ID", str(n))
            lines.append(f"     fix: {fix}")
        commands.append(f"weir diagnose {diagnosis['asset']} --partition {diagnosis['partition']}")
    else:
        lines.extend(f"  - {m['summary']}" for m in members[:5])
    assets = ", ".join(impact["assets"]) or incident["root_asset"]
    lines.append(f"impact: {assets}")
    for i in impact["insights"]:
        lines.append(f"  insight {i['name']} is {i['status']} (owners: {', '.join(i['owners']) or 'none'})")
    commands += [f"weir incidents ack {n}", f"weir incidents resolve {n} --reason fixed|expected|false-alarm"]
    lines.append("commands:")
    lines.extend(f"  {c}" for c in commands)
    data = {"impact": impact, "diagnosis": diagnosis, "commands": commands,
            "broken": any(m["kind"] in BROKEN for m in members)}
    return Message(subject=subject, text="\n".join(lines), recipients=recipients, data=data)


def test_message(route: str, project: str) -> Message:
    return Message(subject=f"weir test message for route {route}",
                   text=f"This is a test from weir (project {project}, route {route}): this route works.",
                   data={"test": True})
