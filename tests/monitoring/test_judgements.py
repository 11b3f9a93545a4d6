"""Each metric point keeps how the monitors judged it when it was evaluated: centre line,
limits and state, stored with its signals in one transaction."""

from __future__ import annotations

import pytest
from conftest import write_project
from test_monitors import daily_project, key, land_day

from weir.workspace import Workspace


def stored(ws: Workspace, name: str, column: str, metric: str) -> dict[str, dict]:
    with ws.store.read():
        rows = ws.store.metrics.series(ws.project.name, name, column=column, metric=metric)
    return {r["partition_key"]: r for r in rows}


def test_a_point_keeps_the_limits_and_state_it_was_judged_with(tmp_path):
    project = write_project(tmp_path / "p", {"assets.py": daily_project(with_asset=False)})
    days = 30
    for i in range(days):
        land_day(project, i, n=400 if i == days - 1 else 200)  # the newest day doubles its rows
    with Workspace(tmp_path / "ws", project) as ws:
        for i in range(days):
            ws.quality.ingest("raw", [key(i)])
        points = stored(ws, "raw", "", "row_count")
        shown = {p["partition_key"]: p for p in ws.monitors.metrics("raw", column="", metric="row_count")}
        alerts = {(s["partition_key"], s["metric"]) for s in ws.monitors.signals("raw", alerts_only=True)}
    first, newest = points[key(0)], points[key(days - 1)]
    assert first["state"] == "warming up" and first["center"] is None
    assert newest["state"] == "alert" and (key(days - 1), "row_count") in alerts
    assert newest["center"] == pytest.approx(200) and newest["upper"] < 400
    assert {points[key(i)]["state"] for i in range(20, days - 1)} == {"in control"}
    # what the views show for the newest point is what was stored when it was judged
    assert shown[key(days - 1)]["center"] == pytest.approx(newest["center"])
    assert shown[key(days - 1)]["upper"] == pytest.approx(newest["upper"])


def test_muted_series_are_stored_as_muted(tmp_path):
    project = write_project(tmp_path / "p", {"assets.py": daily_project(with_asset=False)})
    for i in range(3):
        land_day(project, i)
    with Workspace(tmp_path / "ws", project) as ws:
        ws.quality.ingest("raw", [key(i) for i in range(3)])
        p99 = stored(ws, "raw", "value", "p99")  # tails are measured, not monitored, by default
    assert {r["state"] for r in p99.values()} == {"muted"}


def test_an_ewma_signal_is_shown_as_the_warning_it_was_stored_as(tmp_path):
    """On the classic chart, EWMA and CUSUM warn unless a setting names their method: a
    sustained small shift of the mean (2.5 standard errors, under the 5σ alert limit) makes them
    signal, and every view shows a warning, never an alert."""
    classic = ', monitors=[weir.monitor(model="classic")]'
    project = write_project(tmp_path / "p", {"assets.py": daily_project(source=classic, with_asset=False)})
    days = 34
    for i in range(days):
        land_day(project, i, scale=1.0 if i < 30 else 1.018)
    with Workspace(tmp_path / "ws", project) as ws:
        for i in range(days):
            ws.quality.ingest("raw", [key(i)])
        points = ws.monitors.metrics("raw", column="value", metric="mean")
        states = {(r["column"], r["metric"]): r for r in ws.monitors.states("raw")}
        alerts = ws.monitors.signals("raw", alerts_only=True)
    late = [s for p in points if p["partition_key"] >= key(30) for s in p["signals"]]
    assert any(s["method"] in ("ewma", "cusum") for s in late), late
    assert {s["severity"] for s in late} == {"warn"}
    assert [a for a in alerts if a["metric"] == "mean" and a["column_name"] == "value"] == []
    flagged = [p for p in points if p["signals"]]
    assert flagged and {p["state"] for p in flagged} == {"warn"}
    assert states[("value", "mean")]["state"] in ("warn", "in control")  # EWMA restarts after it signals
