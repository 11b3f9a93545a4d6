"""No new normal while an incident holds the series: a fault that lasts several days alerts on
every one of them against the last good history, and the day after it is judged against that
history too; once the incident is resolved (or with nothing held) the level may become the new
normal as before. Real runs of a daily source ``raw`` and an asset ``clean`` reading it, plus
the forecast chart fed held points directly."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from conftest import land_csv

from weir.errors import ConfigError
from weir.incidents.service import Reason
from weir.monitoring import forecast
from weir.workspace import RunRequest, Workspace

START = dt.date(2024, 1, 1)
DAYS = 40
FAULT = range(DAYS, DAYS + 4)  # a library upgrade triples the values for four days
AFTER = DAYS + 4
PROJECT = '''
import weir

days = weir.daily(start="2024-01-01", end="2024-12-31")

raw = weir.source("raw", path="landing/{partition}.csv", partitions=days)


@weir.asset(partitions=days)
def clean(raw):
    return raw
'''


def key(i: int) -> str:
    return (START + dt.timedelta(days=i)).isoformat()


def land(project: Path, i: int, *, scale: float = 1.0) -> None:
    rng = np.random.default_rng(100 + i)
    values = rng.normal(100, 10, 120) * scale
    rows = [{"id": j, "value": round(float(values[j]), 3), "category": "abc"[j % 3]} for j in range(120)]
    land_csv(project, f"landing/{key(i)}.csv", rows)


def deliver(ws: Workspace, project: Path, days: range, *, scale: float = 1.0) -> None:
    """Land and build ``days`` one at a time, as production does, and take in the incidents
    after each day (a run does not), so an alert holds its partition before the next day."""
    for i in days:
        land(project, i, scale=scale)
        ws.quality.ingest("raw", [key(i)])
        ws.runs.run(RunRequest(executor="inprocess", stale=True))
        ws.incidents.sync()


def value_mean(ws: Workspace, asset: str, i: int) -> list[dict]:
    return [s for s in ws.monitors.signals(asset, key(i)) if (s["column_name"], s["metric"]) == ("value", "mean")]


def center(ws: Workspace, asset: str, i: int) -> float:
    """The expected value of the value mean the day ``i`` was judged against."""
    [point] = ws.monitors.metrics(asset, column="value", metric="mean", first=key(i), last=key(i))
    return point["center"]


def alerts(signals: list[dict]) -> list[str]:
    return [s["rule"] for s in signals if s["severity"] == "alert"]


@pytest.fixture
def history(make_project, workspace_dir):
    """DAYS clean days, landed and built, and no incident."""
    project = make_project({"assets.py": PROJECT})
    with Workspace(workspace_dir, project) as ws:
        for i in range(DAYS):
            land(project, i)
        ws.quality.ingest("raw", [key(i) for i in range(DAYS)])
        ws.runs.run(RunRequest(executor="inprocess"))
        assert ws.incidents.list() == []
    return project, workspace_dir


def test_a_fault_an_open_incident_holds_alerts_every_day_and_never_becomes_the_new_normal(history):
    project, home = history
    with Workspace(home, project) as ws:
        deliver(ws, project, FAULT, scale=3)
        assert ws.incidents.list()
        assert all(r["state"] == "open" for r in ws.incidents.list())
        deliver(ws, project, range(AFTER, AFTER + 1))
        for asset in ("raw", "clean"):
            for i in FAULT:
                found = value_mean(ws, asset, i)
                assert alerts(found) == ["outside the expected range"], (asset, key(i), found)
                assert not any("new normal" in s["rule"] or "still out of range" in s["rule"] for s in found)
            assert alerts(value_mean(ws, asset, AFTER)) == []
            assert abs(center(ws, asset, AFTER) - 100) < 5  # judged against the days before the fault
        assert ws.monitors.signals("clean", key(AFTER), alerts_only=True) == []


def test_with_nothing_held_the_same_fault_becomes_the_new_normal(history):
    project, home = history
    with Workspace(home, project) as ws:
        deliver(ws, project, FAULT[:1], scale=3)
        for incident in ws.incidents.list():
            ws.incidents.resolve(incident["id"], Reason.EXPECTED)
        deliver(ws, project, FAULT[1:], scale=3)
        found = {i: value_mean(ws, "clean", i) for i in FAULT}
    assert alerts(found[FAULT[0]]) == ["outside the expected range"]
    assert [alerts(found[i]) for i in FAULT[1:]] == [[], [], []]
    assert any("new normal" in s["rule"] for s in found[FAULT[2]])


def test_once_the_incident_is_resolved_the_held_fault_may_become_the_new_normal(history):
    project, home = history
    with Workspace(home, project) as ws:
        deliver(ws, project, FAULT, scale=3)
        for incident in ws.incidents.list():
            ws.incidents.resolve(incident["id"], Reason.EXPECTED)  # the world changed: the level stays
        deliver(ws, project, range(AFTER, AFTER + 1), scale=3)
        assert alerts(value_mean(ws, "clean", AFTER)) == []
        assert abs(center(ws, "clean", AFTER) - 300) < 15  # the series was redrawn: the released days are the new normal
        assert ws.incidents.list(sync=False) and all(r["state"] == "resolved" for r in ws.incidents.list())


def test_an_accepted_level_is_the_new_normal_while_the_incident_still_holds_it(history):
    project, home = history
    with Workspace(home, project) as ws:
        deliver(ws, project, FAULT, scale=3)
        ws.monitors.accept("clean.value.mean", key(FAULT[0]), note="the upgrade stays")
        deliver(ws, project, range(AFTER, AFTER + 1), scale=3)
        assert all(r["state"] == "open" for r in ws.incidents.list())
        assert alerts(value_mean(ws, "clean", AFTER)) == []
        assert abs(center(ws, "clean", AFTER) - 300) < 15
        assert alerts(value_mean(ws, "raw", AFTER)) == ["outside the expected range"]  # not accepted there


# -- the chart alone ---------------------------------------------------------------------------------


def in_control(n: int, seed: int = 7) -> list[float]:
    return list(np.random.default_rng(seed).normal(100, 1, n))


def test_held_shifted_points_each_alert_and_the_next_point_is_judged_against_the_level_before():
    values = in_control(60) + list(np.random.default_rng(8).normal(130, 1, 5)) + [100.0]
    rows = forecast.chart(values, held=[False] * 60 + [True] * 5 + [False])
    assert [[(s.method, s.rule, s.severity) for s in r["signals"]] for r in rows[60:65]] == [
        [("shewhart", "outside the expected range", "alert")]] * 5
    assert abs(rows[65]["center"] - 100) < 1.5 and rows[65]["signals"] == []
    # the same points unheld: one alert, then the new normal
    unheld = forecast.chart(values)
    assert [s.rule for r in unheld[60:65] for s in r["signals"] if s.severity == "alert"] == ["outside the expected range"]
    assert any("new normal" in s.rule for r in unheld[60:65] for s in r["signals"])


def test_a_held_point_leaves_the_chart_state_as_it_was():
    """Not in the baseline, the errors, a run or the CUSUM: in range or out, low or high."""
    chart = forecast.Chart(forecast.ForecastConfig(), 7)
    for t, x in enumerate(in_control(80)):
        chart.step(t, x)
    before = chart.to_json()
    for t, x in enumerate([100.5, 160.0, 40.0, 101.0], start=80):
        row = chart.step(t, x, held=True)
        assert row["center"] is not None
        after = chart.to_json()
        assert {k: v for k, v in after.items() if k != "last"} == {k: v for k, v in before.items() if k != "last"}


def test_a_chart_rejects_a_held_mask_of_another_length():
    with pytest.raises(ConfigError, match="held has 2 entries for 3 points"):
        forecast.chart([1.0, 2.0, 3.0], held=[True, False])


def test_a_saved_chart_state_resumes_only_while_the_same_partitions_up_to_its_last_are_held():
    from weir.monitoring.evaluator import _fingerprint

    def drawn(held: set[str]):
        return _fingerprint(forecast.ForecastConfig(), 7, [], set(), held)

    saved = drawn({key(3)})(key(5))
    assert drawn({key(3), key(6)})(key(5)) == saved  # held after the state's last point: it resumes
    assert drawn({key(3), key(5)})(key(5)) != saved  # held at or before it: the series is redrawn
    assert drawn(set())(key(5)) != saved  # released: redrawn too
    assert drawn(set())(key(5)) == drawn({key(9)})(key(5))
