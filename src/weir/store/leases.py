"""Leases on asset partitions: any number of runs (and daemons) on one store never build the
same partition at the same time. A run takes the leases of what it plans to build in one
statement per partition; a lease held by another live run is refused; a lease whose holder
stopped renewing it (a killed process) lapses at ``expires_at`` and can be taken over."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Protocol

import sqlalchemy as sa

from weir.store import schema as t
from weir.store.base import Repository, dialect_insert

DEFAULT_TTL = 120.0  # seconds without a renewal before another run may take a partition over


class LeaseWriter(Protocol):
    def acquire(self, project: str, keys: Iterable[tuple[str, str]], holder: str, *, ttl: float = DEFAULT_TTL,
                now: float | None = None) -> tuple[set[tuple[str, str]], dict[tuple[str, str], str]]: ...

    def renew(self, holder: str, *, ttl: float = DEFAULT_TTL) -> int: ...

    def release(self, holder: str, keys: Iterable[tuple[str, str]] | None = None) -> int: ...


class Leases(Repository):
    def acquire(self, project: str, keys: Iterable[tuple[str, str]], holder: str, *, ttl: float = DEFAULT_TTL,
                now: float | None = None) -> tuple[set[tuple[str, str]], dict[tuple[str, str], str]]:
        """Take the lease of each (asset, partition) that is free, lapsed or already ours.
        Returns (granted, held): ``held`` maps each refused key to the run holding it."""
        now = time.time() if now is None else now
        table = t.leases
        granted: set[tuple[str, str]] = set()
        held: dict[tuple[str, str], str] = {}
        for asset, key in keys:
            insert = dialect_insert(self.c, table).values(project=project, asset=asset, partition_key=key, holder=holder,
                                                          acquired_at=now, expires_at=now + ttl)
            stmt = insert.on_conflict_do_update(
                index_elements=["project", "asset", "partition_key"],
                set_={"holder": holder, "acquired_at": now, "expires_at": now + ttl},
                where=sa.or_(table.c.expires_at < now, table.c.holder == holder),
            ).returning(table.c.holder)
            got = self.c.execute(stmt).scalar()
            if got == holder:
                granted.add((asset, key))
            else:
                c = table.c
                holder_now = self.c.execute(
                    sa.select(c.holder).where(c.project == project, c.asset == asset, c.partition_key == key)
                ).scalar()
                held[(asset, key)] = holder_now or "?"
        return granted, held

    def renew(self, holder: str, *, ttl: float = DEFAULT_TTL) -> int:
        """Push back the expiry of every lease ``holder`` has; returns how many."""
        c = t.leases.c
        result = self.c.execute(t.leases.update().where(c.holder == holder).values(expires_at=time.time() + ttl))
        return int(result.rowcount or 0)

    def release(self, holder: str, keys: Iterable[tuple[str, str]] | None = None) -> int:
        """Give up ``holder``'s leases (all of them, or those of ``keys``)."""
        c = t.leases.c
        if keys is None:
            result = self.c.execute(t.leases.delete().where(c.holder == holder))
            return int(result.rowcount or 0)
        n = 0
        for asset, key in keys:
            result = self.c.execute(t.leases.delete().where(c.holder == holder, c.asset == asset, c.partition_key == key))
            n += int(result.rowcount or 0)
        return n

    def held_by(self, holder: str) -> set[tuple[str, str]]:
        c = t.leases.c
        return {(a, k) for a, k in self.c.execute(sa.select(c.asset, c.partition_key).where(c.holder == holder))}
