"""A real ``weir daemon`` process: cron compressed to seconds (six fields, seconds last), a
landing that fires its tick once, a second daemon refused on SQLite, SIGTERM that hands a tick
back and exits 0, SIGKILL in the middle of a build then a restart that loses nothing and runs
nothing twice, and three daemons on one PostgreSQL store over many ticks: no tick twice, no
time missed."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import land_csv
from conftest import weir_cli as weir

from weir.workspace import Workspace

TOML = '[project]\nname = "demo"\nmodules = ["assets"]\n'
ASSETS = '''
import json
import time
from pathlib import Path

import weir

ROOT = Path(__file__).parent
days = weir.daily(start="2024-01-01", end="2024-01-31")
raw = weir.source("raw", path="landing/{partition}.csv", partitions=days)


@weir.asset(partitions=days)
def clean(raw):
    if (ROOT / "slow").exists():  # the test holds the build here while it signals the daemon
        (ROOT / "building").write_text("")
        while (ROOT / "slow").exists():
            time.sleep(0.05)
    return raw


def record(context):
    with (ROOT / "calls.jsonl").open("a") as f:
        f.write(json.dumps({"tick": context.tick["id"], "scenario": context.scenario}) + "\\n")


def hold(context):
    (ROOT / "holding").write_text("")
    while (ROOT / "slow").exists():
        time.sleep(0.05)


held = weir.scenario("held", steps=[weir.steps.call(hold), weir.steps.call(record)])
landing = weir.scenario(
    "landing",
    triggers=[weir.triggers.landed("raw", debounce=0.2)],
    steps=[weir.steps.ingest(), weir.steps.build(), weir.steps.call(record)],
)
'''
EVERY_SECOND = '''
every_second = weir.scenario("every_second", triggers=[weir.triggers.cron("* * * * * *")],
                             steps=[weir.steps.call(record)])
'''
TIMEOUT = 60.0


def start(ws: Path, project: Path, *args: str, log: Path, env: dict | None = None) -> subprocess.Popen:
    """``weir daemon`` in a process of its own, its output in ``log``."""
    env = {**(env or {k: v for k, v in os.environ.items() if k not in ("WEIR_HOME", "WEIR_DATABASE_URL")}),
           "NO_COLOR": "1"}
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "weir.cli.main", "--workspace", str(ws), "--project",
                                 str(project), "daemon", "--interval", "0.2", *args],
                                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=project)


def wait_for(what: str, ok: Callable[[], object], procs: list[subprocess.Popen] = ()) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not ok():
        for p in procs:
            if p.poll() is not None:
                pytest.fail(f"the daemon exited ({p.returncode}) while waiting for {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"waited {TIMEOUT:.0f} s for {what}")
        time.sleep(0.05)


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> int:
    proc.send_signal(sig)
    try:
        return proc.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail("the daemon did not stop on SIGTERM")


def calls(project: Path) -> list[dict]:
    path = project / "calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def history(ws_dir: Path, project: Path, name: str) -> list[dict]:
    with Workspace(ws_dir, project) as ws:
        return list(reversed(ws.scenarios.history(name, limit=None)))


def land(project: Path, day: int) -> None:
    land_csv(project, f"landing/2024-01-{day:02d}.csv", [{"id": i, "value": float(i)} for i in range(3)])


@pytest.fixture
def sqlite(monkeypatch):
    monkeypatch.delenv("WEIR_DATABASE_URL", raising=False)


def test_a_daemon_fires_cron_seconds_and_a_landing_once_refuses_a_second_one_and_stops_on_sigterm(
        make_project, workspace_dir, tmp_path, sqlite):
    project = make_project({"weir.toml": TOML, "assets.py": ASSETS + EVERY_SECOND})
    log = tmp_path / "daemon.log"
    proc = start(workspace_dir, project, log=log)
    try:
        wait_for("three cron ticks", lambda: sum(c["scenario"] == "every_second" for c in calls(project)) >= 3, [proc])
        land(project, 2)
        wait_for("the landing's tick", lambda: any(c["scenario"] == "landing" for c in calls(project)), [proc])
        second = weir(workspace_dir, project, "daemon", "--once", expect=2, process=True)
        assert "another weir daemon is running on this SQLite store" in second.stderr
        assert f"pid {proc.pid}" in second.stderr
        seen = len(calls(project))
        wait_for("two more cron ticks", lambda: len(calls(project)) >= seen + 2, [proc])
    finally:
        code = stop(proc)
    assert code == 0, log.read_text()
    text = log.read_text()
    assert "started: demo; a pass every 0.2 s; store sqlite" in text and text.rstrip().endswith("stopped")

    landing = history(workspace_dir, project, "landing")
    assert [(t["state"], t["fired_by"]["partitions"]) for t in landing] == [("succeeded", {"raw": ["2024-01-02"]})]
    assert sum(c["scenario"] == "landing" for c in calls(project)) == 1  # the landing fired once
    with Workspace(workspace_dir, project) as ws:
        assert ws.data.read("clean", "2024-01-02").num_rows == 3

    cron = history(workspace_dir, project, "every_second")
    assert {t["state"] for t in cron} == {"succeeded"}
    ticked = [c["tick"] for c in calls(project) if c["scenario"] == "every_second"]
    assert sorted(ticked) == sorted({t["id"] for t in cron}) == sorted(set(ticked))  # each tick ran once
    covered = _seconds(cron)
    assert len(covered) == len(set(covered)) and _gaps(covered) == []
    for t in cron:
        assert f"tick {t['id']} every_second (cron {t['fired_by']['scheduled_for']}" in text

    status = json.loads(weir(workspace_dir, project, "daemon", "status", "--json").stdout)
    assert [(d["pid"], d["state"], d["doing"]) for d in status] == [(proc.pid, "stopped", "stopped")]


def _seconds(ticks: list[dict]) -> list[datetime]:
    """Every cron second the ticks stand for: their own and the missed ones coalesced into them."""
    out = []
    for t in ticks:
        fired = t["fired_by"]
        assert not fired["at_least"]
        out.append(fired["scheduled_for"])
        out.extend(fired["missed_times"])
        assert len(fired["missed_times"]) == fired["missed"]
    return sorted(datetime.fromisoformat(s) for s in out)


def _gaps(seconds: list[datetime]) -> list[str]:
    return [f"{a:%H:%M:%S}..{b:%H:%M:%S}" for a, b in itertools.pairwise(seconds)
            if b - a != timedelta(seconds=1)]


def test_sigkill_in_the_middle_of_a_build_then_a_restart_loses_nothing_and_runs_nothing_twice(
        make_project, workspace_dir, tmp_path, sqlite):
    project = make_project({"weir.toml": TOML, "assets.py": ASSETS})
    log = tmp_path / "daemon.log"
    (project / "slow").write_text("")
    proc = start(workspace_dir, project, log=log)
    try:
        wait_for("the daemon to start", lambda: "started" in log.read_text(), [proc])
        land(project, 3)
        wait_for("the build to begin", lambda: (project / "building").exists(), [proc])
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=TIMEOUT)
    assert proc.returncode == -signal.SIGKILL
    [killed] = history(workspace_dir, project, "landing")
    assert killed["state"] == "running" and [s["state"] for s in killed["steps"]] == ["succeeded", "running"]

    (project / "slow").unlink()
    again = start(workspace_dir, project, log=log)  # not refused: the dead daemon's process is gone
    try:
        wait_for("the tick to be taken on and finish",
                 lambda: history(workspace_dir, project, "landing")[0]["state"] == "succeeded", [again])
    finally:
        assert stop(again) == 0, log.read_text()
    [tick] = history(workspace_dir, project, "landing")
    assert tick["claims"] == 2 and tick["holder"] != killed["holder"]
    assert [s["state"] for s in tick["steps"]] == ["succeeded"] * 3
    assert tick["steps"][1]["resumed"] == f"after {killed['holder']} stopped during it"
    assert calls(project) == [{"tick": tick["id"], "scenario": "landing"}]  # the step after the build: once
    with Workspace(workspace_dir, project) as ws:
        runs = {r: ws.runs.detail(r) for r in tick["run_ids"]}
        assert ws.data.read("clean", "2024-01-03").num_rows == 3
    assert sorted(r["state"] for r in runs.values()) == ["failed", "succeeded"]  # the killed run, closed as dead
    assert all(r["trigger"] == f"tick:{tick['id']}" for r in runs.values())
    text = log.read_text()
    assert f"daemon {killed['holder']} is dead (its process {proc.pid}" in text
    status = {d["pid"]: d for d in json.loads(weir(workspace_dir, project, "daemon", "status", "--json").stdout)}
    assert status[proc.pid]["state"] == "stopped" and status[proc.pid]["doing"].startswith("dead: its process")


def test_sigterm_in_the_middle_of_a_build_hands_the_tick_back_and_the_next_daemon_goes_on(
        make_project, workspace_dir, tmp_path, sqlite):
    project = make_project({"weir.toml": TOML, "assets.py": ASSETS})
    log = tmp_path / "daemon.log"
    (project / "slow").write_text("")
    proc = start(workspace_dir, project, log=log)
    try:
        wait_for("the daemon to start", lambda: "started" in log.read_text(), [proc])
        land(project, 4)
        wait_for("the build to begin", lambda: (project / "building").exists(), [proc])
    finally:
        code = stop(proc)
    assert code == 0, log.read_text()
    assert "handed back (interrupted)" in log.read_text()
    [handed] = history(workspace_dir, project, "landing")
    assert handed["state"] == "pending" and handed["holder"] is None
    assert [s["state"] for s in handed["steps"]] == ["succeeded", "handed back"]
    assert calls(project) == []

    (project / "slow").unlink()
    once = weir(workspace_dir, project, "daemon", "--once", process=True)
    assert f"tick {handed['id']} landing (landed: raw 2024-01-04): succeeded" in once.stdout
    [tick] = history(workspace_dir, project, "landing")
    assert tick["state"] == "succeeded" and tick["claims"] == 2
    assert [s["state"] for s in tick["steps"]] == ["succeeded"] * 3 and len(calls(project)) == 1
    with Workspace(workspace_dir, project) as ws:
        assert sorted(ws.runs.detail(r)["state"] for r in tick["run_ids"]) == ["cancelled", "succeeded"]


def test_sigterm_lets_the_current_step_finish_then_hands_the_tick_back(make_project, workspace_dir, tmp_path, sqlite):
    project = make_project({"weir.toml": TOML, "assets.py": ASSETS})
    log = tmp_path / "daemon.log"
    (project / "slow").write_text("")
    with Workspace(workspace_dir, project) as ws, ws.store.transaction():
        now = time.time()
        ws.store.ticks.create({"project": "demo", "scenario": "held", "scheduled_for": "test:held", "trigger": "manual",
                               "fired_by": {"kind": "manual"}, "state": "pending", "created_at": now, "due_at": now,
                               "steps": [], "run_ids": []})
    proc = start(workspace_dir, project, log=log)
    try:
        wait_for("the step to begin", lambda: (project / "holding").exists(), [proc])
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert proc.poll() is None  # the step is not cut short
        (project / "slow").unlink()
        code = proc.wait(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 0, log.read_text()
    [handed] = history(workspace_dir, project, "held")
    assert handed["state"] == "pending" and [s["state"] for s in handed["steps"]] == ["succeeded"]
    assert "handed back at step 2" in log.read_text()
    once = weir(workspace_dir, project, "daemon", "--once", process=True)
    assert f"tick {handed['id']} held" in once.stdout
    [tick] = history(workspace_dir, project, "held")
    assert tick["state"] == "succeeded" and [s["state"] for s in tick["steps"]] == ["succeeded", "succeeded"]
    assert calls(project) == [{"tick": tick["id"], "scenario": "held"}]


@pytest.mark.postgres
@pytest.mark.slow
def test_three_daemons_on_postgresql_fire_every_tick_once_and_miss_none(make_project, workspace_dir, tmp_path,
                                                                        postgres_url):
    project = make_project({"weir.toml": TOML, "assets.py": ASSETS + EVERY_SECOND})
    env = {**{k: v for k, v in os.environ.items() if k != "WEIR_HOME"}, "WEIR_DATABASE_URL": postgres_url}
    logs = [tmp_path / f"daemon-{i}.log" for i in range(3)]
    procs = [start(workspace_dir, project, log=log, env=env) for log in logs]
    try:
        wait_for("all three to start", lambda: all("started" in log.read_text() for log in logs), procs)
        for n, day in enumerate((5, 6, 7), start=1):  # three landings, apart: three landing ticks
            land(project, day)
            wait_for(f"the landing of day {day}",
                     lambda n=n: sum(c["scenario"] == "landing" for c in calls(project)) == n, procs)
        wait_for("twelve cron ticks", lambda: sum(c["scenario"] == "every_second" for c in calls(project)) >= 12, procs)
    finally:
        codes = [stop(p) for p in procs]
    assert codes == [0, 0, 0], [log.read_text() for log in logs]

    cron = history(workspace_dir, project, "every_second")
    landing = history(workspace_dir, project, "landing")
    ran = [c["tick"] for c in calls(project)]
    assert len(ran) == len(set(ran))  # no tick ran twice
    assert sorted(ran) == sorted(t["id"] for t in cron + landing)  # and every tick ran
    assert {t["state"] for t in cron + landing} == {"succeeded"}
    assert [t["fired_by"]["partitions"] for t in landing] == [{"raw": [f"2024-01-0{d}"]} for d in (5, 6, 7)]
    covered = _seconds(cron)
    assert len(covered) == len(set(covered)), "a cron second fired twice"
    assert _gaps(covered) == [], "a cron second was missed"
    holders = {t["holder"].rsplit(":", 1)[0] for t in cron + landing}
    assert len(holders) >= 2, f"one daemon ran every tick: {holders}"
    assert datetime.now(UTC) - covered[-1] < timedelta(minutes=5)
