"""Holding ticks: who holds them, for how long, and a thread that keeps the leases alive while
their steps run (a build may take minutes; the lease must not lapse under a live holder)."""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from weir.store.store import MetadataStore

LEASE_SECONDS = 30.0  # a tick whose holder stopped renewing it this long is taken on by another
RENEW_SECONDS = 2.0  # how often a live holder renews (and a daemon beats)


def new_holder(kind: str) -> str:
    """A holder id: what holds (daemon, cli), on which host and process, and a token."""
    from weir.engine.heartbeat import this_host

    return f"{kind}:{this_host()[:60]}:{os.getpid()}:{secrets.token_hex(3)}"


class LeaseKeeper:
    """A background thread that, every ``every`` seconds, pushes back the lease of every tick
    ``holder`` runs to ``lease`` seconds from then, and calls ``beat`` (a daemon's heartbeat).
    A missed renewal is harmless; the next one retries."""

    def __init__(self, store: MetadataStore, holder: str, *, every: float = RENEW_SECONDS,
                 lease: float = LEASE_SECONDS, beat: Callable[[float], None] | None = None) -> None:
        self.store = store
        self.holder = holder
        self.every = every
        self.lease = lease
        self.beat = beat
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"weir-lease-{holder}", daemon=True)

    def start(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def renew(self) -> None:
        now = time.time()
        with self.store.transaction():
            self.store.ticks.renew(self.holder, until=now + self.lease)
            if self.beat is not None:
                self.beat(now)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.renew()
            except Exception:  # noqa: BLE001, S112 - a store that hiccups: the next beat retries
                continue
