"""The durable event log: events are written with the change they describe, in order, read by
cursor, fanned out after commit; code definitions are kept per code version."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import land_csv
from conftest import weir_cli as weir

from weir.events import Event, EventBus, EventKind
from weir.store.store import MetadataStore
from weir.workspace import RunRequest, Workspace

PROJECT = '''
import weir
days = weir.daily(start="2024-01-01", end="2024-01-03")
raw = weir.source("raw", path="landing/{partition}.csv", partitions=days, columns={"id": "int", "x": "float"},
                  checks=[weir.checks.row_count(min=2, severity="block")])

@weir.asset(partitions=days, checks=[weir.checks.not_null("x", severity="warn")])
def clean(raw):
    return raw

@weir.asset(partitions=days)
def doubled(clean):
    return clean.assign(x=clean["x"] * 2)
'''


def land(project: Path, day: str, n: int) -> None:
    land_csv(project, f"landing/{day}.csv", [{"id": i, "x": None if i == 0 else i * 1.5} for i in range(n)])


def build(home: Path, project: Path, **request):
    request.setdefault("executor", "inprocess")
    with Workspace(home, project) as ws:
        return ws.runs.run(RunRequest(**request))


def events(home: Path, project: Path, **kw) -> list[Event]:
    with Workspace(home, project) as ws:
        return ws.events.list(limit=None, **kw)


def test_a_run_logs_its_changes_in_order_with_increasing_ids(backend, make_project, workspace_dir):
    project = make_project({"assets.py": PROJECT})
    land(project, "2024-01-01", 5)
    land(project, "2024-01-02", 1)  # too few rows: the source partition is blocked
    result = build(workspace_dir, project)
    log = events(workspace_dir, project)
    assert [e.id for e in log] == sorted(e.id for e in log) and len({e.id for e in log}) == len(log)
    kinds = [e.kind for e in log]
    assert kinds[0] == EventKind.RUN_STARTED and kinds[-1] == EventKind.RUN_FINISHED
    assert all(e.run_id == result.run_id for e in log)
    assert log[-1].data["state"] == "failed"
    by = {(e.kind, e.asset, e.partition_key) for e in log}
    assert (EventKind.SOURCE_ADMITTED, "raw", "2024-01-01") in by
    assert (EventKind.SOURCE_BLOCKED, "raw", "2024-01-02") in by
    assert (EventKind.PARTITION_PUBLISHED, "clean", "2024-01-01") in by
    assert (EventKind.PARTITION_PUBLISHED, "doubled", "2024-01-01") in by
    assert (EventKind.PARTITION_FAILED, "clean", "2024-01-02") in by  # upstream blocked
    # the failed check events carry the check; the warn check on clean fails on the null x
    failed_checks = [e for e in log if e.kind == EventKind.CHECK_FAILED]
    assert {(e.asset, e.data["check"]) for e in failed_checks} >= {("raw", "row_count"), ("clean", "not_null(x)")}
    # each publish event names the Delta version the store recorded
    with Workspace(workspace_dir, project) as ws:
        hist = ws.data.history("doubled", "2024-01-01")
    published = next(e for e in log if e.kind == EventKind.PARTITION_PUBLISHED and e.asset == "doubled")
    assert published.data["version"] == hist[0]["version"] and published.data["rows"] == 5


def test_a_blocked_partition_is_an_event_and_the_cursor_reads_only_what_is_new(make_project, workspace_dir):
    project = make_project({"assets.py": PROJECT.replace('not_null("x", severity="warn")', 'not_null("x", severity="block")')})
    land(project, "2024-01-01", 5)
    build(workspace_dir, project)
    first = events(workspace_dir, project)
    blocked = [e for e in first if e.kind == EventKind.PARTITION_BLOCKED]
    assert [(e.asset, e.partition_key) for e in blocked] == [("clean", "2024-01-01")]
    assert "not_null(x)" in blocked[0].data["message"]
    cursor = first[-1].id
    assert events(workspace_dir, project, after=cursor) == []
    land(project, "2024-01-03", 4)
    build(workspace_dir, project, stale=True)
    later = events(workspace_dir, project, after=cursor)
    assert later and all(e.id > cursor for e in later)
    assert events(workspace_dir, project, after=cursor, kinds=("run_finished",))[0].kind == EventKind.RUN_FINISHED


def test_events_are_written_in_the_transaction_of_their_change(tmp_path):
    store = MetadataStore.for_workspace(tmp_path / "ws", url=os.environ.get("WEIR_DATABASE_URL"))
    seen: list[Event] = []

    class Sink:
        def receive(self, batch):
            seen.extend(batch)

    store.bus.subscribe(Sink())
    with pytest.raises(RuntimeError, match="boom"), store.transaction():
        store.emit(Event(kind=EventKind.RUN_STARTED, project="p", run_id="r1"))
        raise RuntimeError("boom")
    with store.read():
        assert store.events.after(0) == []
    assert seen == []  # nothing that did not happen
    with store.transaction():
        store.emit(Event(kind=EventKind.RUN_STARTED, project="p", run_id="r2"),
                   Event(kind=EventKind.RUN_FINISHED, project="p", run_id="r2", data={"state": "succeeded"}))
        assert seen == []  # sinks hear of it after the commit
    assert [e.kind for e in seen] == [EventKind.RUN_STARTED, EventKind.RUN_FINISHED]
    with store.read():
        logged = store.events.after(0)
    assert [e.id for e in logged] == [e.id for e in seen] and logged[1].data == {"state": "succeeded"}
    with pytest.raises(RuntimeError, match="inside store.transaction"), store.read():
        store.emit(Event(kind=EventKind.RUN_STARTED, project="p"))
    store.close()


def test_the_bus_fans_out_to_every_sink_and_events_validate_their_kind():
    got: dict[str, list] = {"a": [], "b": []}

    class Sink:
        def __init__(self, name):
            self.name = name

        def receive(self, batch):
            got[self.name].extend(batch)

    a, b = Sink("a"), Sink("b")
    bus = EventBus([a])
    bus.subscribe(b)
    e = Event(kind="run_started", project="p")
    assert e.kind is EventKind.RUN_STARTED
    bus.publish([e])
    bus.unsubscribe(a)
    bus.publish([e])
    assert len(got["a"]) == 1 and len(got["b"]) == 2
    with pytest.raises(ValueError):
        Event(kind="no_such_kind", project="p")


def test_code_definitions_are_kept_per_code_version(backend, make_project, workspace_dir):
    project = make_project({"assets.py": PROJECT})
    land(project, "2024-01-01", 5)
    build(workspace_dir, project)
    (project / "assets.py").write_text((project / "assets.py").read_text().replace('clean["x"] * 2', 'clean["x"] * 3'))
    build(workspace_dir, project, stale=True)
    with Workspace(workspace_dir, project) as ws, ws.store.read():
        kept = ws.store.code.of_asset("demo", "doubled")
    assert len(kept) == 2
    assert "* 3" in kept[0]["definition"] and "* 2" in kept[1]["definition"]
    assert kept[0]["settings"]["partitions"]["kind"] == "daily"


def test_weir_events_cli_lists_json_and_refuses_unknown_kinds(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "weir.toml").write_text('[project]\nname = "demo"\n')
    (project / "assets.py").write_text(PROJECT)
    land(project, "2024-01-01", 5)
    ws = tmp_path / "ws"
    weir(ws, project, "run", "--executor", "inprocess")
    rows = json.loads(weir(ws, project, "events", "--json").stdout)
    assert set(rows[0]) == {"id", "kind", "at", "project", "asset", "key", "partition", "run_id", "data"}
    assert rows[0]["kind"] == "run_started" and rows[-1]["kind"] == "run_finished"
    assert rows[0]["asset"] is None and rows[0]["key"] is None
    published = next(r for r in rows if r["kind"] == "partition_published")
    assert published["key"] == f"demo.{published['asset']}"
    tail = json.loads(weir(ws, project, "events", "--after", str(rows[-2]["id"]), "--json").stdout)
    assert [r["id"] for r in tail] == [rows[-1]["id"]]
    out = weir(ws, project, "events", "--kind", "published", expect=2)
    assert "not an event kind" in out.stderr and "partition_published" in out.stderr


def test_weir_events_shows_the_newest_events_and_pages_both_ways(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "weir.toml").write_text('[project]\nname = "demo"\n')
    (project / "assets.py").write_text(PROJECT)
    land(project, "2024-01-01", 5)
    ws = tmp_path / "ws"
    weir(ws, project, "run", "--executor", "inprocess")
    land(project, "2024-01-02", 5)
    weir(ws, project, "run", "--stale", "--executor", "inprocess")
    every = json.loads(weir(ws, project, "events", "--limit", "1000", "--json").stdout)
    ids = [r["id"] for r in every]
    assert ids == sorted(ids) and len(ids) > 6
    newest = json.loads(weir(ws, project, "events", "--limit", "3", "--json").stdout)
    assert [r["id"] for r in newest] == ids[-3:]  # the newest end of the log, oldest first on the page
    assert newest[-1]["kind"] == "run_finished"
    older = json.loads(weir(ws, project, "events", "--limit", "3", "--before", str(ids[-3]), "--json").stdout)
    assert [r["id"] for r in older] == ids[-6:-3]
    forward = json.loads(weir(ws, project, "events", "--limit", "3", "--after", str(ids[0]), "--json").stdout)
    assert [r["id"] for r in forward] == ids[1:4]
    text = weir(ws, project, "events", "--limit", "3").stdout
    assert f"older: weir events --before {ids[-3]}" in text
    assert f"more: weir events --after {ids[2]}" in weir(ws, project, "events", "--limit", "3", "--after", "0").stdout
    out = weir(ws, project, "events", "--after", "1", "--before", "5", expect=2)
    assert "--after" in out.stderr and "--before" in out.stderr


def test_a_payload_reads_the_data_of_its_kind_and_tolerates_older_events():
    from weir.events import Event, EventKind, IncidentResolved, IncidentUpdated, PartitionPublished, payload

    done = Event(kind=EventKind.PARTITION_PUBLISHED, project="p", data={"version": 3, "rows": 7, "later": 1})
    assert payload(done) == PartitionPublished(version=3, rows=7)  # a field it does not know is left out
    old = Event(kind=EventKind.INCIDENT_RESOLVED, project="p", data={"incident": 4, "reason": "fixed"})
    assert payload(old, IncidentResolved).automatic is False  # logged before ``automatic`` was
    joined = Event(kind=EventKind.INCIDENT_UPDATED, project="p", asset="root",
                   data={"incident": 4, "change": "joined", "asset": None})
    assert payload(joined, IncidentUpdated).names_asset and payload(joined, IncidentUpdated).asset is None
    assert not payload(Event(kind=EventKind.INCIDENT_UPDATED, project="p", data={"incident": 4}), IncidentUpdated).names_asset
    assert payload(Event(kind=EventKind.RUN_STARTED, project="p")) is None
    try:
        payload(done, IncidentResolved)
    except ValueError:
        pass
    else:
        raise AssertionError("a payload of another kind must not be read")
    assert done.to_json()["data"] == {"version": 3, "rows": 7, "later": 1}  # the log's form is untouched
