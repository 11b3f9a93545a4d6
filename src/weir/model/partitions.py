"""Partition schemes: how an asset is split over time or keys.

A scheme turns keys (strings such as ``2013-01-05``) into time windows and back.
Variants are small frozen dataclasses sharing one interface.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from weir.errors import ConfigError, PartitionError

UNPARTITIONED_KEY = ""
MAX_KEY_LENGTH = 64  # what the metadata store holds


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"unknown time zone {tz!r}") from exc


@dataclass(frozen=True, kw_only=True)
class PartitionScheme:
    """Base of all schemes. ``kind`` discriminates the variants."""

    kind: ClassVar[str] = "base"

    @property
    def is_partitioned(self) -> bool:
        return True

    @property
    def is_time(self) -> bool:
        return False

    def keys(self) -> list[str]:
        raise NotImplementedError

    def count(self) -> int:
        """How many partitions (``len(keys())``, without building them where a scheme can)."""
        return len(self.keys())

    def validate_key(self, key: str) -> str:
        if key not in self._key_set():
            raise PartitionError(f"partition {key!r} is not in {self.describe()}")
        return key

    def key_range(self, first: str, last: str) -> list[str]:
        """Keys from ``first`` to ``last`` inclusive, in order."""
        keys = self.keys()
        self.validate_key(first)
        self.validate_key(last)
        i, j = keys.index(first), keys.index(last)
        if i > j:
            raise PartitionError(f"range {first!r}..{last!r} is empty: {first!r} comes after {last!r}")
        return keys[i : j + 1]

    def shift(self, key: str, steps: int) -> str | None:
        """The key ``steps`` partitions before (negative) or after; None beyond the range."""
        keys = self.keys()
        i = keys.index(self.validate_key(key)) + steps
        return keys[i] if 0 <= i < len(keys) else None

    def describe(self) -> str:
        raise NotImplementedError

    def to_dict(self) -> dict:
        raise NotImplementedError

    def _key_set(self) -> frozenset[str]:
        return _key_set(self)


@functools.lru_cache(maxsize=256)
def _key_set(scheme: PartitionScheme) -> frozenset[str]:
    return frozenset(scheme.keys())


@dataclass(frozen=True, kw_only=True)
class Unpartitioned(PartitionScheme):
    """One partition holding the whole table."""

    kind: ClassVar[str] = "unpartitioned"

    @property
    def is_partitioned(self) -> bool:
        return False

    def keys(self) -> list[str]:
        return [UNPARTITIONED_KEY]

    def validate_key(self, key: str) -> str:
        if key not in (UNPARTITIONED_KEY, None):
            raise PartitionError(f"partition {key!r} given for an unpartitioned asset")
        return UNPARTITIONED_KEY

    def describe(self) -> str:
        return "unpartitioned"

    def to_dict(self) -> dict:
        return {"kind": self.kind}


@dataclass(frozen=True, kw_only=True)
class Static(PartitionScheme):
    """A fixed list of keys (regions, customers, ...): any text of 1 to 64 characters without
    '/' or control characters (spaces, accents, quotes, '%', '#', '?', '*', '=' are fine)."""

    kind: ClassVar[str] = "static"
    values: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.values:
            raise ConfigError("static partitions need at least one key")
        if len(set(self.values)) != len(self.values):
            raise ConfigError(f"static partitions repeat a key: {list(self.values)}")
        for v in self.values:
            if not isinstance(v, str) or not v or len(v) > MAX_KEY_LENGTH or "/" in v or any(ord(c) < 32 or ord(c) == 127 for c in v):
                raise ConfigError(
                    f"static partition key {v!r} must be text of 1 to {MAX_KEY_LENGTH} characters without '/' or control characters"
                )

    def keys(self) -> list[str]:
        return list(self.values)

    def describe(self) -> str:
        return f"static({', '.join(self.values)})"

    def to_dict(self) -> dict:
        return {"kind": self.kind, "values": list(self.values)}


@dataclass(frozen=True, kw_only=True)
class TimeScheme(PartitionScheme):
    """A regular time grid: each key is a window [start, end) in ``tz``."""

    kind: ClassVar[str] = "time"
    key_format: ClassVar[str] = ""
    start: str
    end: str
    tz: str = "UTC"
    _first: datetime = field(init=False, repr=False, compare=False)
    _last: datetime = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _zone(self.tz)
        first = self._parse(self.start, "start")
        last = self._parse(self.end, "end")
        if first > last:
            raise ConfigError(f"{self.kind} partitions: start {self.start!r} is after end {self.end!r}")
        object.__setattr__(self, "_first", first)
        object.__setattr__(self, "_last", last)

    @property
    def is_time(self) -> bool:
        return True

    @property
    def zone(self) -> ZoneInfo:
        return _zone(self.tz)

    def _parse(self, text: str, what: str) -> datetime:
        try:
            return datetime.strptime(str(text), self.key_format)
        except ValueError:
            raise ConfigError(
                f"{self.kind} partitions: {what} {text!r} is not a valid key (expected like {self._example()})"
            ) from None

    def _example(self) -> str:
        return datetime(2013, 1, 5, 7).strftime(self.key_format)

    def _next(self, t: datetime) -> datetime:
        raise NotImplementedError

    def _floor(self, t: datetime) -> datetime:
        raise NotImplementedError

    def keys(self) -> list[str]:
        return list(_time_keys(self))

    def count(self) -> int:
        return self._steps(self._first, self._last) + 1

    def _steps(self, first: datetime, last: datetime) -> int:
        """Whole steps from key ``first`` to key ``last``."""
        return len(_time_keys(self)) - 1

    def validate_key(self, key: str) -> str:
        try:
            t = datetime.strptime(key, self.key_format)
        except (ValueError, TypeError):
            raise PartitionError(
                f"partition {key!r} is not a {self.kind} key (expected like {self._example()})"
            ) from None
        if t.strftime(self.key_format) != key or self._floor(t) != t:
            raise PartitionError(f"partition {key!r} is not a {self.kind} key (expected like {self._example()})")
        if not self._first <= t <= self._last:
            raise PartitionError(f"partition {key!r} is outside {self.describe()}")
        return key

    def window(self, key: str) -> tuple[datetime, datetime]:
        """The [start, end) of a key as time-zone-aware datetimes."""
        t = datetime.strptime(key, self.key_format)
        return t.replace(tzinfo=self.zone), self._next(t).replace(tzinfo=self.zone)

    def key_of(self, moment: datetime) -> str:
        """The key whose window holds ``moment`` (naive datetimes are in this scheme's zone)."""
        if moment.tzinfo is not None:
            moment = moment.astimezone(self.zone).replace(tzinfo=None)
        return self._floor(moment).strftime(self.key_format)

    def keys_within(self, start: datetime, end: datetime) -> list[str]:
        """Keys whose windows lie inside [start, end)."""
        keys = self.keys()
        lo = self.key_of(start)
        i = bisect.bisect_left(keys, lo)
        out = []
        for k in keys[i:]:
            ks, ke = self.window(k)
            if ks >= end:
                break
            if ks >= start and ke <= end:
                out.append(k)
        return out

    def describe(self) -> str:
        zone = "" if self.tz == "UTC" else f", {self.tz}"
        return f"{self.kind} {self.start}..{self.end}{zone}"

    def to_dict(self) -> dict:
        return {"kind": self.kind, "start": self.start, "end": self.end, "tz": self.tz}


@functools.lru_cache(maxsize=256)
def _time_keys(scheme: TimeScheme) -> tuple[str, ...]:
    out = []
    t = scheme._first
    while t <= scheme._last:
        out.append(t.strftime(scheme.key_format))
        t = scheme._next(t)
    return tuple(out)


HOUR = timedelta(hours=1)


@dataclass(frozen=True, kw_only=True)
class Hourly(TimeScheme):
    """Hours of local wall-clock time, keyed ``YYYY-MM-DDTHH``.

    Keys step through real hours, so in a zone with daylight saving time an hour the clocks
    skip has no key, and an hour they repeat has two: ``2024-10-27T02`` (the first) and
    ``2024-10-27T02+0100`` (the second, told apart by its UTC offset; it sorts between the
    first and the next hour). A window is one real hour, carrying the fixed UTC offset in
    force during it, so arithmetic on windows is exact across a transition. Zones whose
    offset changes by less than an hour are not supported."""

    kind: ClassVar[str] = "hourly"
    key_format: ClassVar[str] = "%Y-%m-%dT%H"
    _first_at: datetime = field(init=False, repr=False, compare=False)  # UTC instants of start and end
    _last_at: datetime = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        first, last = self._bound(self.start, "start"), self._bound(self.end, "end")
        if first > last:
            raise ConfigError(f"{self.kind} partitions: start {self.start!r} is after end {self.end!r}")
        object.__setattr__(self, "_first_at", first)
        object.__setattr__(self, "_last_at", last)

    def _parse(self, text: str, what: str) -> datetime:
        try:  # the wall-clock hour; a repeated hour's offset is read by _bound
            return datetime.strptime(str(text)[:13], self.key_format)
        except ValueError:
            raise ConfigError(
                f"{self.kind} partitions: {what} {text!r} is not a valid key (expected like {self._example()})"
            ) from None

    def _bound(self, text: str, what: str) -> datetime:
        try:
            return self._instant(str(text))
        except PartitionError as exc:
            raise ConfigError(f"{self.kind} partitions: {what}: {exc.message}") from None

    def _key_at(self, instant: datetime) -> str:
        local = instant.astimezone(self.zone)
        key = local.strftime(self.key_format)
        return key + local.strftime("%z") if local.fold else key  # fold 1: the second of a repeated hour

    def _instant(self, key: str) -> datetime:
        """The UTC start of the hour ``key`` names. Raises PartitionError if it names none."""
        bad = PartitionError(f"partition {key!r} is not a {self.kind} key (expected like {self._example()})")
        try:
            local = datetime.strptime(key[:13], self.key_format)
        except (ValueError, TypeError):
            raise bad from None
        offset = key[13:]
        if offset:
            aware = [t for t in (local.replace(tzinfo=self.zone, fold=f) for f in (1, 0)) if t.strftime("%z") == offset]
            if not aware:
                raise bad
            instant = aware[0].astimezone(UTC)
        else:
            instant = local.replace(tzinfo=self.zone).astimezone(UTC)  # fold 0: the first of a repeated hour
            if instant.astimezone(self.zone).replace(tzinfo=None) != local:
                raise PartitionError(f"partition {key!r} is not an hour in {self.tz}: the clocks skip it")
        if self._key_at(instant) != key:
            raise bad
        return instant

    def keys(self) -> list[str]:
        return list(_hour_keys(self))

    def count(self) -> int:
        return (self._last_at - self._first_at) // HOUR + 1

    def validate_key(self, key: str) -> str:
        instant = self._instant(key if isinstance(key, str) else "")
        if not self._first_at <= instant <= self._last_at:
            raise PartitionError(f"partition {key!r} is outside {self.describe()}")
        return key

    def window(self, key: str) -> tuple[datetime, datetime]:
        start = self._instant(key)
        return _fixed_offset(start, self.zone), _fixed_offset(start + HOUR, self.zone)

    def key_of(self, moment: datetime) -> str:
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=self.zone)
        local = aware.astimezone(UTC).astimezone(self.zone)
        return self._key_at(local.replace(minute=0, second=0, microsecond=0).astimezone(UTC))

    def _next(self, t: datetime) -> datetime:
        return t + HOUR

    def _floor(self, t: datetime) -> datetime:
        return t.replace(minute=0, second=0, microsecond=0)


def _fixed_offset(instant: datetime, zone: ZoneInfo) -> datetime:
    """``instant`` in local time, with the fixed UTC offset in force then as its time zone."""
    local = instant.astimezone(zone)
    offset = local.utcoffset()
    assert offset is not None
    return local.replace(tzinfo=timezone(offset) if offset else UTC, fold=0)


@functools.lru_cache(maxsize=256)
def _hour_keys(scheme: Hourly) -> tuple[str, ...]:
    out = []
    t = scheme._first_at
    while t <= scheme._last_at:
        out.append(scheme._key_at(t))
        t += HOUR
    return tuple(out)


@dataclass(frozen=True, kw_only=True)
class Daily(TimeScheme):
    kind: ClassVar[str] = "daily"
    key_format: ClassVar[str] = "%Y-%m-%d"

    def _next(self, t: datetime) -> datetime:
        return t + timedelta(days=1)

    def _steps(self, first: datetime, last: datetime) -> int:
        return (last - first).days

    def _floor(self, t: datetime) -> datetime:
        return datetime.combine(t.date(), datetime.min.time())


@dataclass(frozen=True, kw_only=True)
class Monthly(TimeScheme):
    kind: ClassVar[str] = "monthly"
    key_format: ClassVar[str] = "%Y-%m"

    def _next(self, t: datetime) -> datetime:
        return datetime(t.year + t.month // 12, t.month % 12 + 1, 1)

    def _steps(self, first: datetime, last: datetime) -> int:
        return (last.year - first.year) * 12 + last.month - first.month

    def _floor(self, t: datetime) -> datetime:
        return datetime(t.year, t.month, 1)


def _as_text(value: str | date, fmt: str) -> str:
    return value.strftime(fmt) if isinstance(value, date) else str(value)


def daily(*, start: str | date, end: str | date, tz: str = "UTC") -> Daily:
    """Daily partitions keyed ``YYYY-MM-DD`` from ``start`` to ``end`` inclusive."""
    return Daily(start=_as_text(start, Daily.key_format), end=_as_text(end, Daily.key_format), tz=tz)


def hourly(*, start: str | datetime, end: str | datetime, tz: str = "UTC") -> Hourly:
    """Hourly partitions keyed ``YYYY-MM-DDTHH`` from ``start`` to ``end`` inclusive."""
    return Hourly(start=_as_text(start, Hourly.key_format), end=_as_text(end, Hourly.key_format), tz=tz)


def monthly(*, start: str | date, end: str | date, tz: str = "UTC") -> Monthly:
    """Monthly partitions keyed ``YYYY-MM`` from ``start`` to ``end`` inclusive."""
    return Monthly(start=_as_text(start, Monthly.key_format), end=_as_text(end, Monthly.key_format), tz=tz)


def static(values: list[str] | tuple[str, ...]) -> Static:
    """Partitions over a fixed list of keys."""
    return Static(values=tuple(values))


def unpartitioned() -> Unpartitioned:
    return Unpartitioned()


def scheme_from_dict(data: dict) -> PartitionScheme:
    kind = data.get("kind")
    if kind == "static":
        return static(data["values"])
    if kind == "unpartitioned":
        return Unpartitioned()
    makers = {"daily": daily, "hourly": hourly, "monthly": monthly}
    if kind not in makers:
        raise ConfigError(f"unknown partition kind {kind!r} (expected daily, hourly, monthly, static, unpartitioned)")
    return makers[kind](start=data["start"], end=data["end"], tz=data.get("tz", "UTC"))


def iter_windows(scheme: TimeScheme, keys: list[str]) -> Iterator[tuple[str, datetime, datetime]]:
    for k in keys:
        s, e = scheme.window(k)
        yield k, s, e
