"""Daemons as the store knows them: a row per daemon with its heartbeat. On SQLite a daemon
registers only if no other is alive (one statement, so two starting at once cannot both get
in); on PostgreSQL any number register. A daemon on this host whose process is gone, or any
daemon silent for ``DEAD_AFTER`` seconds, is dead: its row is closed and the ticks it held are
let go at once, for a live daemon to take on."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from weir.engine.heartbeat import process_alive, this_host
from weir.errors import UsageError

if TYPE_CHECKING:
    from weir.store.store import MetadataStore

DEAD_AFTER = 30.0  # seconds without a heartbeat after which a daemon is taken for dead


def dead(row: dict, now: float) -> str | None:
    """Why a daemon not marked stopped is dead, or None while it looks alive."""
    if row["host"] == this_host() and row["pid"] != os.getpid() and not process_alive(row["pid"]):
        return f"its process {row['pid']} on {row['host']} is gone"
    if now - row["heartbeat_at"] > DEAD_AFTER:
        return f"no heartbeat for {int(now - row['heartbeat_at'])} s"
    return None


def reap(store: MetadataStore, *, me: str | None = None, now: float | None = None) -> list[dict]:
    """Close the rows of dead daemons and let the leases of their ticks lapse now (in the
    caller's unit of work, or one of its own). Returns the daemons closed."""
    now = time.time() if now is None else now
    closed = []
    with store.transaction():
        for row in store.daemons.running():
            if row["id"] == me:
                continue
            why = dead(row, now)
            if why is not None:
                store.daemons.stop(row["id"], at=now, doing=f"dead: {why}")
                store.ticks.lapse([row["id"]])
                closed.append({**row, "why": why})
    return closed


def register(store: MetadataStore, daemon_id: str, projects: list[str]) -> list[dict]:
    """Record this daemon; returns the dead daemons it found (as ``reap``). On SQLite,
    UsageError naming the live daemon if there is one."""
    now = time.time()
    row = {"id": daemon_id, "host": this_host(), "pid": os.getpid(), "started_at": now, "heartbeat_at": now,
           "projects": projects, "doing": "starting"}
    with store.transaction():
        closed = reap(store, me=daemon_id, now=now)
        if store.backend != "sqlite":
            store.daemons.register(row)
            return closed
        if store.daemons.register(row, alone_unless_dead_before=now - DEAD_AFTER):
            return closed
        others = [r for r in store.daemons.running() if r["id"] != daemon_id]
    other = others[0] if others else None
    who = (f"pid {other['pid']} on {other['host']}, started {_at(other['started_at'])}, last heartbeat "
           f"{now - other['heartbeat_at']:.0f} s ago" if other else "another process")
    raise UsageError(f"another weir daemon is running on this SQLite store ({who}); stop it first, or keep the "
                     "metadata store in PostgreSQL (WEIR_DATABASE_URL) to run several daemons")


def status(store: MetadataStore, *, limit: int = 20) -> list[dict[str, Any]]:
    """The newest daemons, each ``live``, ``stale`` (no heartbeat for long: dead or stuck),
    or ``stopped``."""
    now = time.time()
    with store.read():
        rows = store.daemons.list(limit=limit)
    out = []
    for r in rows:
        state = "stopped" if r["stopped_at"] else ("stale" if dead(r, now) else "live")
        out.append({"id": r["id"], "host": r["host"], "pid": r["pid"], "state": state,
                    "started_at": _at(r["started_at"]), "heartbeat_at": _at(r["heartbeat_at"]),
                    "heartbeat_age": round(now - r["heartbeat_at"], 1), "stopped_at": _at(r["stopped_at"]),
                    "projects": list(r["projects"] or []), "doing": r["doing"]})
    return out


def _at(at: float | None) -> str | None:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z") if at else None
