"""Heartbeats prove a run is alive and keep its partition leases; runs whose process died are
found and closed."""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlalchemy as sa

    from weir.model.rows import RunRecord

HEARTBEAT_SECONDS = 5.0
DEAD_AFTER_SECONDS = 120.0
STUCK_AFTER_SECONDS = 900.0  # a live pid with no beat for this long is a reused pid, not our run


class Heartbeat:
    """A daemon thread that stamps the run every few seconds on its own connection, and pushes
    back the expiry of the leases it holds to ``lease_ttl`` seconds from then."""

    def __init__(self, engine: sa.Engine, run_id: str, every: float = HEARTBEAT_SECONDS, *, lease_ttl: float | None = None) -> None:
        self.engine = engine
        self.run_id = run_id
        self.every = every
        self.lease_ttl = lease_ttl
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"weir-heartbeat-{run_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _beat(self) -> None:
        from weir.store.schema import leases, runs

        while not self._stop.wait(self.every):
            try:
                with self.engine.begin() as c:
                    now = time.time()
                    c.execute(runs.update().where(runs.c.id == self.run_id).values(heartbeat_at=now))
                    if self.lease_ttl is not None:
                        c.execute(leases.update().where(leases.c.holder == self.run_id).values(expires_at=now + self.lease_ttl))
            except Exception:  # noqa: BLE001, S112 - a missed beat is harmless; the next one retries
                continue


def this_host() -> str:
    return socket.gethostname()


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (killed, not yet reaped) is dead for our purpose
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return True


def is_dead(run: RunRecord, now: float | None = None) -> str | None:
    """Why an active run is dead, or None while it looks alive."""
    now = now or time.time()
    beat = run.heartbeat_at or run.started_at or run.created_at or 0
    if run.host == this_host() and run.pid:
        if run.pid == os.getpid():
            return None
        if not process_alive(run.pid):
            return f"its process {run.pid} on {run.host} is gone"
        if now - beat > STUCK_AFTER_SECONDS:
            return f"no heartbeat for {int(now - beat)} s"
        return None
    if now - beat > DEAD_AFTER_SECONDS:
        return f"no heartbeat for {int(now - beat)} s"
    return None
