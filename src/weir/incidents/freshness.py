"""When data is due: a ``fresh_within`` deadline, declared on an insight (for the inputs it
depends on) or on a source, says how long after a partition's window ends the partition must
be there. At ``now`` the newest partition due is the newest whose window ended at least that
long ago, so a daily input with ``fresh_within="36h"`` owes the day before yesterday from noon
on. An unpartitioned (or statically partitioned) input owes a publish at most that long ago.
No I/O here: the trust service hands in what was published when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from weir.model.partitions import PartitionScheme, TimeScheme

TINY = timedelta(microseconds=1)


@dataclass(frozen=True, kw_only=True)
class Late:
    """An input whose data has not arrived by its deadline."""

    asset: str
    newest: str | None  # its newest partition there (None: none yet, or unpartitioned)
    expected: str | None  # the partition due (None: unpartitioned, a publish was due)
    due: datetime | None  # when it was due (None: never published, unpartitioned)
    last: float | None = None  # unpartitioned: when it was last published
    within: timedelta

    def line(self) -> str:
        """One sentence saying what is missing and since when."""
        if self.expected is None:
            if self.last is None:
                return f"{self.asset} has never been published (fresh within {_span(self.within)})"
            return (f"{self.asset} last published {_at(datetime.fromtimestamp(self.last, UTC))}; "
                    f"due again by {_at(self.due)}")
        have = f"no {self.asset} partition newer than {self.newest}" if self.newest else f"no {self.asset} partition yet"
        return f"{have}; expected {self.expected} by {_at(self.due)}"

    def to_json(self) -> dict[str, Any]:
        return {"asset": self.asset, "newest": self.newest, "expected": self.expected,
                "due": self.due.astimezone(UTC).isoformat(timespec="seconds") if self.due else None,
                "because": self.line()}


def due_partition(scheme: TimeScheme, within: timedelta, now: datetime) -> tuple[str, datetime] | None:
    """The newest partition of ``scheme`` due by ``now`` and when it was due; None while none is."""
    moment = now - within
    if scheme.window(scheme.end)[1] <= moment:
        key = scheme.end
    else:
        start = scheme.window(scheme.key_of(moment))[0]
        if start <= scheme.window(scheme.start)[0]:
            return None
        key = scheme.key_of(start - TINY)
    return key, scheme.window(key)[1] + within


def lateness(asset: str, scheme: PartitionScheme, within: timedelta, now: datetime,
             published: dict[str, float]) -> Late | None:
    """Whether ``asset`` (its partitions ``published``: key -> when) misses its deadline at ``now``."""
    if isinstance(scheme, TimeScheme):
        due = due_partition(scheme, within, now)
        if due is None:
            return None
        expected, at = due
        newest = max(published, default=None)
        if newest is not None and newest >= expected:
            return None
        return Late(asset=asset, newest=newest, expected=expected, due=at.astimezone(scheme.zone), within=within)
    last = max(published.values(), default=None)
    if last is not None and now.timestamp() - last <= within.total_seconds():
        return None
    due_at = None if last is None else datetime.fromtimestamp(last, UTC) + within
    return Late(asset=asset, newest=None, expected=None, due=due_at, last=last, within=within)


def _at(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M %Z") if t else "—"


def _span(d: timedelta) -> str:
    seconds = int(d.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
