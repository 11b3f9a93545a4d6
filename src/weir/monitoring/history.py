"""The stored history of a monitored asset or source: its metric series by partition key, and
which partitions are kept out of baselines (quarantined, alerted before, held by an incident),
resolved as false alarms or where an operator accepted a new normal; how its keys fall on the
calendar, and the smallest move of a column's mean worth an alert. No I/O here."""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass, field

from weir.model.partitions import Daily, Hourly, PartitionScheme
from weir.monitoring.policy import MEAN_EFFECT


@dataclass(kw_only=True)
class History:
    """The stored series of one asset or source, and the partitions its judgement treats apart."""

    order: list[str]  # partition keys, oldest first
    series: dict[tuple[str, str], dict[str, float | None]]  # (column, metric) -> key -> value
    skip: set[str]  # keys kept out of baselines: quarantined, alerted before or held
    quarantined: set[str] = field(default_factory=set)  # keys whose data was blocked
    normal: set[str] = field(default_factory=set)  # keys whose alerts were resolved as false alarms
    # operators' accepted new normals: (column or None for all, metric or None for all, first key)
    resets: list[tuple[str | None, str | None, str]] = field(default_factory=list)
    held: set[str] = field(default_factory=set)  # keys an open or acknowledged incident holds

    def held_in(self, column: str, metric: str) -> set[str]:
        """The held keys of one series: those before the series' latest accepted new normal (an
        operator's accept makes the level normal, held or not)."""
        accepted = [first for col, m, first in self.resets if col in (None, column) and m in (None, metric)]
        return {k for k in self.held if k < max(accepted)} if accepted else set(self.held)

    def resets_in(self, column: str, metric: str, order: list[str]) -> list[int]:
        """Positions in ``order`` where an accepted new normal of the series starts."""
        out = set()
        for col, m, first in self.resets:
            if col in (None, column) and m in (None, metric):
                i = bisect.bisect_left(order, first)
                if 0 < i < len(order):
                    out.add(i)
        return sorted(out)


def load_series(points: list[dict]) -> tuple[list[str], dict[tuple[str, str], dict[str, float | None]], set[str]]:
    """All partition keys (ordered), values per (column, metric) and the quarantined keys."""
    keys: set[str] = set()
    quarantined: set[str] = set()
    series: dict[tuple[str, str], dict[str, float | None]] = {}
    for p in points:
        keys.add(p["partition_key"])
        if p["quarantined"]:
            quarantined.add(p["partition_key"])
        series.setdefault((p["column_name"], p["metric"]), {})[p["partition_key"]] = p["value"]
    return sorted(keys), series, quarantined


def calendar_positions(scheme: PartitionScheme, order: list[str]) -> list[int]:
    """Each key's step on the scheme's calendar (days for daily partitions, hours for hourly):
    a day with no data does not move the weekdays of the days after it. Other schemes, and keys
    that do not parse, count by position in ``order``."""
    try:
        if isinstance(scheme, Daily):
            return [dt.date.fromisoformat(k[:10]).toordinal() for k in order]
        if isinstance(scheme, Hourly):
            out = [dt.datetime.strptime(k[:13], scheme.key_format) for k in order]
            return [t.date().toordinal() * 24 + t.hour for t in out]
    except ValueError:
        pass
    return list(range(len(order)))


def materiality(history: History, column: str) -> dict[str, float]:
    """Per partition, the smallest move of the column's mean worth an alert: ``MEAN_EFFECT``
    times its usual standard deviation within a partition (the median over the 28 partitions
    before it, so a replay and the day's judgement agree; blocked and held partitions left out)."""
    spreads = history.series.get((column, "std"), {})
    left_out = history.quarantined | history.held_in(column, "mean")
    out: dict[str, float] = {}
    window: list[float] = []
    for key in history.order:
        if window:
            ordered = sorted(window)
            out[key] = MEAN_EFFECT * ordered[len(ordered) // 2]
        value = spreads.get(key)
        if value is not None and key not in left_out:
            window = [*window[-27:], value]
    return out
