"""When a cron trigger fires: its times in its time zone, with weir's policy for daylight saving
time and for times missed while no daemon ran.

- A schedule with fixed hours (``30 2 * * *``) fires once per wall-clock time. A time the clock
  skips (spring forward: 02:30 does not exist) fires once, at the moment the clock jumps
  (03:00). A time the clock repeats (fall back: 01:30 happens twice) fires at its first
  occurrence only.
- A schedule whose hour field is ``*`` or a step (``*/15 * * * *``) follows real time: it fires
  at every instant it matches, in both passes of a repeated hour, and not at all for minutes
  that do not exist.
- Times missed while no daemon evaluated the scenario (downtime, a long tick) coalesce into one
  tick, for the newest of them, which says how many it stands for.

Each fire time is an instant; a tick is keyed by it in UTC, so the same time is one tick."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

MAX_LISTED = 20  # missed times kept by name in a coalesced tick; the count says the rest
MAX_COUNTED = 10_000  # missed times counted one by one before the count says "at least"


def follows_real_time(schedule: str) -> bool:
    """Whether the schedule's hour field is a wildcard or a step (it runs at least hourly)."""
    fields = schedule.split()
    hour = fields[1]
    return hour == "*" or hour.startswith("*/")


def _is_repeat(moment: datetime, tz: ZoneInfo) -> bool:
    """Whether ``moment`` is the second occurrence of a wall-clock time the clock repeats."""
    wall = moment.replace(tzinfo=None)
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    return first != second and moment.astimezone(UTC) == second


def fire_times(schedule: str, timezone: str, after: float, until: float, *, limit: int = MAX_COUNTED) -> list[float]:
    """The instants (seconds since the epoch) in (``after``, ``until``] at which the schedule
    fires under the policy above, oldest first, at most ``limit`` of them."""
    from croniter import croniter

    tz = ZoneInfo(timezone)
    real_time = follows_real_time(schedule)
    start = datetime.fromtimestamp(after, tz)
    it = croniter(schedule, start)
    out: list[float] = []
    last = after
    while len(out) < limit:
        moment = it.get_next(datetime)
        at = moment.timestamp()
        if at > until:
            break
        if at <= last:  # two wall times mapped to one instant (a skipped time and the jump)
            continue
        if not real_time and _is_repeat(moment, tz):
            continue
        out.append(at)
        last = at
    return out


def newest_fire_time(schedule: str, timezone: str, until: float) -> float | None:
    """The newest instant at or before ``until`` the schedule fires at (for catching up after a
    long downtime without listing every missed time)."""
    from croniter import croniter

    tz = ZoneInfo(timezone)
    it = croniter(schedule, datetime.fromtimestamp(until + 1e-6, tz))
    for _ in range(10):
        moment = it.get_prev(datetime)
        if follows_real_time(schedule) or not _is_repeat(moment, tz):
            return moment.timestamp()
    return None


@dataclass(frozen=True, kw_only=True)
class CronFiring:
    """One tick of a cron trigger: the time it is for, and the missed times it stands for."""

    at: float
    missed: int  # earlier times coalesced into it
    missed_times: tuple[float, ...] = ()  # the first MAX_LISTED of them
    at_least: bool = False  # more were missed than were counted

    def to_json(self) -> dict:
        return {"kind": "cron", "scheduled_for": iso(self.at), "missed": self.missed,
                "missed_times": [iso(t) for t in self.missed_times], "at_least": self.at_least}


def due(schedule: str, timezone: str, last: float, now: float) -> CronFiring | None:
    """The tick for the times in (``last``, ``now``]: None when none passed, else one for the
    newest, coalescing the others."""
    times = fire_times(schedule, timezone, last, now)
    if not times:
        return None
    if len(times) >= MAX_COUNTED:
        newest = newest_fire_time(schedule, timezone, now) or times[-1]
        return CronFiring(at=newest, missed=len(times), missed_times=tuple(times[:MAX_LISTED]), at_least=True)
    return CronFiring(at=times[-1], missed=len(times) - 1, missed_times=tuple(times[:-1][:MAX_LISTED]))


def iso(at: float) -> str:
    """An instant as the key of a cron tick: ISO 8601 in UTC, to the microsecond when it has them."""
    moment = datetime.fromtimestamp(at, UTC)
    return moment.isoformat(timespec="microseconds" if moment.microsecond else "seconds").replace("+00:00", "Z")
