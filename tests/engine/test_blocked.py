"""Open blocks: a partition blocked by its checks, or a source delivery blocked by its contract,
is not built again by ``--stale`` while nothing that decided it changed, fails no later run, and
stays reported; new files, a new upstream version, other code or other checks retry it, and so
does asking for it by name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import land_csv

from weir.workspace import RunRequest, Workspace

DAYS = [f"2024-01-{d:02d}" for d in range(1, 11)]
BAD = "2024-01-03"

HEADER = '''
import weir

days = weir.daily(start="2024-01-01", end="2024-01-10")
landing = weir.source("landing", path="landing/{partition}.csv", partitions=days, columns={"id": "int", "value": "float"})
'''

CLEANED = '''
@weir.asset(partitions=days, checks=[weir.checks.in_range("value", min=0, severity="block")])
def cleaned(landing):
    return landing
'''

ENRICHED = '''
@weir.asset(partitions=days)
def enriched(cleaned):
    return cleaned.assign(plus=cleaned["value"] + 1)
'''

PIPELINE = HEADER + CLEANED + ENRICHED


def deliver(project: Path, day: str, value: object = 1) -> None:
    land_csv(project, f"landing/{day}.csv", [{"id": 1, "value": value}, {"id": 2, "value": 2}])


def run(home: Path, project: Path, **request):
    request.setdefault("executor", "inprocess")
    with Workspace(home, project) as ws:
        result = ws.runs.run(RunRequest(**request))
        return result, {(t["asset"], t["partition_key"]): t for t in ws.runs.detail(result.run_id)["tasks"]}


def stale_plan(home: Path, project: Path):
    with Workspace(home, project) as ws:
        return ws.runs.plan(RunRequest(stale=True))


def blocked_keys(home: Path, project: Path, asset: str) -> list[str]:
    with Workspace(home, project) as ws:
        return [b["partition_key"] for b in ws.data.status(asset)[0]["blocked"]]


def still(result) -> list[tuple[str, str, str]]:
    return [(b["kind"], b["name"], b["partition"]) for b in result.still_blocked]


@pytest.fixture
def home(workspace_dir, monkeypatch) -> Path:
    monkeypatch.delenv("WEIR_DATABASE_URL", raising=False)
    return workspace_dir


@pytest.fixture
def blocked_day(home, make_project) -> Path:
    """Two good days, then a day whose ``cleaned`` partition its block check stops."""
    project = make_project({"assets.py": PIPELINE})
    for day in DAYS[:2]:
        deliver(project, day)
    deliver(project, BAD, -5)
    result, _ = run(home, project, stale=True)
    assert result.state == "failed" and result.per_asset["cleaned"] == {"succeeded": 2, "blocked": 1}
    assert result.per_asset["enriched"] == {"succeeded": 2, "upstream_failed": 1}
    return project


def test_a_blocked_day_is_left_alone_while_later_days_arrive_and_their_runs_succeed(home, blocked_day):
    for day in DAYS[3:8]:
        deliver(blocked_day, day)
        result, tasks = run(home, blocked_day, stale=True)
        assert result.state == "succeeded" and result.failures == []
        assert set(tasks) == {("cleaned", day), ("enriched", day)}  # no task for the blocked day, nor what reads it
        assert still(result) == [("asset", "cleaned", BAD)]
        assert "in_range(value)" in result.still_blocked[0]["message"]
    assert blocked_keys(home, blocked_day, "cleaned") == [BAD] and blocked_keys(home, blocked_day, "enriched") == []
    plan = stale_plan(home, blocked_day)
    assert plan.tasks == [] and [(b.name, b.key) for b in plan.still_blocked] == [("cleaned", BAD)]
    assert ("2024-01-03", "asset 'cleaned' partition '2024-01-03' is blocked") in plan.waiting["enriched"]


def test_a_corrected_delivery_rebuilds_the_blocked_day_and_what_reads_it(home, blocked_day):
    deliver(blocked_day, BAD, 7)
    plan = stale_plan(home, blocked_day)
    assert {(t.asset, t.key): t.reason for t in plan.tasks} == {("cleaned", BAD): "missing", ("enriched", BAD): "missing"}
    result, tasks = run(home, blocked_day, stale=True)
    assert result.state == "succeeded" and result.still_blocked == []
    assert {k: t["state"] for k, t in tasks.items()} == {("cleaned", BAD): "succeeded", ("enriched", BAD): "succeeded"}
    with Workspace(home, blocked_day) as ws:
        assert ws.data.read("enriched", BAD).sort_by("id").column("plus").to_pylist() == [8.0, 3.0]
    assert blocked_keys(home, blocked_day, "cleaned") == []
    assert stale_plan(home, blocked_day).tasks == []


@pytest.mark.parametrize("change", [
    pytest.param(("return landing", "return landing.assign(value=landing['value'].abs())"), id="code"),
    pytest.param(('min=0, severity="block"', 'min=0, severity="warn"'), id="checks"),
])
def test_other_code_or_checks_retry_the_blocked_day(home, blocked_day, change):
    assets = blocked_day / "assets.py"
    assets.write_text(assets.read_text().replace(*change))
    planned = {(t.asset, t.key): t.reason for t in stale_plan(home, blocked_day).tasks}
    assert planned[("cleaned", BAD)] == "missing" and ("enriched", BAD) in planned
    result, tasks = run(home, blocked_day, stale=True)
    assert result.state == "succeeded" and result.still_blocked == []
    assert tasks[("cleaned", BAD)]["state"] == "succeeded" and tasks[("enriched", BAD)]["state"] == "succeeded"


def test_asking_for_the_blocked_day_by_name_builds_it_again(home, blocked_day):
    result, tasks = run(home, blocked_day, assets=("cleaned",), partition=BAD)
    assert result.state == "failed" and set(tasks) == {("cleaned", BAD)}
    assert tasks[("cleaned", BAD)]["state"] == "blocked"
    later, _ = run(home, blocked_day, stale=True)  # blocked again by the same inputs: left alone again
    assert later.state == "succeeded" and still(later) == [("asset", "cleaned", BAD)]
    assert later.still_blocked[0]["run_id"] == result.run_id


def test_a_blocked_rebuild_keeps_the_last_good_version_and_is_not_retried(home, make_project):
    project = make_project({"assets.py": PIPELINE})
    deliver(project, BAD, 4)
    assert run(home, project)[0].state == "succeeded"
    deliver(project, BAD, -4)  # delivered again, broken
    blocked, _ = run(home, project, stale=True)
    assert blocked.state == "failed" and blocked.per_asset == {"cleaned": {"blocked": 1}, "enriched": {"upstream_failed": 1}}
    again, tasks = run(home, project, stale=True)
    assert again.state == "succeeded" and tasks == {} and still(again) == [("asset", "cleaned", BAD)]
    assert blocked_keys(home, project, "cleaned") == [BAD]
    with Workspace(home, project) as ws:
        assert ws.data.read("cleaned", BAD).sort_by("id").column("value").to_pylist() == [4.0, 2.0]


CHECKED_DOWNSTREAM = HEADER + '''
@weir.asset(partitions=days)
def cleaned(landing):
    return landing


@weir.asset(partitions=days, checks=[weir.checks.in_range("value", max=100, severity="block")])
def checked(cleaned):
    return cleaned
'''


def test_a_new_upstream_version_retries_a_partition_blocked_downstream(home, make_project):
    project = make_project({"assets.py": CHECKED_DOWNSTREAM})
    deliver(project, BAD, 500)
    result, _ = run(home, project, stale=True)
    assert result.per_asset == {"cleaned": {"succeeded": 1}, "checked": {"blocked": 1}}
    assert still(run(home, project, stale=True)[0]) == [("asset", "checked", BAD)]
    deliver(project, BAD, 50)  # cleaned is published again: checked reads a new version
    planned = {(t.asset, t.key): t.reason for t in stale_plan(home, project).tasks}
    assert planned == {("cleaned", BAD): "upstream changed", ("checked", BAD): "missing"}
    result, tasks = run(home, project, stale=True)
    assert result.state == "succeeded" and tasks[("checked", BAD)]["state"] == "succeeded"


def test_a_blocked_delivery_is_judged_once_and_fails_no_later_run(home, make_project):
    project = make_project({"assets.py": PIPELINE})
    deliver(project, DAYS[0])
    deliver(project, BAD, "abc")  # not a float: the contract blocks the delivery
    first, _ = run(home, project, stale=True)
    assert first.state == "failed" and first.sources["landing"] == {"accepted": 1, "blocked": 1}
    assert first.per_asset["cleaned"] == {"succeeded": 1, "upstream_failed": 1}
    for day in DAYS[3:6]:
        deliver(project, day)
        result, tasks = run(home, project, stale=True)
        assert result.state == "succeeded" and result.failures == []
        assert result.sources == {"landing": {"accepted": 1, "blocked": 0}}  # only the new day is judged
        assert set(tasks) == {("cleaned", day), ("enriched", day)}
        assert still(result) == [("source", "landing", BAD)] and "malformed" in result.still_blocked[0]["message"]
    with Workspace(home, project) as ws:
        [admission] = ws.quality.ingest("landing", [BAD])
    assert (admission["state"], admission["checked_now"]) == ("blocked", False)
    deliver(project, BAD, 3)  # delivered again, well formed
    result, tasks = run(home, project, stale=True)
    assert result.state == "succeeded" and result.sources["landing"] == {"accepted": 1, "blocked": 0}
    assert {k: t["state"] for k, t in tasks.items()} == {("cleaned", BAD): "succeeded", ("enriched", BAD): "succeeded"}
    assert result.still_blocked == []



def test_the_checks_version_is_the_same_in_every_process(make_project):
    """A version that changed from one process to the next would retry every block every run."""
    checks = 'checks=[weir.checks.in_range("value", min=0, severity="block"), weir.checks.accepted_values("id", values=[1, 2])]'
    project = make_project({"assets.py": PIPELINE.replace('checks=[weir.checks.in_range("value", min=0, severity="block")]', checks)})
    code = ("import sys; from weir.engine.blocked import checks_version; from weir.project.loader import load_project; "
            "print(checks_version(load_project(sys.argv[1]).assets['cleaned']))")
    seen = {
        subprocess.run([sys.executable, "-c", code, str(project)], capture_output=True, text=True, check=True,
                       env={**os.environ, "PYTHONHASHSEED": seed}).stdout.strip()
        for seed in ("1", "2")
    }
    assert len(seen) == 1 and len(seen.pop()) == 16
