"""The alert outbox. A notification is written in the unit of work of the incident change it
announces (so it exists exactly when the change does), then claimed by a sender with a lease,
sent, and marked delivered, retried later or dead. A sender killed mid-delivery leaves its
lease to run out; the next sender takes the message again (at least once; the idempotency key
lets the receiver drop the repeat)."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from weir.store import schema as t
from weir.store.base import Repository, dialect_insert

STATES = ("pending", "sending", "delivered", "dead", "skipped")


class Outbox(Repository):
    def enqueue(self, project: str, *, key: str, incident_id: int, route: str, audience: str, change: str,
                at: float | None = None, message: str | None = None) -> bool:
        """Queue one notification (``message``: its words already composed, as JSON; else they are
        composed on the first attempt); a key already queued is left as it is. Returns whether it was new."""
        now = time.time() if at is None else at
        stmt = dialect_insert(self.c, t.alert_outbox).values(
            project=project, key=key, incident_id=incident_id, route=route, audience=audience, change=change,
            state="pending", attempts=0, created_at=now, next_at=now, message=message,
        ).on_conflict_do_nothing(index_elements=["key"])
        return bool(self.c.execute(stmt).rowcount)

    def skip(self, project: str, *, key: str, incident_id: int, route: str, audience: str, change: str, reason: str,
             at: float | None = None) -> bool:
        """Record a notification a route did not send, and why (kept in ``last_error``); never claimed.
        A key already recorded is left as it is. Returns whether it was new."""
        now = time.time() if at is None else at
        stmt = dialect_insert(self.c, t.alert_outbox).values(
            project=project, key=key, incident_id=incident_id, route=route, audience=audience, change=change,
            state="skipped", attempts=0, created_at=now, next_at=now, last_error=reason[:2000],
        ).on_conflict_do_nothing(index_elements=["key"])
        return bool(self.c.execute(stmt).rowcount)

    def claim(self, project: str, *, now: float, lease: float, limit: int = 50) -> list[dict]:
        """Take the messages due now (pending and due, or sending with a lapsed lease), count the
        attempt and hold them for ``lease`` seconds. On PostgreSQL two senders never take the same
        rows (``FOR UPDATE SKIP LOCKED``); SQLite has one writer at a time."""
        c = t.alert_outbox.c
        due = sa.or_(sa.and_(c.state == "pending", c.next_at <= now),
                     sa.and_(c.state == "sending", c.lease_until < now))
        q = sa.select(c.id).where(c.project == project, due).order_by(c.next_at, c.id).limit(limit)
        if self.c.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        ids = [r[0] for r in self.c.execute(q)]
        if not ids:
            return []
        self.c.execute(sa.update(t.alert_outbox).where(c.id.in_(ids), due)
                       .values(state="sending", lease_until=now + lease, attempts=c.attempts + 1))
        rows = self.c.execute(sa.select(t.alert_outbox).where(c.id.in_(ids), c.state == "sending",
                                                             c.lease_until == now + lease)).mappings()
        return [dict(r) for r in rows]

    def compose(self, outbox_id: int, message: str) -> None:
        """Keep the composed message, so every later attempt sends the same words."""
        c = t.alert_outbox.c
        self.c.execute(sa.update(t.alert_outbox).where(c.id == outbox_id, c.message.is_(None)).values(message=message))

    def delivered(self, outbox_id: int, at: float) -> None:
        c = t.alert_outbox.c
        self.c.execute(sa.update(t.alert_outbox).where(c.id == outbox_id)
                       .values(state="delivered", delivered_at=at, lease_until=None, last_error=None))

    def failed(self, outbox_id: int, error: str, *, next_at: float | None) -> None:
        """A failed attempt: try again at ``next_at``, or dead-letter it (``next_at`` None)."""
        c = t.alert_outbox.c
        values: dict[str, Any] = {"last_error": error[:2000], "lease_until": None}
        values.update({"state": "pending", "next_at": next_at} if next_at is not None else {"state": "dead"})
        self.c.execute(sa.update(t.alert_outbox).where(c.id == outbox_id).values(**values))

    def retry(self, outbox_id: int, *, now: float, actor: str | None = None) -> None:
        """Send a dead, waiting or skipped message now, with its attempts counted from zero (a
        skipped one loses its reason: it is sent after all)."""
        c = t.alert_outbox.c
        self.c.execute(sa.update(t.alert_outbox).where(c.id == outbox_id, c.state == "skipped").values(last_error=None))
        self.c.execute(sa.update(t.alert_outbox).where(c.id == outbox_id)
                       .values(state="pending", next_at=now, attempts=0, lease_until=None, retried_by=actor))

    def get(self, outbox_id: int) -> dict | None:
        row = self.c.execute(sa.select(t.alert_outbox).where(t.alert_outbox.c.id == outbox_id)).mappings().first()
        return dict(row) if row else None

    def select(self, project: str, *, states: tuple[str, ...] = (), incident_id: int | None = None,
               audience: str | None = None, limit: int | None = None) -> list[dict]:
        """Newest first."""
        c = t.alert_outbox.c
        q = sa.select(t.alert_outbox).where(c.project == project)
        if states:
            q = q.where(c.state.in_(states))
        if incident_id is not None:
            q = q.where(c.incident_id == incident_id)
        if audience is not None:
            q = q.where(c.audience == audience)
        q = q.order_by(c.created_at.desc(), c.id.desc())
        if limit:
            q = q.limit(limit)
        return [dict(r) for r in self.c.execute(q).mappings()]

    def counts(self, project: str) -> dict[str, int]:
        c = t.alert_outbox.c
        q = sa.select(c.state, sa.func.count()).where(c.project == project).group_by(c.state)
        return {state: int(n) for state, n in self.c.execute(q)}

    def uncount(self, outbox_id: int) -> None:
        """Take back an attempt that was claimed but not made (its route was down a moment before)."""
        c = t.alert_outbox.c
        self.c.execute(sa.update(t.alert_outbox).where(c.id == outbox_id, c.attempts > 0)
                       .values(attempts=c.attempts - 1))
