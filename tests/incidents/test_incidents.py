"""Incidents on real runs: a daily source ``raw``, an asset ``clean`` reading it and a daily
``summary`` reading ``clean``. One fault is one incident however many series and assets alert;
two unrelated faults are two; a blocked partition opens a high-severity one; acknowledging,
resolving and a recurrence reopening the same incident; each trigger is taken once."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import land_csv, restored, write_project
from conftest import weir_cli as weir

from weir.errors import UnknownObjectError, UsageError
from weir.incidents.service import Reason
from weir.workspace import RunRequest, Workspace

START = dt.date(2024, 1, 1)
DAYS = 40
PROJECT = '''
import weir

days = weir.daily(start="2024-01-01", end="2024-12-31")

raw = weir.source("raw", path="landing/{partition}.csv", partitions=days)


@weir.asset(partitions=days, checks=[weir.checks.not_null("value", severity="block")])
def clean(raw):
    return raw


@weir.asset(partitions=days)
def summary(clean):
    return clean.groupby("category", as_index=False)["value"].mean()


daily_dashboard = weir.insight("daily_dashboard", depends_on=["summary"], owners=["ops@example.com"])
'''
INCIDENT_KEYS = {"id", "state", "severity", "severity_by_hand", "root_asset", "root_key", "root_partition", "title", "reason", "note", "opened_at",
                 "updated_at", "resolved_at", "reopened", "members", "assets"}


def key(i: int) -> str:
    return (START + dt.timedelta(days=i)).isoformat()


def land(project: Path, i: int, *, scale: float = 1.0, nulls: bool = False) -> None:
    rng = np.random.default_rng(100 + i)
    values = rng.normal(100, 10, 120) * scale
    rows = [{"id": j, "value": None if nulls and j < 5 else round(float(values[j]), 3), "category": "abc"[j % 3]}
            for j in range(120)]
    land_csv(project, f"landing/{key(i)}.csv", rows)


def deliver(ws: Workspace, project: Path, days: range, faults: dict[int, dict] | None = None) -> None:
    """Land and build ``days`` one at a time, as production does; ``faults``: day -> kwargs of ``land``."""
    for i in days:
        land(project, i, **(faults or {}).get(i, {}))
        ws.quality.ingest("raw", [key(i)])
        ws.pump()
        ws.runs.run(RunRequest(executor="inprocess", stale=True))
        ws.pump()


def _build_history(folder: Path) -> None:
    project = write_project(folder / "project-demo", {"assets.py": PROJECT})
    with Workspace(folder / "ws", project) as ws:
        deliver(ws, project, range(DAYS))
        assert ws.incidents.list() == []


@pytest.fixture
def history(tmp_path_factory, workspace_dir):
    """A project with DAYS clean days delivered, and no incident (built once, restored per test)."""
    folder = restored(tmp_path_factory, "incidents-history", _build_history)
    return folder / "project-demo", folder / "ws"


def test_one_fault_is_one_incident_across_the_source_and_every_asset_that_reads_it(history):
    project, home = history
    with Workspace(home, project) as ws:
        deliver(ws, project, range(DAYS, DAYS + 3))  # clean days first
        land(project, DAYS + 3, scale=60)  # one partition x60
        ws.quality.ingest("raw", [key(DAYS + 3)])
        ws.pump()
        ws.runs.run(RunRequest(executor="inprocess", stale=True))
        ws.pump()
        alerted = {s["asset"] for s in ws.monitors.signals(alerts_only=True)}
        [incident] = ws.incidents.list()
        detail = ws.incidents.show(incident["id"])
    assert {"raw", "clean"} <= alerted  # the fault shows on the source and on the asset
    assert (incident["root_asset"], incident["root_partition"]) == ("raw", key(DAYS + 3))
    assert incident["state"] == "open" and incident["severity"] == "medium"
    assert {m["asset"] for m in detail["member_list"]} >= {"raw", "clean"}
    joined = [m for m in detail["member_list"] if m["why"] != "opened it"]
    assert joined and all(m["why"].startswith(("the same partition", "reads raw")) for m in joined)
    assert detail["timeline"][0].kind == "incident_opened"


def test_two_unrelated_faults_are_two_incidents(history):
    project, home = history
    with Workspace(home, project) as ws:
        deliver(ws, project, range(DAYS, DAYS + 8), {DAYS + 1: {"scale": 60}, DAYS + 6: {"scale": 0.01}})
        rows = ws.incidents.list()
    assert sorted(r["root_partition"] for r in rows) == [key(DAYS + 1), key(DAYS + 6)]


def test_a_blocked_partition_opens_a_high_severity_incident_that_its_alerts_join(history):
    project, home = history
    with Workspace(home, project) as ws:
        deliver(ws, project, range(DAYS, DAYS + 1), {DAYS: {"nulls": True}})
        [incident] = ws.incidents.list()
        detail = ws.incidents.show(incident["id"])
    assert incident["severity"] == "high"
    assert "partition_blocked" in {m["kind"] for m in detail["member_list"]}
    assert incident["root_partition"] == key(DAYS)


def test_acknowledge_then_resolve_with_a_reason_and_a_recurrence_reopens(history):
    project, home = history
    with Workspace(home, project) as ws:
        deliver(ws, project, range(DAYS, DAYS + 1), {DAYS: {"scale": 60}})
        [incident] = ws.incidents.list()
        acked = ws.incidents.acknowledge(incident["id"], note="looking")
        assert acked.state == "acknowledged" and acked.note == "looking"
        done = ws.incidents.resolve(incident["id"], Reason.FIXED, note="re-delivered")
        assert (done.state, done.reason) == ("resolved", "fixed") and done.resolved_at
        with pytest.raises(UsageError, match="already resolved"):
            ws.incidents.resolve(incident["id"], Reason.FALSE_ALARM)
        with pytest.raises(UnknownObjectError, match="no incident 999"):
            ws.incidents.acknowledge(999)
        land(project, DAYS, scale=60)  # the same partition goes bad again: a new delivery
        (project / "landing" / f"{key(DAYS)}.csv").touch()
        ws.quality.ingest("raw", [key(DAYS)])
        ws.pump()
        [again] = ws.incidents.list()
        kinds = [e.data.get("change") or str(e.kind) for e in ws.incidents.show(again["id"])["timeline"]]
    assert again["id"] == incident["id"] and again["state"] == "open" and again["reopened"] == 1
    assert [k for k in kinds if k not in ("joined", "scope")] == ["incident_opened", "acknowledged", "incident_resolved",
                                                              "reopened"]


def test_each_trigger_is_taken_once_however_often_incidents_are_synced(history):
    project, home = history
    with Workspace(home, project) as ws:
        deliver(ws, project, range(DAYS, DAYS + 1), {DAYS: {"scale": 60}})
        first = ws.incidents.show(ws.incidents.list()[0]["id"])["member_list"]
        for _ in range(3):
            ws.incidents.sync()
        with Workspace(home, project) as other:  # another process's view of the same store
            other.incidents.sync()
        again = ws.incidents.show(ws.incidents.list()[0]["id"])["member_list"]
    assert again == first and len({m["event_id"] for m in again}) == len(again)


def test_the_cli_lists_shows_and_resolves_and_refuses_bad_input(history):
    project, home = history
    land(project, DAYS, scale=60)
    out = weir(home, project, "ingest", "raw")
    assert "incident 1 opened" in out.stderr
    rows = json.loads(weir(home, project, "incidents", "--json").stdout)
    assert [set(r) for r in rows] == [INCIDENT_KEYS] and rows[0]["state"] == "open"
    shown = json.loads(weir(home, project, "incidents", "show", "1", "--json").stdout)
    assert shown["member_list"] and shown["timeline"][0]["kind"] == "incident_opened"
    assert rows[0]["root_key"] == f"demo.{rows[0]['root_asset']}"
    assert all(m["key"] == f"demo.{m['asset']}" for m in shown["member_list"] if m["asset"])
    text = weir(home, project, "incidents", "show", "1").stdout
    assert "root: raw " + key(DAYS) in text and "opened it" in text
    bad = weir(home, project, "incidents", "resolve", "1", "--reason", "bogus", expect=2)
    assert "--reason 'bogus' is not one of fixed, expected, false-alarm" in bad.stderr
    assert weir(home, project, "incidents", "show", "7", expect=2).stderr.strip().endswith("no incident 7 in project 'demo'")
    assert "incident 1 resolved (false-alarm)" in weir(home, project, "incidents", "resolve", "1", "--reason",
                                                        "false-alarm").stdout
    assert json.loads(weir(home, project, "incidents", "--state", "open", "--json").stdout) == []


def test_a_blocked_day_delivered_again_and_rebuilt_clean_resolves_its_incident_by_itself(history):
    project, home = history
    with Workspace(home, project) as ws:
        deliver(ws, project, range(DAYS, DAYS + 1), {DAYS: {"nulls": True}})
        [incident] = ws.incidents.list()
        assert (incident["root_asset"], incident["state"]) == ("clean", "open")
        deliver(ws, project, range(DAYS, DAYS + 1))  # the good file arrives and is built
        [healed] = ws.incidents.list()
        timeline = ws.incidents.show(healed["id"])["timeline"]
    assert (healed["id"], healed["state"], healed["reason"]) == (incident["id"], "resolved", "fixed")
    assert "rebuilt from good inputs and passed their checks and monitors" in healed["note"]
    assert timeline[-1].kind == "incident_resolved" and timeline[-1].data["automatic"] is True


def test_insights_are_trusted_then_suspect_then_broken_then_trusted_again(history):
    project, home = history
    with Workspace(home, project) as ws:
        assert [(r["insight"], r["status"]) for r in ws.incidents.trust()] == [("daily_dashboard", "trusted")]
        deliver(ws, project, range(DAYS, DAYS + 1), {DAYS: {"scale": 60}})
        [suspect] = ws.incidents.trust("daily_dashboard")
        [incident] = ws.incidents.list()
        assert (suspect["status"], suspect["incidents"], suspect["owners"]) == ("suspect", [incident["id"]], ["ops@example.com"])
        deliver(ws, project, range(DAYS + 1, DAYS + 2), {DAYS + 1: {"nulls": True}})
        assert ws.incidents.trust("daily_dashboard")[0]["status"] == "broken"
        for row in ws.incidents.list():
            ws.incidents.resolve(row["id"], Reason.EXPECTED)
        assert ws.incidents.trust()[0]["status"] == "trusted"
        with pytest.raises(UnknownObjectError, match="unknown insight 'daily'"):
            ws.incidents.trust("daily")


def test_diagnosis_puts_an_anomalous_input_first_and_calls_a_x60_change_a_broken_pipeline(history):
    project, home = history
    with Workspace(home, project) as ws:
        deliver(ws, project, range(DAYS, DAYS + 1), {DAYS: {"scale": 60}})
        d = ws.incidents.diagnose("clean", key(DAYS))
        shown = ws.incidents.show(ws.incidents.list()[0]["id"])
    assert d["causes"][0]["kind"] == "input data" and d["inputs"][0]["asset"] == "raw"
    assert "delivered again" in d["causes"][0]["fix"]
    assert d["last_good"]["partition"] == key(DAYS - 1)
    assert d["classification"]["verdict"] == "the pipeline broke" and "unit change" in d["classification"]["why"]
    assert shown["diagnosis"]["asset"] == "raw"  # the incident's root: the source


def test_diagnosis_ranks_a_code_change_first_with_its_diff(history, tmp_path):
    project, home = history
    text = (project / "assets.py").read_text().replace("def clean(raw):\n    return raw",
                                                        "def clean(raw):\n    raw['value'] = raw['value'] * 1000\n    return raw")
    (project / "assets.py").write_text(text)
    with Workspace(home, project) as ws:
        deliver(ws, project, range(DAYS, DAYS + 1))
        d = ws.incidents.diagnose("clean", key(DAYS))
    assert d["code"] is not None and any("* 1000" in line for line in d["code"]["diff"])
    assert d["causes"][0]["kind"] == "code" and "revert" in d["causes"][0]["fix"]
    assert d["classification"]["verdict"] == "the pipeline broke"


def test_diagnose_refuses_a_partition_never_built(history):
    project, home = history
    out = weir(home, project, "diagnose", "clean", "--partition", key(DAYS + 50), expect=2)
    assert "never been built" in out.stderr
    data = json.loads(weir(home, project, "diagnose", "raw", "--partition", key(3), "--json").stdout)
    assert set(data) == {"asset", "partition", "build", "last_good", "moved", "inputs", "code", "config", "packages",
                         "classification", "causes"}
