"""The whole fault, not its first day, on real runs: a daily source ``raw``, an asset ``clean``
reading it, a daily ``summary`` under an insight. Each story runs 40 clean days, then a fault
that lasts several days: one incident whose scope holds every bad partition and what was built
from them; the fix it prints rebuilds them all and restores the published data exactly; the
incident resolves, and trust returns, only then; the diagnosis read after resolution is the one
told at opening."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import _in_process, land_csv, restored, write_project

from weir.runs.request import RunRequest
from weir.workspace import Workspace

pytestmark = pytest.mark.slow  # 40 days of history, one run a day

START = dt.date(2024, 1, 1)
DAYS = 40
GOOD = '''
import weir

days = weir.daily(start="2024-01-01", end="2024-12-31")

raw = weir.source("raw", path="landing/{partition}.csv", partitions=days)


@weir.asset(partitions=days, checks=[weir.checks.not_null("value", severity="block")])
def clean(raw):
    return raw


@weir.asset(partitions=days)
def summary(clean):
    return clean.groupby("category", as_index=False)["value"].agg(["mean", "count"])


daily_dashboard = weir.insight("daily_dashboard", depends_on=["summary"], owners=["ops@example.com"])
'''
BAD = GOOD.replace("    return raw\n", "    return raw.iloc[: len(raw) // 2]  # keep the first half: a bad edit\n")


def key(i: int) -> str:
    return (START + dt.timedelta(days=i)).isoformat()


def land(project: Path, i: int, *, nulls: bool = False, shift_b: float = 0.0) -> None:
    """Day ``i``'s delivery: 120 readings of three categories; ``shift_b`` moves category b's alone."""
    rng = np.random.default_rng(100 + i)
    values = rng.normal(100, 10, 120)
    rows = [{"id": j, "value": None if nulls and j < 5 else round(float(values[j]) + (shift_b if j % 3 == 1 else 0), 3),
             "category": "abc"[j % 3]} for j in range(120)]
    land_csv(project, f"landing/{key(i)}.csv", rows)


def day(ws: Workspace, project: Path, i: int, *, nulls: bool = False, shift_b: float = 0.0, stale: bool = True) -> None:
    """One day delivered and built, as production does, then the incidents brought up to date."""
    land(project, i, nulls=nulls, shift_b=shift_b)
    ws.quality.ingest("raw", [key(i)])
    if stale:
        ws.runs.run(RunRequest(executor="inprocess", stale=True))
    else:
        ws.runs.run(RunRequest(executor="inprocess", partition=key(i)))
    ws.incidents.sync()


def weir(home: Path, project: Path, *args: str, expect: int | None = 0):
    """The CLI in this process, on this test's metadata store (SQLite or PostgreSQL)."""
    env = {k: v for k, v in os.environ.items() if k != "WEIR_HOME"}
    env["NO_COLOR"] = "1"
    out = _in_process(["--workspace", str(home), "--project", str(project), *args], project.parent, env)
    if expect is not None:
        assert out.returncode == expect, f"exit {out.returncode}\nstdout:\n{out.stdout}\nstderr:\n{out.stderr}"
    return out


def expected(project: Path, i: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What a clean build of day ``i`` publishes: ``clean`` is the delivery, ``summary`` its means."""
    raw = pd.read_csv(project / "landing" / f"{key(i)}.csv")
    return raw, raw.groupby("category", as_index=False)["value"].agg(["mean", "count"])


def published(ws: Workspace, asset: str, i: int) -> pd.DataFrame:
    frame = ws.data.read(asset, key(i)).to_pandas()
    return frame[[c for c in frame.columns if not c.startswith("_")]]


def assert_restored(ws: Workspace, project: Path, days: range) -> None:
    for i in days:
        clean, summary = expected(project, i)
        got = published(ws, "clean", i).sort_values("id").reset_index(drop=True)
        pd.testing.assert_frame_equal(got[list(clean.columns)], clean, check_dtype=False)
        got_summary = published(ws, "summary", i).sort_values("category").reset_index(drop=True)
        pd.testing.assert_frame_equal(got_summary[list(summary.columns)], summary, check_dtype=False)


def _build_history(folder: Path) -> None:
    project = write_project(folder / "project-demo", {"assets.py": GOOD})
    with Workspace(folder / "ws", project) as ws:
        for i in range(DAYS):
            day(ws, project, i)
        assert ws.incidents.list() == []


@pytest.fixture
def history(make_project, workspace_dir, backend, tmp_path_factory):
    """DAYS good days built. On SQLite they are built once per test process and restored for
    each test (``restored``); on PostgreSQL, built in the test's own schema."""
    if backend == "sqlite":
        folder = restored(tmp_path_factory, "whole-fault-history", _build_history)
        return folder / "project-demo", folder / "ws"
    _build_history(workspace_dir.parent / "built")
    return workspace_dir.parent / "built" / "project-demo", workspace_dir.parent / "built" / "ws"


def test_bad_code_built_for_three_days_is_one_incident_whose_fix_restores_every_day(history):
    project, home = history
    (project / "assets.py").write_text(BAD)
    with Workspace(home, project) as ws:
        for i in range(DAYS, DAYS + 3):  # new days only: history is left alone
            day(ws, project, i, stale=False)
        [incident] = ws.incidents.list()
        detail = ws.incidents.show(incident["id"])
        told = detail["diagnosis"]
        [status] = ws.incidents.trust("daily_dashboard")
        second_day = ws.incidents.diagnose("clean", key(DAYS + 1))
    # "last good" means good: the second bad day is compared with the last day before the fault
    assert second_day["last_good"]["partition"] < key(DAYS) and second_day["code"] is not None
    scope = {(r["asset"], r["partition_key"]) for r in detail["scope"]}
    assert {("clean", key(i)) for i in range(DAYS, DAYS + 3)} <= scope  # every day built with the bad code
    assert {("summary", key(i)) for i in range(DAYS, DAYS + 3)} <= scope  # and what was built from them
    assert detail["cause"]["kind"] == "code" and detail["cause"]["asset"] == "clean"
    assert detail["left"] == len(scope)
    assert status["status"] != "trusted" and status["trusted_through"] < key(DAYS)
    [first] = detail["fix"][:1]
    assert first["kind"] == "revert"  # the code is still the bad version: a person reverts it first

    weir(home, project, "incidents", "fix", str(incident["id"]), "--yes", expect=2)  # refused until reverted
    (project / "assets.py").write_text(GOOD)
    out = weir(home, project, "incidents", "fix", str(incident["id"]), "--yes")
    assert f"weir rebuild clean --from {key(DAYS)} --to {key(DAYS + 2)} --downstream" in out.stdout
    with Workspace(home, project) as ws:
        after = ws.incidents.show(incident["id"])
        [status] = ws.incidents.trust("daily_dashboard")
        assert_restored(ws, project, range(DAYS, DAYS + 3))
    assert (after["state"], after["reason"], after["left"]) == ("resolved", "fixed", 0)
    assert status["status"] == "trusted" and status["trusted_through"] == key(DAYS + 2)
    assert after["diagnosis"] == told  # the story as told at opening, not "code changed bad → good"
    assert after["diagnosis"]["code"] and "iloc" in "\n".join(after["diagnosis"]["code"]["diff"])


def test_a_partial_fix_keeps_the_incident_open_and_trust_away_and_says_what_is_left(history):
    project, home = history
    (project / "assets.py").write_text(BAD)
    with Workspace(home, project) as ws:
        for i in range(DAYS, DAYS + 3):
            day(ws, project, i, stale=False)
        [incident] = ws.incidents.list()
    (project / "assets.py").write_text(GOOD)
    with Workspace(home, project) as ws:
        ws.runs.run(RunRequest(executor="inprocess", partition=key(DAYS)))  # the first day only, as before
        synced = ws.incidents.sync()
        detail = ws.incidents.show(incident["id"])
        [status] = ws.incidents.trust("daily_dashboard")
    assert incident["id"] in synced.fixed and incident["id"] not in synced.resolved
    assert detail["state"] == "open"
    bad = {(r["asset"], r["partition_key"]) for r in detail["scope"] if r["fixed_run_id"] is None}
    assert ("clean", key(DAYS + 1)) in bad and ("clean", key(DAYS + 2)) in bad and ("clean", key(DAYS)) not in bad
    assert status["status"] != "trusted"
    partly = [e for e in detail["timeline"] if e.data.get("change") == "partly fixed"]
    assert partly and f"clean {key(DAYS + 1)}" in partly[-1].data["left"]


def test_a_delivery_blocked_three_days_running_is_one_incident(history):
    project, home = history
    with Workspace(home, project) as ws:
        for i in range(DAYS, DAYS + 3):
            day(ws, project, i, nulls=True)
        [incident] = ws.incidents.list()
        detail = ws.incidents.show(incident["id"])
        for i in range(DAYS, DAYS + 3):  # the good files arrive
            land(project, i)
        steps = [s["command"] for s in detail["fix"]]
        ws.quality.ingest("raw", [key(i) for i in range(DAYS, DAYS + 3)])
        ws.runs.run(RunRequest(executor="inprocess", stale=True))
        ws.incidents.sync()
        after = ws.incidents.show(incident["id"])
        assert_restored(ws, project, range(DAYS, DAYS + 3))
    assert {("clean", key(i)) for i in range(DAYS, DAYS + 3)} <= {(r["asset"], r["partition_key"]) for r in detail["scope"]}
    assert "weir run --stale" in steps
    assert (after["state"], after["reason"]) == ("resolved", "fixed")


def test_the_incidents_json_carries_scope_cause_fix_and_the_diagnoses_told(history):
    project, home = history
    (project / "assets.py").write_text(BAD)
    with Workspace(home, project) as ws:
        day(ws, project, DAYS, stale=False)
        [incident] = ws.incidents.list()
    shown = json.loads(weir(home, project, "incidents", "show", str(incident["id"]), "--json").stdout)
    assert {"scope", "cause", "fix", "left", "diagnoses"} <= set(shown)
    assert shown["diagnoses"][0]["change"] == "opened"
    assert {"asset", "key", "partition", "via", "why", "run_id", "fixed", "fixed_run_id", "fixed_at"} == set(shown["scope"][0])
    assert all(x["key"] == f"demo.{x['asset']}" for x in shown["scope"])
    text = weir(home, project, "incidents", "show", str(incident["id"])).stdout
    assert "scope:" in text and "fix" in text


def test_one_key_shifted_for_three_days_is_a_source_change_in_one_incident_until_delivered_again(history):
    project, home = history
    with Workspace(home, project) as ws:
        for i in range(DAYS, DAYS + 3):  # category b's sensor reads 30 too high; a and c are as ever
            day(ws, project, i, shift_b=30)
        [incident] = ws.incidents.list()
        detail = ws.incidents.show(incident["id"])
        [status] = ws.incidents.trust("daily_dashboard")
        assert status["status"] == "suspect" and status["trusted_through"] < key(DAYS)
        asked = ws.incidents.diagnose("raw", key(DAYS + 1))  # weir diagnose says what the incident says
        assert asked["classification"]["verdict"] == "the pipeline broke" and asked["peers"]["groups"] == ["b"]
        refused = weir(home, project, "incidents", "fix", str(incident["id"]), "--yes", expect=2)
        assert "still the bad delivery" in refused.stderr  # nothing delivered again yet: nothing to run
        for i in range(DAYS, DAYS + 3):  # the corrected deliveries
            land(project, i)
        ws.quality.ingest("raw", [key(i) for i in range(DAYS, DAYS + 3)])
        ws.runs.run(RunRequest(executor="inprocess", stale=True))
        ws.incidents.sync()
        after = ws.incidents.show(incident["id"])
        [status] = ws.incidents.trust("daily_dashboard")
        assert_restored(ws, project, range(DAYS, DAYS + 3))
    scope = {(r["asset"], r["partition_key"]) for r in detail["scope"]}
    assert {(a, key(i)) for a in ("raw", "clean", "summary") for i in range(DAYS, DAYS + 3)} <= scope
    told = detail["diagnosis"]
    assert told["classification"]["verdict"] == "the pipeline broke"  # not "the world changed"
    assert told["peers"]["key"] == "category" and told["peers"]["groups"] == ["b"]
    assert [s["kind"] for s in detail["fix"]][:2] == ["deliver", "ingest"]
    assert (after["state"], after["reason"]) == ("resolved", "fixed")
    assert status["status"] == "trusted" and status["trusted_through"] == key(DAYS + 2)
    assert after["diagnosis"] == told


def test_a_code_change_rolled_out_with_stale_is_one_incident_over_every_partition_it_replaced(history):
    project, home = history
    (project / "assets.py").write_text(BAD)
    with Workspace(home, project) as ws:
        plan = ws.runs.plan(RunRequest(stale=True))
        [replaced] = [r for r in plan.replaces if r.asset == "clean"]
        assert set(replaced.partitions) == {key(i) for i in range(DAYS)} and replaced.cause == "code"
        ws.runs.run(RunRequest(executor="inprocess", stale=True))  # rewrites the history of clean
        ws.incidents.sync()
        [incident] = ws.incidents.list()
        detail = ws.incidents.show(incident["id"])
        [status] = ws.incidents.trust("daily_dashboard")
    assert detail["cause"]["kind"] == "code" and detail["cause"]["asset"] == "clean"
    assert "row_count halved on 40 partitions" in detail["title"]
    scope = {(r["asset"], r["partition_key"]) for r in detail["scope"]}
    assert {("clean", key(i)) for i in range(DAYS)} | {("summary", key(i)) for i in range(DAYS)} <= scope
    assert status["status"] == "suspect"
    (project / "assets.py").write_text(GOOD)
    out = weir(home, project, "incidents", "fix", str(incident["id"]), "--yes")
    assert f"weir rebuild clean --from {key(0)} --to {key(DAYS - 1)} --downstream" in out.stdout
    with Workspace(home, project) as ws:
        after = ws.incidents.show(incident["id"])
        assert ws.incidents.list() == [ws.incidents.list()[0]]  # the revert opened nothing new
        assert_restored(ws, project, range(DAYS))
    assert (after["state"], after["reason"], after["left"]) == ("resolved", "fixed", 0)


def test_a_delivery_blocked_at_ingest_resolves_only_once_what_reads_it_is_built(make_project, workspace_dir, backend):
    source_checked = GOOD.replace('raw = weir.source("raw", path="landing/{partition}.csv", partitions=days)',
                                  'raw = weir.source("raw", path="landing/{partition}.csv", partitions=days,\n'
                                  '                  checks=[weir.checks.not_null("value", severity="block")])')
    project = make_project({"assets.py": source_checked})
    with Workspace(workspace_dir, project) as ws:
        for i in range(DAYS):
            day(ws, project, i)
        for i in range(DAYS, DAYS + 3):  # three deliveries blocked on arrival
            day(ws, project, i, nulls=True)
        [incident] = ws.incidents.list()
        for i in range(DAYS, DAYS + 3):
            land(project, i)
        ws.quality.ingest("raw", [key(i) for i in range(DAYS, DAYS + 3)])  # the good files, checked
        ws.incidents.sync()
        checked = ws.incidents.show(incident["id"])
        [between] = ws.incidents.trust("daily_dashboard")
        ws.runs.run(RunRequest(executor="inprocess", stale=True))
        ws.incidents.sync()
        after = ws.incidents.show(incident["id"])
        assert_restored(ws, project, range(DAYS, DAYS + 3))
    # admitted is not built: what reads the corrected deliveries must be built from them first
    assert checked["state"] == "open" and between["status"] != "trusted"
    left = {(r["asset"], r["partition_key"]) for r in checked["scope"] if r["fixed_run_id"] is None}
    assert {("clean", key(i)) for i in range(DAYS, DAYS + 3)} <= left
    assert (after["state"], after["reason"]) == ("resolved", "fixed")


ROUTES = '''[project]
name = "demo"

[alerts.routes.ops]
channel = "file"
audience = "business"
path = "out/business.jsonl"
'''


def test_the_owner_is_told_the_whole_period_as_the_fault_goes_on_and_the_all_clear_only_at_the_end(
        make_project, workspace_dir, monkeypatch):
    monkeypatch.delenv("WEIR_DATABASE_URL", raising=False)
    project = make_project({"assets.py": GOOD, "weir.toml": ROUTES})
    told = project / "out" / "business.jsonl"
    with Workspace(workspace_dir, project) as ws:
        for i in range(DAYS):
            day(ws, project, i)
        (project / "assets.py").write_text(BAD)
        ws.reload()
        for i in range(DAYS, DAYS + 3):  # bad code on three new days, one a day
            day(ws, project, i, stale=False)
            ws.alerts.deliver()
        cautions = [json.loads(x)["subject"] for x in told.read_text().splitlines()]
        [incident] = ws.incidents.list()
        (project / "assets.py").write_text(GOOD)
    weir(workspace_dir, project, "incidents", "fix", str(incident["id"]), "--yes")
    subjects = [json.loads(x)["subject"] for x in told.read_text().splitlines()]
    assert cautions[0] == "Treat daily_dashboard with care for 10 February 2024"
    assert cautions[-1] == "Treat daily_dashboard with care for 10 February 2024 to 12 February 2024"
    assert not any("trusted" in s for s in cautions)  # no all-clear while any day is bad
    assert "trusted again" in subjects[-1] and len(subjects) == len(cautions) + 1


def test_under_hold_the_fix_approves_what_it_rebuilt_and_builds_what_reads_it(make_project, workspace_dir,
                                                                               monkeypatch):
    monkeypatch.delenv("WEIR_DATABASE_URL", raising=False)
    project = make_project({"assets.py": GOOD, "weir.toml": '[project]\nname = "demo"\n\n[run]\nrepublish = "hold"\n'})
    with Workspace(workspace_dir, project) as ws:
        for i in range(DAYS):
            day(ws, project, i)
    (project / "assets.py").write_text(BAD)
    weir(workspace_dir, project, "run", "--stale", expect=None)  # the bad versions wait for approval
    weir(workspace_dir, project, "approve", "--all")  # approved by mistake: readers see them
    [incident] = json.loads(weir(workspace_dir, project, "incidents", "--json").stdout)
    (project / "assets.py").write_text(GOOD)
    out = weir(workspace_dir, project, "incidents", "fix", str(incident["id"]), "--yes")
    assert "weir approve clean --partition" in out.stdout
    with Workspace(workspace_dir, project) as ws:
        after = ws.incidents.show(incident["id"])
        assert_restored(ws, project, range(DAYS))
    assert (after["state"], after["reason"]) == ("resolved", "fixed")
