"""Alerts on real runs, over real channels on loopback: a JSON-lines file, a webhook served by a
real HTTP server in this process, email through a real SMTP server (aiosmtpd). A blocked day
opens an incident whose caution reaches the dashboard's owner and whose diagnosis reaches the
data team; the good file arrives and both hear it is resolved. An endpoint that is down loses
nothing and fails nothing; Retry-After is honoured; a message that keeps failing is dead-lettered
and can be sent again; a sender killed mid-delivery loses nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from conftest import land_csv
from conftest import weir_cli as weir

from weir.alerts.service import LEASE
from weir.errors import ConfigError
from weir.workspace import RunRequest, Workspace

START = dt.date(2024, 1, 1)
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


daily_dashboard = weir.insight("daily_dashboard", depends_on=["summary"], owners=["ops@example.com"],
                               url="https://dash.example/daily")
'''
SECRET = "s3cret"


def key(i: int) -> str:
    return (START + dt.timedelta(days=i)).isoformat()


def land(project: Path, i: int, *, nulls: bool = False, scale: float = 1.0) -> None:
    rng = np.random.default_rng(100 + i)
    values = rng.normal(100, 10, 60) * scale
    rows = [{"id": j, "value": None if nulls and j < 5 else round(float(values[j]), 3), "category": "abc"[j % 3]}
            for j in range(60)]
    land_csv(project, f"landing/{key(i)}.csv", rows)


def deliver(ws: Workspace, project: Path, i: int, *, nulls: bool = False) -> None:
    land(project, i, nulls=nulls)
    ws.quality.ingest("raw", [key(i)])
    ws.runs.run(RunRequest(executor="inprocess", stale=True))


def toml(routes: str, extra: str = "") -> str:
    return f'[project]\nname = "demo"\n\n[defaults]\nowners = ["data-team@example.com"]\n\n[alerts]\n{extra}\n{routes}'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Hook:
    """A real webhook receiver on loopback: answers each POST with the next planned status (then 200)."""

    def __init__(self, port: int, plan: list[tuple[int, dict]] | None = None, delay: float = 0.0) -> None:
        self.port, self.plan, self.delay, self.received = port, list(plan or []), delay, []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(hook.delay)
                status, headers = hook.plan.pop(0) if hook.plan else (200, {})
                if status == 200:
                    hook.received.append((dict(self.headers), body))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def blocked(make_project, workspace_dir, tmp_path):
    """Builds a project with ``routes``, three clean days, then a day whose delivery is blocked."""

    def build(routes: str, extra: str = "") -> tuple[Path, Path]:
        project = make_project({"assets.py": PROJECT, "weir.toml": toml(routes, extra)})
        with Workspace(workspace_dir, project) as ws:
            for i in range(3):
                deliver(ws, project, i)
            deliver(ws, project, 3, nulls=True)
            ws.incidents.sync()
        return project, workspace_dir

    return build


FILE_ROUTES = '''
[alerts.routes.ops]
channel = "file"
audience = "business"
path = "out/alerts.jsonl"

[alerts.routes.data]
channel = "file"
audience = "team"
path = "out/alerts.jsonl"
'''


def lines(project: Path) -> list[dict]:
    path = project / "out" / "alerts.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def test_a_blocked_day_tells_the_owner_in_plain_words_and_the_team_the_diagnosis_then_both_hear_it_resolved(blocked):
    project, home = blocked(FILE_ROUTES)
    with Workspace(home, project) as ws:
        [incident] = ws.incidents.list()
        done = ws.alerts.deliver()
        assert len(done.sent) == 2 and not done.failed
        caution, team = sorted(lines(project), key=lambda m: m["audience"])
        assert caution["audience"] == "business" and caution["recipients"] == ["ops@example.com"]
        assert "daily_dashboard" in caution["subject"] and "4 January 2024" in caution["subject"]
        assert "held back" in caution["text"] and "We will write again" in caution["text"]
        assert "https://dash.example/daily" in caution["text"]
        for jargon in ("not_null", "null_fraction", "Traceback", "partition", "value"):
            assert jargon not in caution["text"]  # no metric or check names for the business
        assert team["recipients"] == ["data-team@example.com"]
        assert f"weir incidents show {incident['id']}" in team["text"]
        assert "diagnosis:" in team["text"] and "the pipeline broke" in team["text"]
        assert "daily_dashboard is broken" in team["text"]  # the impact, with the insight's trust
        assert ws.alerts.deliver().sent == []  # nothing twice

        deliver(ws, project, 3)  # the good file arrives: rebuilt clean, the incident resolves itself
        ws.incidents.sync()
        assert ws.incidents.list()[0]["state"] == "resolved"
        assert len(ws.alerts.deliver().sent) == 2
    restored = [m for m in lines(project)[2:] if m["audience"] == "business"]
    assert len(restored) == 1 and restored[0]["subject"] == "daily_dashboard can be trusted again for 4 January 2024"
    assert "the data for those days was rebuilt and checked" in restored[0]["text"]
    keys = [m["key"] for m in lines(project)]
    assert len(keys) == len(set(keys)) == 4


def test_the_same_change_is_queued_once_and_business_routes_hear_only_of_incidents_that_reach_an_insight(
        blocked, make_project, workspace_dir):
    project, home = blocked(FILE_ROUTES)
    with Workspace(home, project) as ws:
        [incident] = ws.incidents.list()
        with ws.store.transaction():
            assert ws.alerts.queue(incident["id"], "opened") == 0  # already queued by the sync
        assert len(ws.alerts.list()) == 2
    # the same fault in a project whose dashboard does not rest on it: the team hears, the business does not
    other = make_project({"assets.py": PROJECT.replace('depends_on=["summary"]', 'depends_on=["elsewhere"]')
                          + "\n\n@weir.asset(partitions=days)\ndef elsewhere():\n    import pandas\n"
                          "    return pandas.DataFrame({'x': [1]})\n",
                          "weir.toml": toml(FILE_ROUTES)}, name="other")
    with Workspace(workspace_dir / "other", other) as ws:
        deliver(ws, other, 0, nulls=True)
        ws.incidents.sync()
        assert [r["audience"] for r in ws.alerts.list()] == ["team"]


def test_a_webhook_that_is_down_loses_nothing_and_fails_no_build_and_is_signed_when_it_returns(
        blocked, monkeypatch):
    port = free_port()
    monkeypatch.setenv("WEIR_TEST_SECRET", SECRET)
    routes = f'''
[alerts.routes.chat]
channel = "webhook"
audience = "team"
url = "http://127.0.0.1:{port}/hook"
secret_env = "WEIR_TEST_SECRET"
timeout = 2
'''
    project, home = blocked(routes)
    # the CLI run that opens the next incident exits 0 though nothing listens on the port (a day
    # later than the day after: a day blocked right after a blocked day joins its incident)
    land(project, 5, nulls=True)
    result = weir(home, project, "ingest", "raw", "--partition", key(5))
    result = weir(home, project, "run", "--stale", expect=None)
    assert result.returncode in (0, 1)  # 1: the blocked day; never an alert endpoint's failure
    assert "not sent yet, will retry" in result.stderr
    with Workspace(home, project) as ws:
        pending = ws.alerts.list()
        assert pending and all(r["state"] == "pending" and r["attempts"] >= 1 for r in pending)
        assert "ConnectError" in (pending[0]["last_error"] or "")
        hook = Hook(port)
        try:
            done = ws.alerts.deliver(now=max(r["next_at"] for r in pending) + 1)
        finally:
            hook.stop()
    assert len(done.sent) == len(pending) == len(hook.received)
    headers, body = hook.received[0]
    stamp = headers["X-Weir-Timestamp"]
    expected = "sha256=" + hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert headers["X-Weir-Signature"] == expected
    payload = json.loads(body)
    assert payload["text"].startswith("*incident ") and payload["key"] == headers["Idempotency-Key"]
    assert payload["commands"][0].startswith("weir incidents show")


def test_retry_after_is_honoured_and_a_message_that_keeps_failing_is_dead_lettered_then_retried(blocked):
    port = free_port()
    routes = f'''
[alerts.routes.chat]
channel = "webhook"
audience = "team"
url = "http://127.0.0.1:{port}/hook"
'''
    project, home = blocked(routes, extra="max_attempts = 2\nbackoff = 10")
    hook = Hook(port, plan=[(503, {"Retry-After": "120"}), (500, {}), (500, {})])
    try:
        with Workspace(home, project) as ws:
            now = time.time()
            done = ws.alerts.deliver(now=now)
            [row] = ws.alerts.list()
            assert done.failed and row["state"] == "pending" and row["next_at"] == pytest.approx(now + 120)
            assert ws.alerts.deliver(now=now + 60).failed == []  # not due yet: nothing tried
            done = ws.alerts.deliver(now=now + 121)  # 500, attempt 2 of 2: dead
            [row] = ws.alerts.list()
            assert done.dead and row["state"] == "dead" and "500" in row["last_error"]
            assert ws.alerts.deliver(now=now + 10_000).sent == []  # the dead stay dead
        # an operator sends it again: the endpoint answers 500 once more, then 200 on the next pass
        result = weir(home, project, "alerts", "retry", str(row["id"]), expect=1)
        assert "will retry" in result.stderr
        with Workspace(home, project) as ws:
            assert ws.alerts.deliver(now=time.time() + 60).sent
            [row] = ws.alerts.list()
        assert row["state"] == "delivered" and len(hook.received) == 1
        listed = json.loads(weir(home, project, "alerts", "--json").stdout)
        assert listed[0]["state"] == "delivered" and listed[0]["subject"].startswith("incident ")
        assert listed[0]["retried_by"]  # who sent it again: the OS user at the CLI
    finally:
        hook.stop()


def test_a_rejected_request_is_dead_at_once(blocked):
    port = free_port()
    routes = f'[alerts.routes.chat]\nchannel = "webhook"\naudience = "team"\nurl = "http://127.0.0.1:{port}/"\n'
    project, home = blocked(routes)
    hook = Hook(port, plan=[(404, {})])
    try:
        with Workspace(home, project) as ws:
            done = ws.alerts.deliver()
    finally:
        hook.stop()
    assert done.dead and "404" in done.dead[0]["last_error"]


def test_email_reaches_the_owner_and_the_team_through_a_real_smtp_server(blocked):
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self) -> None:
            self.mails: list = []

        async def handle_DATA(self, server, session, envelope):
            self.mails.append(envelope)
            return "250 OK"

    port = free_port()
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    routes = f'''
[alerts.routes.owners]
channel = "email"
audience = "business"
smtp_host = "127.0.0.1"
smtp_port = {port}
sender = "weir@example.com"

[alerts.routes.team]
channel = "email"
audience = "team"
smtp_host = "127.0.0.1"
smtp_port = {port}
'''
    try:
        project, home = blocked(routes)
        with Workspace(home, project) as ws:
            done = ws.alerts.deliver()
    finally:
        controller.stop()
    assert len(done.sent) == 2
    by_rcpt = {tuple(m.rcpt_tos): m.content.decode() for m in inbox.mails}
    assert set(by_rcpt) == {("ops@example.com",), ("data-team@example.com",)}
    owner = by_rcpt[("ops@example.com",)]
    assert "Subject: Treat daily_dashboard with care for 4 January 2024" in owner
    assert "Message-ID: <" in owner and "X-Weir-Key: demo:" in owner
    assert "weir incidents show" in by_rcpt[("data-team@example.com",)]


def test_a_sender_killed_mid_delivery_loses_nothing(blocked):
    port = free_port()
    routes = f'[alerts.routes.chat]\nchannel = "webhook"\naudience = "team"\nurl = "http://127.0.0.1:{port}/"\ntimeout = 60\n'
    project, home = blocked(routes)
    hook = Hook(port, delay=30)  # answers too late: the sender is killed while it waits
    env = {k: v for k, v in os.environ.items() if k not in ("WEIR_HOME", "WEIR_DATABASE_URL")}
    proc = subprocess.Popen([sys.executable, "-m", "weir.cli.main", "--workspace", str(home), "--project", str(project),
                             "alerts", "deliver"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with Workspace(home, project) as ws:
            deadline = time.time() + 60
            while time.time() < deadline and not (ws.alerts.list() and ws.alerts.list()[0]["state"] == "sending"):
                time.sleep(0.1)
            [row] = ws.alerts.list()
            assert row["state"] == "sending"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        hook.delay = 0
        with Workspace(home, project) as ws:
            assert ws.alerts.deliver().sent == []  # its lease still holds: nobody sends it twice at once
            done = ws.alerts.deliver(now=time.time() + LEASE + 1)  # the lease ran out: taken again
            [row] = ws.alerts.list()
    finally:
        proc.kill()
        hook.stop()
    assert len(done.sent) == 1 and row["state"] == "delivered" and row["attempts"] == 2
    assert hook.received and hook.received[-1][0]["Idempotency-Key"] == row["key"]


def test_alerts_test_sends_over_a_route_and_names_what_is_wrong(blocked, make_project, workspace_dir):
    project, home = blocked(FILE_ROUTES + '\n[alerts.routes.down]\nchannel = "webhook"\naudience = "team"\n'
                            f'url = "http://127.0.0.1:{free_port()}/"\ntimeout = 1\n')
    result = weir(home, project, "alerts", "test", "ops")
    assert "test message sent" in result.stdout
    assert lines(project)[-1]["data"] == {"test": True}
    assert "routes: ops, data, down" in weir(home, project, "alerts", "test", "nope", expect=2).stderr
    assert "ConnectError" in weir(home, project, "alerts", "test", "down", expect=1).stderr
    shown = weir(home, project, "alerts", "show", "1").stdout
    assert "subject:" in shown


@pytest.mark.parametrize(("routes", "message"), [
    ('[alerts.routes.x]\nchannel = "pager"\naudience = "team"\n', "alerts.routes.x.channel 'pager' must be one of"),
    ('[alerts.routes.x]\nchannel = "webhook"\naudience = "team"\n', "alerts.routes.x.url None must be an http"),
    ('[alerts.routes.x]\nchannel = "file"\naudience = "everyone"\n', "alerts.routes.x.audience 'everyone'"),
    ('[alerts.routes.x]\nchannel = "file"\naudience = "team"\nurl = "http://a"\n', "unknown key 'alerts.routes.x.url'"),
    ('[alerts.routes.x]\nchannel = "email"\naudience = "team"\nsmtp_port = 99999\n', "smtp_port must be a port"),
])
def test_bad_alert_routes_are_one_line_naming_the_field(make_project, workspace_dir, routes, message):
    project = make_project({"assets.py": PROJECT, "weir.toml": toml(routes)})
    with pytest.raises(ConfigError, match="weir.toml"):
        Workspace(workspace_dir, project).project  # noqa: B018 - loading is the point
    result = weir(workspace_dir, project, "alerts", expect=2)
    assert message in result.stderr and "weir.toml" in result.stderr


def moved(ws: Workspace, project: Path) -> dict:
    """Twenty good days, then a day whose values moved (a monitor alert: suspect data under the
    dashboard, a medium incident); returns the incident."""
    for i in range(20):
        deliver(ws, project, i)
    land(project, 20, scale=60)
    ws.quality.ingest("raw", [key(20)])
    ws.runs.run(RunRequest(executor="inprocess", stale=True))
    ws.incidents.sync()
    [incident] = ws.incidents.list()
    assert incident["severity"] == "medium"
    return incident


def test_a_business_route_hears_of_a_medium_incident_that_makes_its_insight_suspect(make_project, workspace_dir):
    project = make_project({"assets.py": PROJECT, "weir.toml": toml(FILE_ROUTES)})
    with Workspace(workspace_dir, project) as ws:
        moved(ws, project)
        assert [t["status"] for t in ws.incidents.trust(sync=False)] == ["suspect"]
        assert sorted(r["audience"] for r in ws.alerts.list()) == ["business", "team"]
        ws.alerts.deliver()
    [caution] = [m for m in lines(project) if m["audience"] == "business"]
    assert caution["recipients"] == ["ops@example.com"]
    assert caution["subject"] == "Treat daily_dashboard with care for 21 January 2024"


def test_a_route_with_min_severity_records_each_skip_with_its_reason_and_hears_when_the_incident_escalates(
        make_project, workspace_dir):
    routes = FILE_ROUTES.replace('audience = "business"\n', 'audience = "business"\nmin_severity = "high"\nformat = "text"\n'
                                 ).replace('path = "out/alerts.jsonl"', 'path = "out/business.txt"', 1)
    project = make_project({"assets.py": PROJECT, "weir.toml": toml(routes)})
    with Workspace(workspace_dir, project) as ws:
        incident = moved(ws, project)
        [team] = ws.alerts.list("pending")  # the owner is not told of a medium one, and the outbox says so
        [skip] = ws.alerts.list("skipped")
        assert team["audience"] == "team" and skip["route"] == "ops" and skip["incident_id"] == incident["id"]
        assert [r["route"] for r in ws.alerts.deliver().sent] == ["data"]
        assert not (project / "out" / "business.txt").exists()  # a skip is never sent
    listed = json.loads(weir(workspace_dir, project, "alerts", "--state", "skipped", "--json").stdout)
    assert [(a["route"], a["state"], a["subject"], a["last_error"]) for a in listed] == [("ops", "skipped", None, None)]
    assert listed[0]["reason"] == ("severity medium below the route's min_severity high: not told about "
                                   "daily_dashboard (ops@example.com)")
    assert "below the route's min_severity high" in weir(workspace_dir, project, "alerts").stdout
    with Workspace(workspace_dir, project) as ws:
        deliver(ws, project, 20, nulls=True)  # the same day again, now blocked: the incident escalates
        ws.incidents.sync()
        [incident] = ws.incidents.list()
        assert incident["severity"] == "high"
        by_state = sorted((r["audience"], r["state"]) for r in ws.alerts.list())
        assert by_state == [("business", "pending"), ("business", "skipped"), ("team", "delivered")]
        ws.alerts.deliver()
    text = (project / "out" / "business.txt").read_text()
    assert text.startswith("=== ") and "subject: Treat daily_dashboard with care for 21 January 2024" in text


def test_a_resolution_tells_the_owner_no_more_than_it_says(blocked):
    project, home = blocked(FILE_ROUTES)
    with Workspace(home, project) as ws:
        [incident] = ws.incidents.list()
        ws.alerts.deliver()
    weir(home, project, "incidents", "resolve", str(incident["id"]), "--reason", "expected")  # delivers it
    [closing] = [m for m in lines(project)[2:] if m["audience"] == "business"]
    assert closing["subject"] == "daily_dashboard: the change for 4 January 2024 was real"
    assert "the change was judged real: the figures stand" in closing["text"]
    for promise in ("trusted", "corrected and", "rebuilt", "No need"):
        assert promise not in closing["text"] + closing["subject"]


CODE_PROJECT = PROJECT.replace(
    "@weir.asset(partitions=days, checks=[weir.checks.not_null(\"value\", severity=\"block\")])\n"
    "def clean(raw):\n    return raw\n", "{clean}")


def clean_asset(line_50: str) -> str:
    """``clean`` declared in 60 lines, of which line 50 is ``line_50``."""
    lines = ['@weir.asset(partitions=days, checks=[weir.checks.not_null("value", severity="block")])',
             "def clean(raw):", "    out = raw.copy()"]
    lines += [f"    step_{i} = {i}" for i in range(4, 50)]
    lines += [line_50]
    lines += [f"    step_{i} = {i}" for i in range(51, 60)]
    lines += ["    return out"]
    assert len(lines) == 60 and lines[49] == line_50
    return "\n".join(lines) + "\n"


def test_the_team_reads_the_changed_line_of_a_long_asset_and_its_whole_diff(make_project, workspace_dir):
    before = "    out['value'] = out['value'].astype('float64')"  # as weir keeps a definition: quotes normalised
    after = "    out['value'] = None"
    project = make_project({"assets.py": CODE_PROJECT.replace("{clean}", clean_asset(before)),
                            "weir.toml": toml(FILE_ROUTES)})
    with Workspace(workspace_dir, project) as ws:
        for i in range(4):
            deliver(ws, project, i)
        assert ws.incidents.list() == []
    (project / "assets.py").write_text(CODE_PROJECT.replace("{clean}", clean_asset(after)))
    with Workspace(workspace_dir, project) as ws:  # the new code rebuilds one day: blocked
        ws.runs.run(RunRequest(executor="inprocess", assets=("clean",), partition=key(3)))
        ws.incidents.sync()
        [incident] = ws.incidents.list()
        ws.alerts.deliver()
    [team] = [m for m in lines(project) if m["audience"] == "team"]
    text = team["text"]
    assert f"-{before}" in text and f"+{after}" in text  # the changed line, not cut before it
    assert "@@ -48,3 +48,3 @@" in text and "--- last good" not in text  # a hunk: its place in the definition
    assert text.index(f"+{after}") < text.index("fix: revert the change to clean")
    assert "more lines" not in text  # a short diff is whole
    assert f"weir incidents show {incident['id']}" in text


def test_a_long_diff_is_cut_only_past_the_limit_with_a_pointer_to_the_whole():
    import difflib

    from weir.alerts.evidence import LIMIT
    from weir.alerts.messages import team_message

    old = [f"    step_{i} = {i}" for i in range(300)]
    new = [f"    step_{i} = {i * 2}" for i in range(300)]
    diff = list(difflib.unified_diff(old, new, "last good", "this build", lineterm="", n=1))
    packages = [{"package": f"lib{i}", "change": "upgraded", "from": "1.0", "to": "2.0", "major": True} for i in range(40)]
    diagnosis = {"asset": "clean", "partition": "2024-01-04", "packages": packages,
                 "code": {"from": "a", "to": "b", "diff": diff}, "config": None,
                 "classification": {"verdict": "the pipeline broke", "why": "the code changed", "for": "the data team"},
                 "causes": [{"kind": "code", "score": 0.95, "summary": "code changed", "evidence": diff[:40],
                             "fix": "revert"},
                            {"kind": "library", "score": 0.5, "summary": "40 packages changed",
                             "evidence": ["lib0 1.0 → 2.0 (upgraded)"] * 10, "fix": "rebuild"}]}
    incident = {"id": 7, "root_asset": "clean", "root_partition": "2024-01-04", "severity": "high", "title": "t"}
    text = team_message("opened", incident, [], diagnosis, {"assets": [], "insights": []}, recipients=()).text
    said = text.splitlines()
    assert said[4].strip() == "@@ -1,300 +1,300 @@" and said[6].strip() == "-    step_1 = 1"  # the change comes first
    pointer = f"… {len(diff) - 2 - (LIMIT - 1)} more lines: weir incidents show 7 --json"
    assert pointer in text
    assert all(f"lib{i} 1.0 → 2.0 (upgraded, major)" in text for i in range(40))  # every package, not 10


def test_the_closing_word_gives_trust_back_only_for_the_days_rebuilt_good():
    from types import SimpleNamespace

    from weir.alerts.messages import business

    dash = SimpleNamespace(name="daily_dashboard", owners=("ops@example.com",), url=None, depends_on=("summary",))
    members = [{"asset": "raw", "partition_key": "2024-01-04", "kind": "source_blocked"}]
    scope = [{"asset": "summary", "partition": "2024-01-04", "fixed": True},
             {"asset": "summary", "partition": "2024-01-05", "fixed": True},
             {"asset": "summary", "partition": "2024-01-06", "fixed": False}]
    incident = {"id": 1, "root_asset": "raw", "root_partition": "2024-01-04", "reason": "fixed", "scope": scope}
    closing = business("resolved", incident, members, [dash], None, team=())
    assert closing.text.startswith("The data for 4 and 5 January 2024 was rebuilt and checked: daily_dashboard can "
                                   "be trusted again for those days. The data for 6 January 2024 has not been rebuilt")
    assert "trusted" not in closing.subject
    whole = business("resolved", {**incident, "scope": [{**s, "fixed": True} for s in scope]}, members, [dash], None,
                     team=())
    assert whole.subject == "daily_dashboard can be trusted again for 4, 5 and 6 January 2024"
    by_hand = business("resolved", {**incident, "scope": []}, members, [dash], None, team=())  # weir saw no rebuild
    assert by_hand.text.endswith("the data for those days was corrected, the data team reports.")
    alarm = business("resolved", {**incident, "reason": "false-alarm"}, members, [dash], None, team=())
    assert "it was a false alarm" in alarm.text and "trusted" not in alarm.text + alarm.subject
