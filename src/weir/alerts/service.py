"""The alert outbox as users and senders see it.

``queue`` runs inside the unit of work of an incident change (the incidents service calls it):
one row per route that should hear of it, keyed ``project:incident:route:change:n`` so the same
change is never queued twice; a route whose ``min_severity`` is above the incident's gets a
``skipped`` row instead, with the reason, never sent. ``deliver`` claims what is due, composes
each message once (so retries send the same words), sends it, and marks it delivered, or due
again later (backoff doubling from ``[alerts] backoff``, or the endpoint's ``Retry-After``), or
dead after ``max_attempts`` or a rejection that cannot change. A route that fails is not tried
again in the same pass, so an endpoint that is down costs one timeout, never one per message."""

from __future__ import annotations

import builtins
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from weir.alerts.channels import DeliveryError, send
from weir.alerts.messages import Message, business, team_message, test_message
from weir.errors import UnknownObjectError, UsageError
from weir.model.keys import AssetKey
from weir.model.rows import IncidentMember, IncidentRecord
from weir.project.alerts import Route

if TYPE_CHECKING:
    from weir.incidents.service import IncidentService
    from weir.project.graph import Project
    from weir.store.store import MetadataStore

LEASE = 120.0  # seconds a sender holds a claimed message; a killed sender's messages are taken again after


class State(StrEnum):
    PENDING = "pending"  # due now or after its backoff
    SENDING = "sending"  # claimed by a sender (a killed sender's lease runs out, then it is due again)
    DELIVERED = "delivered"
    DEAD = "dead"  # gave up: 'weir alerts retry ID'
    SKIPPED = "skipped"  # not sent: the route's min_severity is above the incident's (the reason says so)


@dataclass
class Delivered:
    """What one delivery pass did."""

    sent: list[dict] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)  # due again later
    dead: list[dict] = field(default_factory=list)


class AlertService:
    def __init__(self, *, project: Callable[[], Project], store: Callable[[], MetadataStore],
                 incidents: Callable[[], IncidentService]) -> None:
        self._project = project
        self._store = store
        self._incidents = incidents

    # -- queued with the incident change --------------------------------------------------------
    def queue(self, incident_id: int, change: str) -> int:
        """Queue the notifications of one incident change, in the caller's unit of work. A business
        route hears of every incident that reaches an insight (makes it suspect or broken), and of
        the closing word only after a caution; a team route of every incident. A route with a
        ``min_severity`` skips the incidents below it, and says so: the outbox keeps a ``skipped``
        row with the reason, so an operator sees who was not told and why. ``escalated`` (the
        severity rose) queues the opening message on the routes that now hear of it; ``grew`` (its
        scope reaches further) tells the business routes already told the period it covers now. Returns how
        many were queued (skips not counted)."""
        project, store = self._project(), self._store()
        routes = project.config.alerts.routes
        if not routes:
            return 0
        incident = store.incidents.get(incident_id)
        if incident is None:
            return 0
        n: int | str = incident.reopened
        told = {r["route"] for r in store.outbox.select(project.name, incident_id=incident_id)
                if r["state"] != State.SKIPPED}
        if change == "escalated":
            routes = tuple(r for r in routes if r.name not in told)
            change = "reopened" if n else "opened"
        elif change == "grew":  # the scope reaches further: the owners already cautioned hear the new period
            routes = tuple(r for r in routes if r.audience == "business" and r.name in told)
            bad = [r for r in store.incidents.scope([incident_id]).get(incident_id, []) if r.fixed_run_id is None]
            n = f"{n}:{len(bad)}"
        queued = 0
        touched: builtins.list[Any] | None = None
        for route in routes:
            key = f"{project.name}:{incident_id}:{route.name}:{change}:{n}"
            row: dict[str, Any] = {"incident_id": incident_id, "route": route.name, "audience": route.audience,
                                   "change": change}
            if change == "resolved":
                if route.name not in told:  # the closing word only to those who heard of it
                    continue
            elif route.audience == "business":
                if touched is None:
                    members = store.incidents.members([incident_id])[incident_id]
                    touched = self._insights(incident, members)
                if not touched:
                    continue
            if change != "resolved" and not route.hears(incident.severity):
                reason = f"severity {incident.severity} below the route's min_severity {route.min_severity}"
                if route.audience == "business" and touched:
                    owners = sorted({o for i in touched for o in i.owners}) if not route.to else list(route.to)
                    reason += (f": not told about {', '.join(i.name for i in touched)}"
                               + (f" ({', '.join(owners)})" if owners else ""))
                # one record per level skipped: an escalation still below the route says so again
                store.outbox.skip(project.name, key=f"{key}:skipped:{incident.severity}", reason=reason, **row)
                continue
            queued += store.outbox.enqueue(project.name, key=key, **row)
        return queued

    def _insights(self, incident: IncidentRecord, members: builtins.list[IncidentMember]) -> builtins.list[Any]:
        """The insights that rest on the incident's root or any of its members."""
        project = self._project()
        touched = {incident.root_asset, *(m.asset for m in members if m.asset)}
        out = []
        for insight in project.insights.values():
            try:
                above = set(project.closure(list(insight.depends_on), upstream=True))
            except Exception:  # noqa: BLE001, S112 - an insight on an asset the project no longer has
                continue
            if above & touched:
                out.append(insight)
        return out

    # -- composed and sent ----------------------------------------------------------------------
    def compose(self, row: dict) -> Message:
        """The message of one outbox row, from the incident as it stands now."""
        project, store = self._project(), self._store()
        config = project.config.alerts
        route = config.route(row["route"])
        with store.read():
            record = store.incidents.get(row["incident_id"])
            members = store.incidents.members([row["incident_id"]])[row["incident_id"]]
            if record is None:
                raise UnknownObjectError(f"no incident {row['incident_id']}: nothing to tell")
            if row["change"] == "resolved":
                incident = {**record.as_dict(), **self._resolution(record)}
            else:  # the partitions still bad: the period the business is cautioned for
                incident = {**record.as_dict(), "bad": [
                    {"asset": r.asset, "partition": r.partition_key}
                    for r in store.incidents.scope([record.id]).get(record.id, []) if r.fixed_run_id is None]}
        try:
            diagnosis = self._incidents().diagnose_incident(record, members)
        except Exception:  # noqa: BLE001 - a root no longer in the project: say what is known
            diagnosis = None
        insights = self._insights(record, members)
        to = route.to if route else ()
        rows = [m.as_dict() for m in members]  # the messages read members as rows
        if row["audience"] == "business":
            return business(row["change"], incident, rows, insights, diagnosis, team=self._team(members), to=to)
        impact = self._impact(record, members, insights)
        return team_message(row["change"], incident, rows, diagnosis, impact, recipients=to or self._team(members))

    def _resolution(self, incident: IncidentRecord) -> dict:
        """How a resolved incident was closed, for its closing words: ``scope`` (``[{asset,
        partition, fixed}]``: the partitions built under its cause and whether each was rebuilt
        good; the incident's own when it carries one) and ``automatic`` (weir saw its root rebuilt
        or delivered again, and checked). Read inside the caller's read scope."""
        from weir.events import EventKind, IncidentResolved, payload

        store = self._store()
        scope = [{"asset": s.asset, "partition": s.partition_key, "fixed": s.fixed_run_id is not None}
                 for s in store.incidents.scope([incident.id]).get(incident.id, [])]
        resolved = store.events.about_incident(incident.project, incident.id, kinds=(EventKind.INCIDENT_RESOLVED,))
        return {"scope": scope, "automatic": bool(resolved and payload(resolved[-1], IncidentResolved).automatic)}

    def _team(self, members: builtins.list[IncidentMember]) -> tuple[str, ...]:
        project = self._project()
        if project.config.alerts.team:
            return project.config.alerts.team
        owners: list[str] = list(project.config.owners)
        for m in members:
            node = project.assets.get(m.asset or "") or project.sources.get(m.asset or "")
            owners.extend(getattr(node, "owners", ()) or ())
        return tuple(dict.fromkeys(owners))

    def _impact(self, incident: IncidentRecord, members: builtins.list[IncidentMember], insights: builtins.list[Any]) -> dict:
        """Every asset below the root (lineage), the partitions the incident reached, and the trust
        of each insight it touches."""
        project = self._project()
        try:
            below = project.closure([incident.root_asset], upstream=False)
        except Exception:  # noqa: BLE001
            below = [incident.root_asset]
        statuses = {r["insight"]: r for r in self._incidents().trust(sync=False)} if insights else {}
        return {
            "assets": below,
            "keys": [str(AssetKey(project.name, a)) for a in below],
            "partitions": sorted({f"{m.asset} {m.partition_key}" for m in members if m.partition_key}),
            "insights": [{"name": i.name, "status": statuses.get(i.name, {}).get("status", "suspect"),
                          "owners": list(i.owners), "url": i.url} for i in insights],
        }

    def deliver(self, *, now: float | None = None, limit: int = 200) -> Delivered:
        """Send what is due (at most ``limit``). Never raises for an endpoint's failure."""
        project, store = self._project(), self._store()
        config = project.config.alerts
        now = time.time() if now is None else now
        out = Delivered()
        down: dict[str, str] = {}  # routes that failed in this pass: not tried again until the next
        while limit > 0:
            with store.transaction():
                rows = store.outbox.claim(project.name, now=now, lease=LEASE, limit=min(50, limit))
            if not rows:
                break
            limit -= len(rows)
            for row in rows:
                route = config.route(row["route"])
                if route is None:
                    self._failed(row, DeliveryError(f"route {row['route']!r} is no longer in weir.toml",
                                                    permanent=True), now, out)
                    continue
                if route.name in down:
                    with store.transaction():  # not tried: the attempt does not count
                        store.outbox.failed(row["id"], down[route.name], next_at=now + config.backoff)
                        store.outbox.uncount(row["id"])
                    out.failed.append({**row, "last_error": down[route.name]})
                    continue
                try:
                    message = self._message(row)
                    where = send(route, message, row["key"], root=project.root)
                except DeliveryError as exc:
                    self._failed(row, exc, now, out)
                    if not exc.permanent:
                        down[route.name] = f"not tried: {route.name} failed a moment before ({exc})"
                    continue
                at = time.time()
                with store.transaction():
                    store.outbox.delivered(row["id"], at)
                out.sent.append({**row, "where": where, "subject": message.subject})
        return out

    def _message(self, row: dict) -> Message:
        """The row's message: composed on its first attempt and kept, so a retry says the same."""
        if row["message"]:
            return Message.from_json(json.loads(row["message"]))
        message = self.compose(row)
        store = self._store()
        with store.transaction():
            store.outbox.compose(row["id"], json.dumps(message.to_json(), default=str))
        return message

    def _failed(self, row: dict, exc: DeliveryError, now: float, out: Delivered) -> None:
        config = self._project().config.alerts
        attempts = row["attempts"]
        dead = exc.permanent or attempts >= config.max_attempts
        if exc.retry_after is not None:
            wait = min(exc.retry_after, 86400.0)
        else:
            wait = min(config.backoff * 2 ** max(0, attempts - 1), config.max_backoff)
        with self._store().transaction():
            self._store().outbox.failed(row["id"], str(exc), next_at=None if dead else now + wait)
        (out.dead if dead else out.failed).append({**row, "last_error": str(exc), "next_at": now + wait})

    # -- as users ask ---------------------------------------------------------------------------
    def list(self, state: State | None = None, *, incident: int | None = None, audience: str | None = None,
             limit: int | None = None) -> builtins.list[dict]:
        store = self._store()
        with store.read():
            return store.outbox.select(self._project().name, states=(state,) if state else (), incident_id=incident,
                                       audience=audience, limit=limit)

    def show(self, outbox_id: int) -> dict:
        """One message with its words (composed now if it was never attempted)."""
        row = self._get(outbox_id)
        message = Message.from_json(json.loads(row["message"])) if row["message"] else self.compose(row)
        return {**row, "composed": message.to_json()}

    def retry(self, outbox_id: int, *, actor: str = "unknown") -> dict:
        """Send a dead, waiting or skipped message on the next delivery (a skipped one: after all);
        ``actor`` is kept as who asked."""
        row = self._get(outbox_id)
        if row["state"] == "delivered":
            raise UsageError(f"alert {outbox_id} was already delivered")
        store = self._store()
        with store.transaction():
            store.outbox.retry(outbox_id, now=time.time(), actor=actor)
        return self._get(outbox_id)

    def test(self, route_name: str) -> str:
        """Send a test message over one route now, outside the outbox; returns where it went.
        Raises DeliveryError when it cannot be sent."""
        project = self._project()
        route = self.route(route_name)
        message = test_message(route.name, project.name)
        if route.channel == "email":
            message = Message(message.subject, message.text, route.to or project.config.alerts.team
                              or project.config.owners, message.data)
        return send(route, message, f"{project.name}:test:{route.name}:{time.time():.0f}", root=project.root)

    def route(self, name: str) -> Route:
        config = self._project().config.alerts
        route = config.route(name)
        if route is None:
            known = ", ".join(r.name for r in config.routes) or "none: add [alerts.routes.NAME] to weir.toml"
            raise UsageError(f"unknown route {name!r} (routes: {known})")
        return route

    def _get(self, outbox_id: int) -> dict:
        store = self._store()
        with store.read():
            row = store.outbox.get(outbox_id)
        if row is None or row["project"] != self._project().name:
            raise UnknownObjectError(f"no alert {outbox_id} in project {self._project().name!r}")
        return row
