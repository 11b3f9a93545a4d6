"""Trust on insights over real runs: a daily source ``raw`` (due three days after each day), an
asset ``clean`` with a blocking check, a daily ``summary``; ``daily_dashboard`` on ``summary``
(due 36 hours after each day) and ``weekly_review`` on ``clean``. Each status and the moves
between them, the partition an insight is trusted through, its history from the incident
events, and incident severity: computed from what is affected, and edited by hand."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import land_csv
from conftest import weir_cli as weir

from weir.errors import ConfigError
from weir.incidents.freshness import due_partition, lateness
from weir.incidents.service import Reason
from weir.incidents.severity import Impact, Severity, severity
from weir.model.partitions import daily, hourly, monthly, unpartitioned
from weir.project.loader import load_project
from weir.workspace import RunRequest, Workspace

START = dt.date(2024, 1, 1)
DAYS = 21
UTC = dt.UTC
PROJECT = '''
import weir

days = weir.daily(start="2024-01-01", end="2024-12-31")

raw = weir.source("raw", path="landing/{partition}.csv", partitions=days, fresh_within="3d")


@weir.asset(partitions=days, checks=[weir.checks.not_null("value", severity="block")])
def clean(raw):
    return raw


@weir.asset(partitions=days)
def summary(clean):
    return clean.groupby("category", as_index=False)["value"].mean()


daily_dashboard = weir.insight("daily_dashboard", depends_on=["summary"], owners=["ops@example.com"],
                               fresh_within="36h")
weekly_review = weir.insight("weekly_review", depends_on=["clean"], owners=["analysts@example.com"])
'''
TRUST_KEYS = {"insight", "status", "owners", "url", "incidents", "partitions", "because", "trusted_through", "inputs",
              "late", "history"}


def key(i: int) -> str:
    return (START + dt.timedelta(days=i)).isoformat()


def due(i: int, hours: float = 36) -> dt.datetime:
    """When day ``i`` is due ``hours`` after it ends."""
    return dt.datetime.combine(START + dt.timedelta(days=i + 1), dt.time(), UTC) + dt.timedelta(hours=hours)


def land(project: Path, i: int, *, scale: float = 1.0, nulls: bool = False) -> None:
    values = np.random.default_rng(100 + i).normal(100, 10, 120) * scale
    land_csv(project, f"landing/{key(i)}.csv", [
        {"id": j, "value": None if nulls and j < 5 else round(float(values[j]), 3), "category": "abc"[j % 3]}
        for j in range(120)])


def deliver(ws: Workspace, project: Path, days: range, faults: dict[int, dict] | None = None) -> None:
    """Land and build ``days`` one at a time; ``faults``: day -> kwargs of ``land``."""
    for i in days:
        land(project, i, **(faults or {}).get(i, {}))
        ws.quality.ingest("raw", [key(i)])
        ws.pump()
        ws.runs.run(RunRequest(executor="inprocess", stale=True))
        ws.pump()


def status(ws: Workspace, now: dt.datetime) -> dict[str, str]:
    return {r["insight"]: r["status"] for r in ws.incidents.trust(now=now)}


@pytest.fixture
def built(make_project, workspace_dir):
    """DAYS clean days delivered and built, no incident."""
    project = make_project({"assets.py": PROJECT})
    with Workspace(workspace_dir, project) as ws:
        deliver(ws, project, range(DAYS))
    return project, workspace_dir


# -- declaring a deadline ---------------------------------------------------------------------

@pytest.mark.parametrize("line", ['daily_dashboard = weir.insight("daily_dashboard", depends_on=["summary"], '
                                  'fresh_within="36 hours")',
                                  'daily_dashboard = weir.insight("daily_dashboard", depends_on=["summary"], fresh_within="0h")'])
def test_a_fresh_within_that_is_not_a_duration_stops_the_load_naming_the_insight(make_project, workspace_dir, line):
    text = PROJECT.split("daily_dashboard =")[0] + line + "\n"
    project = make_project({"assets.py": text})
    with pytest.raises(ConfigError, match=r"insight 'daily_dashboard': fresh_within=.* must be a duration like 90m"):
        load_project(project)
    out = weir(workspace_dir, project, "trust", expect=2)
    assert "assets.py" in out.stderr and "insight 'daily_dashboard': fresh_within" in out.stderr


def test_a_source_fresh_within_is_validated_too(make_project):
    project = make_project({"assets.py": PROJECT.replace('fresh_within="3d"', 'fresh_within="soon"')})
    with pytest.raises(ConfigError, match="source 'raw': fresh_within='soon' must be a duration"):
        load_project(project)


def test_the_partition_due_is_the_newest_whose_window_ended_the_deadline_ago():
    days = daily(start="2024-01-01", end="2024-12-31")
    within = dt.timedelta(hours=36)
    assert due_partition(days, within, dt.datetime(2024, 2, 12, 12, tzinfo=UTC)) == (
        "2024-02-10", dt.datetime(2024, 2, 12, 12, tzinfo=UTC))
    assert due_partition(days, within, dt.datetime(2024, 2, 12, 11, 59, tzinfo=UTC))[0] == "2024-02-09"
    assert due_partition(days, within, dt.datetime(2024, 1, 2, tzinfo=UTC)) is None  # nothing due before the range
    assert due_partition(days, within, dt.datetime(2026, 1, 1, tzinfo=UTC))[0] == "2024-12-31"  # nor after it
    hours = hourly(start="2024-01-01T00", end="2024-12-31T23")
    assert due_partition(hours, dt.timedelta(hours=2), dt.datetime(2024, 2, 12, 13, tzinfo=UTC))[0] == "2024-02-12T10"
    months = monthly(start="2024-01", end="2024-12", tz="America/New_York")
    late = lateness("report", months, dt.timedelta(days=2), dt.datetime(2024, 3, 5, tzinfo=UTC), {"2024-01": 0.0})
    assert late is not None and late.line() == "no report partition newer than 2024-01; expected 2024-02 by 2024-03-03 00:00 EST"
    now = dt.datetime(2024, 2, 12, 13, tzinfo=UTC)
    assert lateness("lookup", unpartitioned(), dt.timedelta(hours=2), now, {"": now.timestamp() - 3600}) is None
    stale = lateness("lookup", unpartitioned(), dt.timedelta(hours=2), now, {"": now.timestamp() - 3 * 3600})
    assert stale is not None and stale.line() == "lookup last published 2024-02-12 10:00 UTC; due again by 2024-02-12 12:00 UTC"


# -- statuses on real runs --------------------------------------------------------------------

def test_an_insight_goes_stale_when_data_misses_its_deadline_and_trusted_when_it_lands(built):
    project, home = built
    with Workspace(home, project) as ws:
        assert status(ws, due(DAYS - 1)) == {"daily_dashboard": "trusted", "weekly_review": "trusted"}
        [late] = ws.incidents.trust("daily_dashboard", now=due(DAYS))  # the dashboard's own deadline
        assert late["status"] == "stale" and late["incidents"] == []
        assert late["because"] == [f"no summary partition newer than {key(DAYS - 1)}; expected {key(DAYS)} by "
                                   f"{key(DAYS + 2)} 12:00 UTC"]
        assert late["late"] == [{"asset": "summary", "newest": key(DAYS - 1), "expected": key(DAYS),
                                 "due": f"{key(DAYS + 2)}T12:00:00+00:00", "because": late["because"][0]}]
        assert ws.incidents.trust("weekly_review", now=due(DAYS))[0]["status"] == "trusted"  # raw is due later
        rows = {r["insight"]: r for r in ws.incidents.trust(now=due(DAYS, hours=72))}  # raw's deadline: 3 days
        assert rows["weekly_review"]["status"] == "stale"
        assert rows["weekly_review"]["because"] == [f"no raw partition newer than {key(DAYS - 1)}; expected {key(DAYS)} "
                                                    f"by {key(DAYS + 4)} 00:00 UTC"]
        assert [x["asset"] for x in rows["daily_dashboard"]["late"]] == ["summary", "raw"]
        deliver(ws, project, range(DAYS, DAYS + 1))
        assert status(ws, due(DAYS)) == {"daily_dashboard": "trusted", "weekly_review": "trusted"}


def test_broken_outranks_stale_which_outranks_suspect_and_because_lists_every_reason_worst_first(built):
    project, home = built
    with Workspace(home, project) as ws:
        deliver(ws, project, range(DAYS, DAYS + 1), {DAYS: {"scale": 60}})
        [anomaly] = ws.incidents.list()
        [suspect] = ws.incidents.trust("daily_dashboard", now=due(DAYS))
        assert (suspect["status"], suspect["incidents"]) == ("suspect", [anomaly["id"]])
        [stale] = ws.incidents.trust("daily_dashboard", now=due(DAYS + 1))
        assert stale["status"] == "stale"
        assert stale["because"][0].startswith(f"no summary partition newer than {key(DAYS)}")
        assert stale["because"][1] == f"incident {anomaly['id']}: {anomaly['title']}"
        deliver(ws, project, range(DAYS + 1, DAYS + 2), {DAYS + 1: {"nulls": True}})  # clean blocked: nothing new
        blocked = next(r for r in ws.incidents.list() if r["id"] != anomaly["id"])
        [broken] = ws.incidents.trust("daily_dashboard", now=due(DAYS + 1))
        assert broken["status"] == "broken"
        assert broken["because"][0] == f"incident {blocked['id']}: {blocked['title']}"
        assert broken["because"][1].startswith(f"no summary partition newer than {key(DAYS)}")
        assert broken["because"][2] == f"incident {anomaly['id']}: {anomaly['title']}"
        for row in ws.incidents.list("open"):
            ws.incidents.resolve(row["id"], Reason.EXPECTED)
        assert ws.incidents.trust("daily_dashboard", now=due(DAYS))[0]["status"] == "trusted"


def test_trusted_through_stops_before_the_first_partition_an_open_incident_touches(built):
    project, home = built
    with Workspace(home, project) as ws:
        [row] = ws.incidents.trust("daily_dashboard", now=due(DAYS - 1))
        assert row["trusted_through"] == key(DAYS - 1)
        assert row["inputs"] == [{"asset": "summary", "newest": key(DAYS - 1), "trusted_through": key(DAYS - 1)}]
        deliver(ws, project, range(DAYS, DAYS + 3), {DAYS: {"scale": 60}})  # a bad day, then two good ones
        [anomaly] = ws.incidents.list()
        [row] = ws.incidents.trust("daily_dashboard", now=due(DAYS + 2))
        assert (row["status"], row["trusted_through"]) == ("suspect", key(DAYS - 1))
        assert row["inputs"][0]["newest"] == key(DAYS + 2)
        ws.incidents.resolve(anomaly["id"], Reason.EXPECTED)
        assert ws.incidents.trust("daily_dashboard", now=due(DAYS + 2))[0]["trusted_through"] == key(DAYS + 2)
        deliver(ws, project, range(DAYS + 3, DAYS + 4), {DAYS + 3: {"nulls": True}})  # blocked: never published
        [row] = ws.incidents.trust("daily_dashboard", now=due(DAYS + 2))
        assert (row["status"], row["trusted_through"], row["inputs"][0]["newest"]) == ("broken", key(DAYS + 2), key(DAYS + 2))


def test_history_replays_each_change_with_the_incident_that_made_it(built):
    project, home = built
    with Workspace(home, project) as ws:
        assert ws.incidents.trust("daily_dashboard", now=due(DAYS - 1))[0]["history"] == []
        deliver(ws, project, range(DAYS, DAYS + 1), {DAYS: {"scale": 60}})
        deliver(ws, project, range(DAYS + 1, DAYS + 2), {DAYS + 1: {"nulls": True}})
        deliver(ws, project, range(DAYS + 1, DAYS + 2))  # the good file: its incident resolves by itself
        [anomaly] = ws.incidents.list("open")
        blocked = next(r for r in ws.incidents.list() if r["id"] != anomaly["id"])
        ws.incidents.acknowledge(anomaly["id"])  # trust does not move
        ws.incidents.resolve(anomaly["id"], Reason.FIXED, note="delivered again")
        history = ws.incidents.trust("daily_dashboard", now=due(DAYS + 1))[0]["history"]
    assert [(h["status"], h["incident"]) for h in history] == [
        ("suspect", anomaly["id"]), ("broken", blocked["id"]), ("suspect", blocked["id"]), ("trusted", anomaly["id"])]
    assert history[0]["because"] == f"incident {anomaly['id']} opened: {anomaly['title']}"
    assert history[1]["because"].startswith(f"incident {blocked['id']} opened: clean {key(DAYS + 1)} blocked")
    assert [h["because"] for h in history[2:]] == [f"incident {blocked['id']} resolved: fixed",
                                                   f"incident {anomaly['id']} resolved: fixed"]
    assert all(dt.datetime.fromisoformat(h["at"]).tzinfo is not None for h in history)
    text = weir(home, project, "trust", "daily_dashboard").stdout
    assert "history:" in text and "suspect" in text and f"incident {anomaly['id']} resolved: fixed" in text


# -- severity -----------------------------------------------------------------------------------

HOUR = 3600.0


@pytest.mark.parametrize(("broken", "insights", "owners", "lasted", "level"), [
    (False, 0, 0, 0, "low"),  # an alert nobody reads
    (False, 1, 1, 0, "medium"),  # an alert under a dashboard
    (False, 3, 1, 0, "high"),  # ... under three
    (False, 1, 3, 30 * HOUR, "high"),  # suspect data never goes critical
    (True, 0, 0, 0, "medium"),  # a blocked partition nobody reads
    (True, 1, 1, 0, "high"),  # ... under a dashboard
    (True, 1, 1, 24 * HOUR, "critical"),  # ... for a day
    (True, 2, 3, 0, "critical"),  # ... whose owners are three
    (True, 1, 1, 23 * HOUR, "high"),
])
def test_severity_follows_broken_or_suspect_data_reach_and_duration(broken, insights, owners, lasted, level):
    assert severity(Impact(broken=broken, insights=insights, owners=owners, lasted=lasted)) == Severity(level)


def test_severity_is_graded_from_the_impact_and_an_incident_that_lasts_is_graded_up(built):
    project, home = built
    with Workspace(home, project) as ws:
        deliver(ws, project, range(DAYS, DAYS + 1), {DAYS: {"nulls": True}})
        [incident] = ws.incidents.list()
        assert incident["severity"] == "high" and incident["severity_by_hand"] is False  # blocked, 2 insights
        with ws.store.transaction():  # it opened two days ago
            ws.store.incidents.update(incident["id"], opened_at=incident["opened_at"] - 48 * HOUR)
        ws.incidents.sync()
        [later] = ws.incidents.list()
        graded = [e for e in ws.incidents.show(incident["id"])["timeline"] if e.data.get("change") == "severity"]
    assert later["severity"] == "critical"
    assert [(e.kind, e.data["was"], e.data["severity"], e.data["by"]) for e in graded] == [
        ("incident_updated", "high", "critical", "weir")]
    assert graded[0].data["why"].startswith("blocked or failed data under 2 insight(s), 2 owner(s), open 2.0 days")


def test_a_severity_set_by_hand_sticks_through_later_grading(built):
    project, home = built
    with Workspace(home, project) as ws:
        land(project, DAYS, scale=60, nulls=True)
        ws.quality.ingest("raw", [key(DAYS)])  # the delivery alerts: suspect data under two insights
        ws.pump()
        [incident] = ws.incidents.list()
        assert incident["severity"] == "medium"
        edited = ws.incidents.set_severity(incident["id"], Severity.LOW, note="a known vendor glitch")
        assert (edited.severity, edited.severity_by_hand, edited.note) == ("low", True, "a known vendor glitch")
        with ws.store.transaction():  # and it has lasted two days
            ws.store.incidents.update(incident["id"], opened_at=incident["opened_at"] - 48 * HOUR)
        ws.runs.run(RunRequest(executor="inprocess", stale=True))  # clean is blocked on it: broken data joins
        ws.pump()
        [after] = ws.incidents.list()
        timeline = ws.incidents.show(incident["id"])["timeline"]
    assert after["id"] == incident["id"] and "clean" in after["assets"]
    assert (after["severity"], after["severity_by_hand"]) == ("low", True)
    [edit] = [e for e in timeline if e.data.get("change") == "severity"]
    assert (edit.kind, edit.data["was"], edit.data["severity"], edit.data["by"], edit.data["note"]) == (
        "incident_updated", "medium", "low", "hand", "a known vendor glitch")


def test_the_cli_sets_a_severity_and_refuses_a_level_it_does_not_know(built):
    project, home = built
    land(project, DAYS, scale=60)
    weir(home, project, "ingest", "raw")
    out = weir(home, project, "incidents", "severity", "1", "critical", "--note", "the board meets today")
    assert out.stdout.strip() == "incident 1 severity critical (set by hand)"
    shown = json.loads(weir(home, project, "incidents", "show", "1", "--json").stdout)
    assert (shown["severity"], shown["severity_by_hand"], shown["note"]) == ("critical", True, "the board meets today")
    assert shown["timeline"][-1]["data"]["change"] == "severity"
    again = json.loads(weir(home, project, "incidents", "severity", "1", "high", "--json").stdout)
    assert (again["severity"], again["severity_by_hand"]) == ("high", True)
    assert "high (by hand)" in weir(home, project, "incidents").stdout
    bad = weir(home, project, "incidents", "severity", "1", "urgent", expect=2)
    assert "LEVEL 'urgent' is not one of low, medium, high, critical" in bad.stderr
    assert "no incident 9" in weir(home, project, "incidents", "severity", "9", "low", expect=2).stderr
    rows = json.loads(weir(home, project, "trust", "--json").stdout)
    assert [set(r) for r in rows] == [TRUST_KEYS, TRUST_KEYS]
    assert {r["insight"]: r["trusted_through"] for r in rows} == {"daily_dashboard": key(DAYS - 1),
                                                                  "weekly_review": key(DAYS - 1)}
    assert "trusted through" in weir(home, project, "trust").stdout
