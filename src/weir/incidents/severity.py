"""How bad an incident is, from what it affects, in points:

- the data: **2** when it holds blocked or failed data (a partition or delivery nobody may read),
  **1** when the data is only suspect (a monitor alert, a schema change);
- **+1** when it reaches at least one insight (someone reads it);
- **+1** when it reaches ``WIDE`` insights or more, or their owners number ``WIDE`` or more;
- **+1** when it has lasted ``LONG`` or more since it opened.

1 is ``low``, 2 ``medium``, 3 ``high``, 4 and more ``critical``; suspect data tops out at
``high``: critical is kept for broken data that people rely on. So an alert on data no insight
reads is low, one under a dashboard medium; a blocked partition under a dashboard is high, and
critical once it has lasted a day or reaches three dashboards.

An operator may set the level by hand (``weir incidents severity``); the service then leaves it
as set. No I/O here."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from weir.incidents.grouping import BROKEN

WIDE = 3  # insights, or their owners, from which an incident is wide
LONG = 24 * 3600.0  # seconds open from which an incident has lasted long


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


LEVELS = tuple(Severity)


@dataclass(frozen=True, kw_only=True)
class Impact:
    """What an incident affects."""

    broken: bool  # blocked or failed data (else suspect data)
    insights: int  # insights resting on any of its members
    owners: int  # their distinct owners
    lasted: float  # seconds since it opened

    def describe(self) -> str:
        """One line: what the level was computed from."""
        data = "blocked or failed data" if self.broken else "suspect data"
        reach = f"{self.insights} insight(s), {self.owners} owner(s)" if self.insights else "no insight"
        return f"{data} under {reach}, open {_span(self.lasted)}"


def severity(impact: Impact) -> Severity:
    """The level ``impact`` calls for (the rule in the module's docstring)."""
    points = 2 if impact.broken else 1
    points += impact.insights > 0
    points += impact.insights >= WIDE or impact.owners >= WIDE
    points += impact.lasted >= LONG
    if not impact.broken:
        points = min(points, 3)
    return LEVELS[min(points, len(LEVELS)) - 1]


class Trigger(Protocol):
    """What the impact reads of a member (or of the event about to open an incident)."""

    @property
    def kind(self) -> str: ...

    @property
    def asset(self) -> str | None: ...


def assess(members: Iterable[Trigger], insights: Iterable[Any], downstream: Callable[[str], set[str]],
           lasted: float) -> Impact:
    """The impact of an incident whose members are ``members`` (``{kind, asset}``);
    ``downstream(asset)`` is every asset that reads ``asset``, directly or through others."""
    members = list(members)
    reached: set[str] = set()
    for m in members:
        if m.asset:
            reached |= {m.asset} | downstream(m.asset)
    hit = [i for i in insights if reached & set(i.depends_on)]
    return Impact(broken=any(str(m.kind) in BROKEN for m in members), insights=len(hit),
                  owners=len({o for i in hit for o in i.owners}), lasted=max(0.0, lasted))


def _span(seconds: float) -> str:
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} hours"
    return f"{int(seconds // 60)} minutes"


def rank(level: str) -> int:
    """A level's place in ``LEVELS`` (an unknown one counts as medium)."""
    return LEVELS.index(Severity(level)) if level in LEVELS else 1
