"""Faults that last several days, for the multi-day part of the detection benchmark: which fault
runs on which days (a seeded plan), what it does to each day's file or to the project's code, and
the project that receives them: the data set's daily source and asset, a one-row daily ``report``
built from the asset, and an insight ``dashboard`` on the report.

- **data faults**: every kind of ``detection_inject``, held for 1, 3 or 7 consecutive days with
  the same choice every day (the same column nulled, converted, shifted or stuck at the same
  value; the same category gone; the same schema change; the last good file delivered again);
- **code faults**: the asset's code edited before the first faulty day and reverted after the
  last (``code_filter``: a filter left in, which drops rows; ``code_unit``: a unit slip on one
  column)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from detection_inject import KINDS, WARMUP, inject
from detection_sets import DataSet, Frames

DURATIONS = (1, 3, 7)
QUICK_DURATIONS = (1, 3)
CODE_KINDS = ("code_filter", "code_unit")
MIN_GAP = 4  # clean days before each fault (after the previous one was fixed)
REPORT, INSIGHT = "report", "dashboard"


@dataclass(frozen=True, kw_only=True)
class Fault:
    """One fault: its kind, the consecutive days it lasts, and what it did (``note``)."""

    index: int
    kind: str
    days: tuple[str, ...]
    note: str = ""

    @property
    def family(self) -> str:
        return "code" if self.kind in CODE_KINDS else "library" if self.kind == "library" else "data"

    @property
    def duration(self) -> int:
        return len(self.days)

    def to_json(self) -> dict:
        return {"index": self.index, "kind": self.kind, "family": self.family, "duration": self.duration,
                "first": self.days[0], "last": self.days[-1], "note": self.note}


@dataclass(frozen=True, kw_only=True)
class Stage:
    """What a data set's multi-day project adds to its source and asset: the report above the
    asset (one row a day) and the code faults of the asset (kind -> text replaced, by, what)."""

    report_code: str
    code_faults: dict[str, tuple[str, str, str]]


STAGES = {
    "flights": Stage(
        report_code='''
report = weir.sql_asset(
    "report",
    """
    SELECT sum(flights) AS flights, sum(departed) AS departed, sum(mean_dep_delay * departed) / sum(departed)
           AS mean_dep_delay, max(mean_arr_delay) AS worst_carrier_arr_delay, count(*) AS carriers
    FROM carrier_daily
    """,
    partitions=days,
    description="The day in one row",
)
''',
        code_faults={
            "code_filter": ("    FROM flights_landing\n", "    FROM flights_landing\n    WHERE origin = 'JFK'\n",
                            "a filter left in: JFK departures only"),
            "code_unit": ("avg(dep_delay) AS mean_dep_delay", "avg(dep_delay) * 60 AS mean_dep_delay",
                          "mean_dep_delay in seconds (x60)"),
        },
    ),
    "weather": Stage(
        report_code='''
report = weir.sql_asset(
    "report",
    """
    SELECT avg(temp_mean) AS temp_mean, max(temp_max) AS temp_max, avg(wind_speed_mean) AS wind_speed_mean,
           sum(precip_total) AS precip_total, sum(hours) AS hours, count(*) AS airports
    FROM weather_daily
    """,
    partitions=days,
    description="The day in one row",
)
''',
        code_faults={
            "code_filter": ("    FROM weather_landing\n", "    FROM weather_landing\n    WHERE origin = 'JFK'\n",
                            "a filter left in: JFK only"),
            "code_unit": ("avg(temp) AS temp_mean", "(avg(temp) - 32) * 5 / 9 AS temp_mean",
                          "temp_mean in °C"),
        },
    ),
    "electricity": Stage(
        report_code='''
report = weir.sql_asset(
    "report",
    """
    SELECT sum(readings) AS readings, avg(demand_mean) AS demand_mean, max(demand_peak) AS demand_peak,
           avg(temperature_mean) AS temperature_mean, count(*) AS bands
    FROM demand_bands
    """,
    partitions=days,
    description="The day in one row",
)
''',
        code_faults={
            "code_filter": ("    df = elec_landing.assign(", "    df = elec_landing.iloc[: len(elec_landing) // 2].assign(",
                            "the first half of the day only"),
            "code_unit": ("    return df.groupby(", "    df[\"Demand\"] = df[\"Demand\"] * 1000\n    return df.groupby(",
                          "Demand in MW (x1000)"),
        },
    ),
}

INSIGHT_CODE = f'\n{INSIGHT} = weir.insight("{INSIGHT}", depends_on=["{REPORT}"], owners=["ops@example.com"])\n'


def assets_code(ds: DataSet, fault: str | None = None) -> str:
    """The project's ``assets.py``: good, or with the code fault ``fault`` in the asset."""
    asset = ds.asset_code
    if fault is not None:
        old, new, _ = STAGES[ds.name].code_faults[fault]
        if old not in asset:
            raise ValueError(f"{ds.name}: the code fault {fault} finds nothing to edit")
        asset = asset.replace(old, new, 1)
    return ds.source_code + asset + STAGES[ds.name].report_code + INSIGHT_CODE


def plan_faults(days: list[str], kinds: tuple[str, ...], durations: tuple[int, ...],
                rng: np.random.Generator) -> list[Fault]:
    """Every kind at every duration, in a random order, each after at least ``MIN_GAP`` clean days
    (the first after the warm-up); the days left over are spread at random between them."""
    order = [(k, n) for k in kinds for n in durations]
    rng.shuffle(order)
    free = len(days) - WARMUP - sum(n for _, n in order) - MIN_GAP * len(order)
    if free < 0:
        raise ValueError(f"{len(order)} faults of {', '.join(map(str, durations))} days do not fit in {len(days)} days")
    cuts = np.sort(rng.integers(0, free + 1, size=len(order)))
    extra = np.diff(np.concatenate([[0], cuts]))
    faults, i = [], WARMUP
    for index, ((kind, n), more) in enumerate(zip(order, extra, strict=True)):
        i += MIN_GAP + int(more)
        faults.append(Fault(index=index, kind=kind, days=tuple(days[i : i + n])))
        i += n
    return faults


def fault_rngs(seed: int, salt: int, index: int) -> tuple[np.random.Generator, np.random.Generator]:
    """The same two generators for every day of a fault: the same choices every day."""
    return np.random.default_rng([seed, salt, 3, index]), np.random.default_rng([seed, salt, 4, index])


def fault_files(ds: DataSet, fault: Fault, frames: Frames, days: list[str], seed: int) -> tuple[Frames, str]:
    """The files of a data fault's days (the same choice every day) and what was done."""
    before = frames[days[days.index(fault.days[0]) - 1]]  # the last good file
    out: Frames = {}
    first_clean = first_bad = None
    note = ""
    for d in fault.days:
        main, later = fault_rngs(seed, ds.salt, fault.index)
        bad, what = inject(ds, fault.kind, frames[d], before, main, later)
        if first_bad is None:
            first_clean, first_bad, note = frames[d], bad, what
        else:
            bad = _as_first(ds, fault.kind, frames[d], bad, first_clean, first_bad)
        out[d] = bad
    return out, note + (f", {fault.duration} days running" if fault.duration > 1 else "")


def _as_first(ds: DataSet, kind: str, clean: pd.DataFrame, bad: pd.DataFrame, first_clean: pd.DataFrame,
              first_bad: pd.DataFrame) -> pd.DataFrame:
    """A later day of a fault made to repeat the first day's choice where a kind draws it from
    the day's own data: the same category gone, the sensor stuck at the same value."""
    if kind == "category_vanish" and ds.category is not None:
        gone = set(first_clean[ds.category].dropna()) - set(first_bad[ds.category].dropna())
        return clean[~clean[ds.category].isin(gone)]
    if kind == "stuck_sensor":
        stuck = [c for c in ds.stuck_columns if first_bad[c].nunique(dropna=False) == 1
                 and not first_bad[c].equals(first_clean[c])]
        if stuck:
            bad = bad.copy()
            bad[stuck[0]] = first_bad[stuck[0]].iloc[0]
    return bad


def code_note(ds: DataSet, kind: str) -> str:
    return STAGES[ds.name].code_faults[kind][2]


__all__ = ["CODE_KINDS", "DURATIONS", "INSIGHT", "KINDS", "QUICK_DURATIONS", "REPORT", "Fault", "assets_code",
           "code_note", "fault_files", "plan_faults"]
