"""Ticks, from triggers to outcomes, on a real project and a real store (SQLite, and PostgreSQL
where two holders race): an occurrence is one tick however often the triggers are evaluated, a
tick is claimed by one holder, runs its steps in order, stops at a failure, waits, is handed
back, and is taken on after its holder died without doing a step twice."""

from __future__ import annotations

import json
import os
import time

import pytest
from conftest import land_csv
from conftest import weir_cli as weir

from weir.events import Event, EventKind
from weir.scenarios import landing
from weir.workspace import Workspace

TOML = '''
[project]
name = "demo"
modules = ["assets"]

[alerts.routes.team]
channel = "file"
audience = "team"
path = "outbox/team.jsonl"
'''
ASSETS = '''
import json
from pathlib import Path

import weir

days = weir.daily(start="2024-01-01", end="2024-01-31")
raw = weir.source("raw", path="landing/raw/{partition}.csv", partitions=days)
extra = weir.source("extra", path="landing/extra/{partition}.csv", partitions=days)


@weir.asset(partitions=days, checks=[weir.checks.not_null("value", severity="block")])
def clean(raw):
    return raw


def record(context):
    """Append the tick to calls.jsonl: the test counts how often a step really ran."""
    path = Path(context.workspace.project.root) / "calls.jsonl"
    with path.open("a") as f:
        f.write(json.dumps({"tick": context.tick["id"], "scenario": context.scenario}) + "\\n")
    context.log("recorded")
    return {"tick": context.tick["id"]}


def explode(context):
    raise RuntimeError("the function broke")


landing = weir.scenario(
    "landing",
    triggers=[weir.triggers.landed("raw", debounce=0)],
    steps=[weir.steps.ingest(), weir.steps.build(), weir.steps.diagnose(), weir.steps.call(record)],
    reporters=[weir.reporter("team", on=["succeeded", "failed", "incident_opened"])],
)
both = weir.scenario(
    "both",
    triggers=[weir.triggers.landed("raw", "extra", together=True, debounce=0)],
    steps=[weir.steps.call(record)],
)
hourly = weir.scenario("hourly", triggers=[weir.triggers.cron("0 * * * *")], steps=[weir.steps.call(record)])
published = weir.scenario("published", triggers=[weir.triggers.published("clean", debounce=0)],
                          steps=[weir.steps.call(record)])
on_incident = weir.scenario("on_incident", triggers=[weir.triggers.incident("opened", debounce=0)],
                            steps=[weir.steps.call(record)])
broken = weir.scenario("broken", steps=[weir.steps.call(explode), weir.steps.call(record)])
stubborn = weir.scenario("stubborn", steps=[weir.steps.call(explode, continue_on_failure=True),
                                            weir.steps.call(record)])
waiting = weir.scenario("waiting", steps=[weir.steps.wait("raw", partition="2024-01-09", deadline=60),
                                          weir.steps.call(record)])
late = weir.scenario("late", steps=[weir.steps.wait("raw", partition="2024-01-10", deadline=0.001)])
'''


def land(project, day: int, values=(1.0, 2.0), folder: str = "raw"):
    return land_csv(project, f"landing/{folder}/2024-01-{day:02d}.csv",
                    [{"id": i, "value": v} for i, v in enumerate(values)])


def calls(project) -> list[dict]:
    path = project / "calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def ticks(ws: Workspace, name: str) -> list[dict]:
    return list(reversed(ws.scenarios.history(name, limit=None)))


@pytest.fixture
def project(make_project):
    return make_project({"weir.toml": TOML, "assets.py": ASSETS})


@pytest.fixture
def ws(project, workspace_dir, monkeypatch):
    monkeypatch.delenv("WEIR_DATABASE_URL", raising=False)
    with Workspace(workspace_dir, project) as w:
        yield w


@pytest.fixture
def ws_any(project, workspace_dir, backend):
    """The workspace on SQLite, then on PostgreSQL."""
    with Workspace(workspace_dir, project) as w:
        yield w


def drain(ws: Workspace, holder: str = "test") -> list[dict]:
    """Claim and run every due tick, as a daemon pass does."""
    done = []
    while (claim := ws.scenarios.claim(holder)) is not None:
        done.append(ws.scenarios.execute(claim))
    if done:
        ws.pump()  # the reports wait in the outbox: the pump after the pass delivers them
    return done


def test_a_landing_is_one_tick_that_ingests_builds_diagnoses_calls_and_reports(ws, project):
    assert ws.scenarios.evaluate() == []  # the first look: nothing landed
    land(project, 2)
    created = ws.scenarios.evaluate()
    assert [(t["scenario"], t["fired_by"]["partitions"]) for t in created] == [("landing", {"raw": ["2024-01-02"]})]
    assert ws.scenarios.evaluate() == [] and ws.scenarios.evaluate() == []  # looked at again: still one tick
    [tick] = drain(ws)
    assert tick["state"] == "succeeded", tick["outcome"]
    assert [s["state"] for s in tick["steps"]] == ["succeeded"] * 4
    assert tick["steps"][0]["sources"] == {"raw": {"accepted": 1, "blocked": 0, "checked_now": 1}}
    assert len(tick["run_ids"]) == 1 and ws.runs.detail(tick["run_ids"][0])["trigger"] == f"tick:{tick['id']}"
    assert ws.data.read("clean", "2024-01-02").num_rows == 2
    assert calls(project) == [{"tick": tick["id"], "scenario": "landing"}]
    [sent] = [json.loads(line) for line in (project / "outbox" / "team.jsonl").read_text().splitlines()]
    assert sent["key"] == f"demo:scenario:landing:{tick['id']}:succeeded:team"
    assert sent["subject"] == "[weir] demo: scenario landing succeeded"
    assert tick["reports"][0]["condition"] == "succeeded"
    # ingested now: no new landing (the partition it published fires the published scenario, once)
    assert [t["scenario"] for t in ws.scenarios.evaluate()] == ["published"]
    assert ws.scenarios.evaluate() == []


def test_a_burst_of_deliveries_is_one_tick_and_a_file_delivered_again_is_a_new_one(ws, project):
    ws.scenarios.evaluate()
    for day in (3, 4, 5, 6):
        land(project, day)
    [tick] = [t for t in ws.scenarios.evaluate() if t["scenario"] == "landing"]
    assert tick["fired_by"]["partitions"] == {"raw": ["2024-01-03", "2024-01-04", "2024-01-05", "2024-01-06"]}
    drain(ws)
    staged = land(project, 4, values=(5.0, 6.0, 7.0), folder="staging")  # delivered again, bigger, renamed in
    os.replace(staged, project / "landing" / "raw" / staged.name)
    [again] = [t for t in ws.scenarios.evaluate() if t["scenario"] == "landing"]
    assert again["fired_by"]["partitions"] == {"raw": ["2024-01-04"]}


def test_a_file_rewritten_in_place_is_noticed_at_the_next_full_look(ws, project, monkeypatch):
    ws.scenarios.evaluate()
    land(project, 3)
    assert [t["scenario"] for t in ws.scenarios.evaluate()] == ["landing"]
    land(project, 3, values=(8.0, 9.0, 10.0))  # rewritten in place: its folder does not change
    assert ws.scenarios.evaluate() == []  # the folder is not listed again for a few seconds
    monkeypatch.setattr(landing, "FULL_LOOK_SECONDS", 0.0)
    [again] = ws.scenarios.evaluate()
    assert again["fired_by"]["partitions"] == {"raw": ["2024-01-03"]}


def test_a_landing_trigger_waits_for_quiet_before_firing(make_project, workspace_dir, monkeypatch):
    monkeypatch.delenv("WEIR_DATABASE_URL", raising=False)
    project = make_project({"weir.toml": TOML, "assets.py": ASSETS.replace(
        'weir.triggers.landed("raw", debounce=0)', 'weir.triggers.landed("raw", debounce="1h")')})
    with Workspace(workspace_dir, project) as ws:
        ws.scenarios.evaluate()
        land(project, 2)
        assert [t for t in ws.scenarios.evaluate() if t["scenario"] == "landing"] == []
        later = [t for t in ws.scenarios.evaluate(now=time.time() + 3601) if t["scenario"] == "landing"]
        assert [t["fired_by"]["partitions"] for t in later] == [{"raw": ["2024-01-02"]}]


def test_together_fires_a_partition_once_every_source_has_it(ws, project):
    ws.scenarios.evaluate()
    land(project, 7)
    assert [t for t in ws.scenarios.evaluate() if t["scenario"] == "both"] == []
    land(project, 7, folder="extra")
    [tick] = [t for t in ws.scenarios.evaluate() if t["scenario"] == "both"]
    assert tick["fired_by"]["partitions"] == {"extra": ["2024-01-07"], "raw": ["2024-01-07"]}


def test_cron_starts_from_now_and_coalesces_the_times_missed_into_one_tick(ws):
    start = 1_704_067_200.0 + 30 * 60  # 2024-01-01T00:30:00Z
    assert [t for t in ws.scenarios.evaluate(now=start) if t["scenario"] == "hourly"] == []
    assert [t for t in ws.scenarios.evaluate(now=start + 600) if t["scenario"] == "hourly"] == []
    [tick] = [t for t in ws.scenarios.evaluate(now=start + 5 * 3600) if t["scenario"] == "hourly"]  # down 5 hours
    assert tick["scheduled_for"] == "cron:2024-01-01T05:00:00Z"
    assert tick["fired_by"]["missed"] == 4
    assert tick["fired_by"]["missed_times"][0] == "2024-01-01T01:00:00Z"
    assert [t for t in ws.scenarios.evaluate(now=start + 5 * 3600 + 1) if t["scenario"] == "hourly"] == []
    [nxt] = [t for t in ws.scenarios.evaluate(now=start + 6 * 3600) if t["scenario"] == "hourly"]
    assert nxt["scheduled_for"] == "cron:2024-01-01T06:00:00Z" and nxt["fired_by"]["missed"] == 0


def test_published_and_incident_triggers_read_the_log_from_their_cursor(ws, project):
    ws.scenarios.evaluate()
    with ws.store.transaction():
        ws.store.emit(Event(kind=EventKind.PARTITION_PUBLISHED, project="demo", asset="clean", partition_key="2024-01-02"),
                      Event(kind=EventKind.PARTITION_PUBLISHED, project="demo", asset="other", partition_key="x"),
                      Event(kind=EventKind.INCIDENT_OPENED, project="demo", asset="clean", data={"incident": 7}),
                      Event(kind=EventKind.INCIDENT_UPDATED, project="demo", data={"incident": 7, "change": "joined"}))
    fired = {t["scenario"]: t["fired_by"] for t in ws.scenarios.evaluate()}
    assert fired["published"]["partitions"] == {"clean": ["2024-01-02"]}
    assert fired["on_incident"]["incidents"] == [{"id": 7, "change": "opened"}]
    assert ws.scenarios.evaluate() == []


def test_a_due_tick_is_claimed_by_one_holder_of_two(ws_any, project):
    ws = ws_any
    ws.scenarios.evaluate()
    land(project, 2)
    assert len(ws.scenarios.evaluate()) == 1
    assert ws.scenarios.evaluate() == []
    first, second = ws.scenarios.claim("holder-a"), ws.scenarios.claim("holder-b")
    assert first is not None and first.tick["holder"] == "holder-a"
    assert second is None or second.tick["id"] != first.tick["id"]


def test_a_failed_step_stops_the_tick_unless_it_continues_on_failure(ws, project, workspace_dir):
    out = json.loads(weir(workspace_dir, project, "scenario", "run", "broken", "--json", expect=1).stdout)
    assert out["state"] == "failed" and [s["state"] for s in out["steps"]] == ["failed"]
    assert "RuntimeError: the function broke" in out["steps"][0]["message"]
    assert "the function broke" in out["steps"][0]["details"]["traceback"]
    assert calls(project) == []
    out = json.loads(weir(workspace_dir, project, "scenario", "run", "stubborn", "--json", expect=1).stdout)
    assert [s["state"] for s in out["steps"]] == ["failed", "succeeded"] and out["state"] == "failed"
    assert [c["scenario"] for c in calls(project)] == ["stubborn"]
    history = json.loads(weir(workspace_dir, project, "scenario", "history", "stubborn", "--json").stdout)
    assert [h["id"] for h in history] == [out["id"]] and history[0]["trigger"] == "manual"


def test_a_wait_hands_the_tick_back_until_the_partition_is_there_or_fails_at_its_deadline(ws, project, workspace_dir):
    now = time.time()
    with ws.store.transaction():
        for name in ("waiting", "late"):
            ws.store.ticks.create({"project": "demo", "scenario": name, "scheduled_for": f"test:{name}",
                                   "trigger": "manual", "fired_by": {"kind": "manual"}, "state": "pending",
                                   "created_at": now, "due_at": now, "steps": [], "run_ids": []})
    handed = {t["scenario"]: t for t in drain(ws)}  # the first look starts each wait's deadline
    for name in ("waiting", "late"):
        assert handed[name]["state"] == "pending" and handed[name]["due_at"] > now
        assert handed[name]["steps"][0]["state"] == "waiting"
    land(project, 9)
    assert drain(ws) == []  # not due again yet
    with ws.store.transaction():
        for name in ("waiting", "late"):
            ws.store.ticks.note(handed[name]["id"], due_at=time.time())
    done = {t["scenario"]: t for t in drain(ws)}
    assert done["waiting"]["state"] == "succeeded" and done["waiting"]["claims"] == 2
    assert [s["state"] for s in done["waiting"]["steps"]] == ["succeeded", "succeeded"]
    assert done["late"]["state"] == "failed" and "raw 2024-01-10 missed its deadline" in done["late"]["outcome"]


def test_a_tick_whose_holder_died_is_taken_on_and_a_step_is_never_done_twice(ws, project):
    """A resumable step the dead holder was in is done again; a function step is not: the tick fails."""
    now = time.time()
    with ws.store.transaction():
        for name, steps in (("landing", [{"step": 0, "kind": "ingest", "state": "succeeded"},
                                         {"step": 1, "kind": "build", "state": "running"}]),
                            ("broken", [{"step": 0, "kind": "call", "state": "running"}])):
            tick_id = ws.store.ticks.create({"project": "demo", "scenario": name, "scheduled_for": f"test:{name}",
                                             "trigger": "manual", "fired_by": {"kind": "manual"}, "state": "pending",
                                             "created_at": now, "due_at": now, "steps": [], "run_ids": []})
            ws.store.ticks.note(tick_id, state="running", holder="dead-daemon", lease_until=now - 1, step=1 if
                                name == "landing" else 0, steps=steps, started_at=now)
    done = {t["scenario"]: t for t in drain(ws, "heir")}
    assert done["landing"]["state"] == "succeeded" and done["landing"]["holder"] == "heir"
    assert done["landing"]["steps"][1]["resumed"] == "after dead-daemon stopped during it"
    assert [s["state"] for s in done["landing"]["steps"]] == ["succeeded"] * 4
    assert done["broken"]["state"] == "failed"
    assert "dead-daemon stopped during this step, and a call step is not done twice" in done["broken"]["outcome"]
    assert [c["scenario"] for c in calls(project)] == ["landing"]  # the broken tick's function was not called again


def test_a_blocked_delivery_fails_the_tick_and_its_incident_is_reported(ws, project):
    ws.scenarios.evaluate()
    land(project, 2, values=(1.0, None))  # null value: clean's block check blocks the day
    ws.scenarios.evaluate()
    [tick] = [t for t in drain(ws) if t["scenario"] == "landing"]
    assert tick["state"] == "failed" and tick["steps"][1]["state"] == "failed"
    assert [i["change"] for i in tick["incidents"]] == ["opened"]
    conditions = {json.loads(line)["data"]["condition"]
                  for line in (project / "outbox" / "team.jsonl").read_text().splitlines()
                  if json.loads(line)["data"].get("scenario") == "landing"}
    assert conditions == {"failed", "incident_opened"}
    assert calls(project) == []  # the build failed: the steps after it did not run


def test_a_file_stamped_in_the_future_is_not_held_back_by_the_debounce(ws, project):
    ws.scenarios.evaluate()
    path = land(project, 5)
    os.utime(path, (time.time() + 3600, time.time() + 3600))  # a writer whose clock is an hour ahead
    assert [t["scenario"] for t in ws.scenarios.evaluate()] == ["landing"]


def test_a_tick_of_a_scenario_no_longer_defined_is_skipped(ws):
    now = time.time()
    with ws.store.transaction():
        ws.store.ticks.create({"project": "demo", "scenario": "gone", "scheduled_for": "test:gone", "trigger": "cron",
                               "fired_by": {"kind": "cron"}, "state": "pending", "created_at": now, "due_at": now,
                               "steps": [], "run_ids": []})
    [tick] = drain(ws)
    assert tick["state"] == "skipped" and tick["outcome"] == "the scenario is no longer in the project"
    assert [t["id"] for t in ws.scenarios.history("gone")] == [tick["id"]]  # its history stays


def test_the_signals_of_an_ingest_step_carry_the_steps_ingest_id(ws, project):
    import numpy as np

    def land_day(day: int, scale: float = 1.0):
        values = np.random.default_rng(day).normal(100, 10, 60) * scale
        land(project, day, values=[round(float(v), 3) for v in values])

    ws.scenarios.evaluate()
    for day in range(1, 26):
        land_day(day)
    ws.scenarios.evaluate()
    drain(ws)
    land_day(26, scale=3.0)  # every value tripled: the monitors alert on the day
    ws.scenarios.evaluate()
    [tick] = [t for t in drain(ws) if t["scenario"] == "landing"]
    raised = ws.monitors.signals("raw", "2024-01-26")
    assert raised and all((s["run_id"] or "").startswith("ingest-") for s in raised)
    assert {s["run_id"] for s in raised} == {tick["steps"][0]["run_id"]}
    [admitted] = [e for e in ws.events.list(kinds=("source_admitted",), limit=None) if e.partition_key == "2024-01-26"]
    assert admitted.run_id == tick["steps"][0]["run_id"]
