"""What starts a scenario: a cron schedule in a time zone, files landing for a source's
partitions, an asset's partitions published, an incident opened, escalated or resolved, or
only a person (``weir scenario run NAME``). Values, validated on construction; no I/O here.

Data triggers wait for a quiet moment: they fire once nothing new has arrived for ``debounce``
seconds, so a burst of deliveries starts one tick."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar

from weir.errors import ConfigError

DEFAULT_DEBOUNCE = 0.5  # seconds of quiet after the newest arrival before a data trigger fires
INCIDENT_CHANGES = ("opened", "escalated", "resolved")


def _names(value: Iterable[str] | str, what: str, where: str) -> tuple[str, ...]:
    names = (value,) if isinstance(value, str) else tuple(value)
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ConfigError(f"{what} must name at least one, got {value!r}", where=where or None)
    return names


def _debounce(value: float | str | timedelta, what: str, where: str) -> float:
    from weir.model.checks import parse_duration

    if isinstance(value, bool):
        value = -1
    try:
        seconds = float(value) if isinstance(value, (int, float)) else parse_duration(value).total_seconds()
    except (ConfigError, TypeError, ValueError):
        seconds = -1.0
    if seconds < 0:
        raise ConfigError(f"{what}: debounce={value!r} must be seconds or a duration like 30s", where=where or None)
    return seconds


@dataclass(frozen=True, kw_only=True)
class Cron:
    """A cron schedule read in ``timezone``. Five fields (minute hour day month weekday), or six
    with seconds last (croniter's form: ``* * * * * */2`` fires every two seconds)."""

    kind: ClassVar[str] = "cron"
    schedule: str
    timezone: str = "UTC"
    where: str = ""

    def __post_init__(self) -> None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        from croniter import croniter

        if not isinstance(self.schedule, str) or len(self.schedule.split()) not in (5, 6) \
                or not croniter.is_valid(self.schedule):
            raise ConfigError(f"cron schedule {self.schedule!r} is not valid (five fields, or six with seconds last)",
                              where=self.where or None)
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ConfigError(f"cron time zone {self.timezone!r} is not a known time zone (e.g. Europe/Paris)",
                              where=self.where or None) from None

    @property
    def id(self) -> str:
        return f"cron {self.schedule} {self.timezone}"

    def describe(self) -> str:
        return f"cron '{self.schedule}' ({self.timezone})"


@dataclass(frozen=True, kw_only=True)
class Landed:
    """New or changed files for partitions of ``sources``. With ``together``, a partition fires
    once every source has files for it (flights and weather of the same day)."""

    kind: ClassVar[str] = "landed"
    sources: tuple[str, ...]
    together: bool = False
    debounce: float = DEFAULT_DEBOUNCE
    where: str = ""

    @property
    def id(self) -> str:
        return f"landed {','.join(self.sources)}{' together' if self.together else ''}"

    def describe(self) -> str:
        joined = " and ".join(self.sources) if self.together else " or ".join(self.sources)
        return f"{joined} landed"


@dataclass(frozen=True, kw_only=True)
class Published:
    """Partitions of ``assets`` published (an upstream updated), read from the event log."""

    kind: ClassVar[str] = "published"
    assets: tuple[str, ...]
    debounce: float = DEFAULT_DEBOUNCE
    where: str = ""

    @property
    def id(self) -> str:
        return f"published {','.join(self.assets)}"

    def describe(self) -> str:
        return f"{' or '.join(self.assets)} published"


@dataclass(frozen=True, kw_only=True)
class IncidentChange:
    """An incident of the project opened, escalated (its severity rose) or resolved."""

    kind: ClassVar[str] = "incident"
    changes: tuple[str, ...] = ("opened",)
    debounce: float = DEFAULT_DEBOUNCE
    where: str = ""

    def __post_init__(self) -> None:
        bad = [c for c in self.changes if c not in INCIDENT_CHANGES]
        if bad or not self.changes:
            raise ConfigError(f"incident trigger: {bad[0] if bad else 'nothing'!r} is not one of "
                              f"{', '.join(INCIDENT_CHANGES)}", where=self.where or None)

    @property
    def id(self) -> str:
        return f"incident {','.join(self.changes)}"

    def describe(self) -> str:
        return f"an incident {' or '.join(self.changes)}"


@dataclass(frozen=True, kw_only=True)
class Manual:
    """Only ``weir scenario run NAME`` starts it (any scenario can be run so)."""

    kind: ClassVar[str] = "manual"
    where: str = ""

    @property
    def id(self) -> str:
        return "manual"

    def describe(self) -> str:
        return "by hand"


Trigger = Cron | Landed | Published | IncidentChange | Manual


def cron(schedule: str, *, timezone: str = "UTC", where: str = "") -> Cron:
    """Fire at the times of ``schedule`` in ``timezone``. Times missed while no daemon ran
    coalesce into one tick; daylight saving time follows the policy in docs/scenarios.md."""
    return Cron(schedule=schedule, timezone=timezone, where=where)


def landed(*sources: str, together: bool = False, debounce: float | str = DEFAULT_DEBOUNCE, where: str = "") -> Landed:
    """Fire when files land (new or changed) for partitions of ``sources``."""
    what = "landed trigger"
    return Landed(sources=_names(sources, f"{what}: sources", where), together=bool(together),
                  debounce=_debounce(debounce, what, where), where=where)


def published(*assets: str, debounce: float | str = DEFAULT_DEBOUNCE, where: str = "") -> Published:
    """Fire when partitions of ``assets`` are published."""
    return Published(assets=_names(assets, "published trigger: assets", where),
                     debounce=_debounce(debounce, "published trigger", where), where=where)


def incident(*changes: str, debounce: float | str = DEFAULT_DEBOUNCE, where: str = "") -> IncidentChange:
    """Fire when an incident is ``opened`` (default), ``escalated`` or ``resolved``."""
    return IncidentChange(changes=tuple(changes) or ("opened",), debounce=_debounce(debounce, "incident trigger", where),
                          where=where)


def manual(where: str = "") -> Manual:
    return Manual(where=where)


CONSTRUCTORS = {"cron": cron, "landed": landed, "published": published, "incident": incident, "manual": manual}

__all__ = ["CONSTRUCTORS", "DEFAULT_DEBOUNCE", "INCIDENT_CHANGES", "Cron", "IncidentChange", "Landed", "Manual",
           "Published", "Trigger", "cron", "incident", "landed", "manual", "published"]
