"""The world changed, seen twice: when an independent source (one that shares no lineage with
the incident's root) moves on the same day and nothing in the pipeline changed, the incident is
classified as the world changing, with that source as its witness; the same move alone on one
source, with the witness quiet, is not."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
from conftest import land_csv

from weir.workspace import RunRequest, Workspace

START = dt.date(2024, 1, 1)
PROJECT = '''
import weir

days = weir.daily(start="2024-01-01", end="2024-12-31")

trips = weir.source("trips", path="landing/trips/{partition}.csv", partitions=days)
weather = weir.source("weather", path="landing/weather/{partition}.csv", partitions=days)


@weir.asset(partitions=days)
def daily_trips(trips):
    return trips
'''


def key(i: int) -> str:
    return (START + dt.timedelta(days=i)).isoformat()


def land(project: Path, i: int, *, storm: bool = False, witness: bool = True) -> None:
    rng = np.random.default_rng(7 + i)
    n = 50 if storm else 200  # a storm: most trips cancelled
    land_csv(project, f"landing/trips/{key(i)}.csv",
             [{"id": j, "minutes": round(float(v), 2)} for j, v in enumerate(rng.normal(30, 5, n))])
    wind = rng.normal(80 if storm and witness else 15, 3, 24)
    land_csv(project, f"landing/weather/{key(i)}.csv",
             [{"hour": h, "wind": round(float(w), 2)} for h, w in enumerate(wind)])


def run(make_project, workspace_dir, *, witness: bool) -> dict:
    project = make_project({"assets.py": PROJECT})
    with Workspace(workspace_dir, project) as ws:
        for i in range(30):
            land(project, i, storm=i == 29, witness=witness)
            ws.quality.ingest("trips", [key(i)])
            ws.quality.ingest("weather", [key(i)])
            ws.runs.run(RunRequest(executor="inprocess", stale=True))
        ws.incidents.sync()
        trips = [r for r in ws.incidents.list() if r["root_asset"] == "trips"]
        assert len(trips) == 1, trips
        return ws.incidents.show(trips[0]["id"])["diagnosis"]


def test_an_independent_source_moving_the_same_day_makes_it_the_world(make_project, workspace_dir):
    diagnosis = run(make_project, workspace_dir, witness=True)
    assert diagnosis["classification"]["verdict"] == "the world changed", diagnosis["classification"]
    assert "independent source" in diagnosis["classification"]["why"]
    [witness] = diagnosis["independent"]
    assert witness.startswith(f"weather {key(29)}: ") and "wind" in witness


def test_the_same_drop_with_the_witness_quiet_is_rows_dropped(make_project, workspace_dir):
    diagnosis = run(make_project, workspace_dir, witness=False)
    assert "independent" not in diagnosis
    assert diagnosis["classification"]["verdict"] == "the pipeline broke"


def test_a_unit_change_and_values_lost_are_a_pipeline_that_broke():
    from weir.incidents.diagnosis import _classify

    def signal(column, metric, value, center, severity="alert"):
        return {"column_name": column, "metric": metric, "value": value, "center": center, "severity": severity,
                "kind": "spc", "rule": ""}

    fahrenheit_to_celsius = [signal("temp", "mean", 8.0, 47.0), signal("temp", "std", 5.1, 9.4, "warn"),
                             signal("dewp", "mean", 30.0, 31.0, "warn")]
    verdict = _classify(fahrenheit_to_celsius, [], None, [], [], None)
    assert verdict["verdict"] == "the pipeline broke" and "unit change" in verdict["why"] and "temp" in verdict["why"]
    lost = [signal("wind", "null_fraction", 0.4, 0.01), signal("temp", "mean", 40.0, 47.0)]
    verdict = _classify(lost, [], None, [], [], None)
    assert verdict["verdict"] == "the pipeline broke" and "wind is missing on 40% of rows" in verdict["why"]
    cold_snap = [signal("temp", "mean", 20.0, 47.0), signal("temp", "std", 9.0, 9.4, "warn"),
                 signal("dewp", "mean", 5.0, 31.0)]
    assert _classify(cold_snap, [], None, [], [], None)["verdict"] == "the world changed"
