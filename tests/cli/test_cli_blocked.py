"""One old problem does not fail every later run: what ``weir run --stale``, ``weir status`` and
``weir ingest`` print and how they exit while a blocked day stays blocked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import land_csv, weir_cli, write_project

pytestmark = pytest.mark.slow

ASSETS = '''
import weir

days = weir.daily(start="2024-01-01", end="2024-01-31")
landing = weir.source("landing", path="landing/{partition}.csv", partitions=days, columns={"id": "int", "value": "float"})


@weir.asset(partitions=days, checks=[weir.checks.in_range("value", min=0, severity="block")])
def cleaned(landing):
    return landing


@weir.asset(partitions=days)
def enriched(cleaned):
    return cleaned.assign(plus=cleaned["value"] + 1)
'''

BAD = "2024-01-03"


def deliver(project: Path, day: str, value: object = 1) -> None:
    land_csv(project, f"landing/{day}.csv", [{"id": 1, "value": value}, {"id": 2, "value": 2}])


def stale(ws: Path, project: Path, *args: str, expect: int = 0):
    return weir_cli(ws, project, "run", "--stale", "--executor", "inprocess", *args, expect=expect)


def flat(text: str) -> str:
    """``text`` with the console's line wrapping undone."""
    return " ".join(text.split())


def test_daily_runs_after_a_blocked_day_exit_0_and_say_it_is_still_blocked(tmp_path):
    project = write_project(tmp_path / "proj", {"assets.py": ASSETS}, name="daily")
    ws = tmp_path / "ws"
    deliver(project, "2024-01-02")
    stale(ws, project)
    deliver(project, BAD, -5)
    assert "cleaned 2024-01-03: blocked: in_range(value)" in flat(stale(ws, project, expect=1).stderr)
    for n in range(4, 9):
        day = f"2024-01-{n:02d}"
        deliver(project, day)
        out = flat(stale(ws, project).stdout)
        assert "1 partition still blocked since " in out and "(cleaned 2024-01-03: in_range(value): 1 of 2 rows fail" in out
        assert "not retried: its inputs and code are unchanged ('weir run cleaned --partition 2024-01-03' retries it)" in out
    last = json.loads(stale(ws, project, "--json").stdout)
    assert last["state"] == "succeeded" and last["counts"] == {} and last["failures"] == []
    [still] = last["still_blocked"]
    assert (still["kind"], still["name"], still["partition"]) == ("asset", "cleaned", BAD)
    runs = json.loads(weir_cli(ws, project, "runs", "--json").stdout)
    assert [r["state"] for r in runs] == ["succeeded"] * 6 + ["failed", "succeeded"]
    blocking_run = runs[-2]["id"]
    assert still["run_id"] == blocking_run
    for r in runs[:6]:  # none of the later runs built the blocked day or what reads it
        tasks = json.loads(weir_cli(ws, project, "runs", "show", r["id"], "--json").stdout)["tasks"]
        assert BAD not in {t["partition"] for t in tasks}
    status = {r["asset"]: r for r in json.loads(weir_cli(ws, project, "status", "--json").stdout)}
    [blocked] = status["cleaned"]["blocked"]
    assert (blocked["partition"], blocked["run_id"]) == (BAD, blocking_run) and "in_range(value)" in blocked["message"]
    assert status["enriched"]["blocked"] == [] and status["cleaned"]["published"] == 6
    assert "(1 blocked: 2024-01-03)" in flat(weir_cli(ws, project, "status").stdout)
    plan = json.loads(stale(ws, project, "--plan", "--json").stdout)
    assert plan["tasks"] == [] and [b["partition"] for b in plan["still_blocked"]] == [BAD]
    # the day delivered again, fixed: built, published, and what reads it follows
    deliver(project, BAD, 3)
    fixed = json.loads(stale(ws, project, "--json").stdout)
    assert fixed["state"] == "succeeded" and fixed["still_blocked"] == []
    assert fixed["assets"] == {"cleaned": {"succeeded": 1}, "enriched": {"succeeded": 1}}
    status = {r["asset"]: r for r in json.loads(weir_cli(ws, project, "status", "--json").stdout)}
    assert status["cleaned"]["blocked"] == [] and status["enriched"]["published"] == 7


def test_a_blocked_delivery_fails_its_first_ingest_only(tmp_path):
    project = write_project(tmp_path / "proj", {"assets.py": ASSETS}, name="deliveries")
    ws = tmp_path / "ws"
    deliver(project, "2024-01-02")
    deliver(project, BAD, "abc")
    weir_cli(ws, project, "ingest", "landing", expect=1)
    again = flat(weir_cli(ws, project, "ingest", "landing").stdout)
    assert "1 partition still blocked (2024-01-03): not checked again" in again
    deliver(project, "2024-01-04")
    out = flat(stale(ws, project).stdout)
    assert "1 partition still blocked since " in out and "(source landing 2024-01-03: 1 of 2 rows malformed" in out
    assert "'weir ingest landing --partition 2024-01-03 --force' checks it again" in out
    weir_cli(ws, project, "ingest", "landing", "--partition", BAD, "--force", expect=1)
