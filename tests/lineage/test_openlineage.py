"""OpenLineage, the first consumer of the event log: weir events become RunEvents that validate
against the OpenLineage JSON schemas (vendored, checked offline), sent at least once from a
cursor that moves only past what the transport accepted; an endpoint that is down never fails
the work and loses nothing."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import pytest
from conftest import land_csv
from conftest import weir_cli as weir

from weir.errors import ConfigError
from weir.events import Event, EventKind
from weir.lineage.openlineage import EVENTS_FILE, cursor_name, send_pending
from weir.project.config import load_config
from weir.store.store import MetadataStore
from weir.workspace import RunRequest, Workspace

SCHEMAS = Path(__file__).parent / "openlineage_schemas"
WEIR_FACETS = Path(__file__).resolve().parents[2] / "src" / "weir" / "lineage" / "ol_facets.json"
RUN_EVENT = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
EVENTS_PAGE = (Path(__file__).resolve().parents[2] / "docs" / "events.md").read_text()

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


# -- validating against the vendored schemas, offline ----------------------------------------
def _registry():
    from referencing import Registry, Resource

    docs = [json.loads(p.read_text()) for p in sorted(SCHEMAS.rglob("*.json"))] + [json.loads(WEIR_FACETS.read_text())]
    # no retrieve function: a $ref to anything not vendored fails instead of reaching the network
    return Registry().with_resources((d["$id"], Resource.from_contents(d)) for d in docs)


def _formats():
    from jsonschema import FormatChecker

    checker = FormatChecker(formats=())

    @checker.checks("date-time", raises=ValueError)
    def date_time(value) -> bool:
        return not isinstance(value, str) or ("T" in value and dt.datetime.fromisoformat(value).tzinfo is not None)

    @checker.checks("uri", raises=ValueError)
    def uri(value) -> bool:
        return not isinstance(value, str) or bool(urlparse(value).scheme)

    @checker.checks("uuid", raises=ValueError)
    def is_uuid(value) -> bool:
        return not isinstance(value, str) or bool(uuid.UUID(value))

    return checker


REGISTRY = None


def validate(event: dict) -> None:
    """The event against OpenLineage.json, and each facet against the schema its _schemaURL
    names, under the key that schema gives it."""
    from jsonschema import Draft202012Validator

    global REGISTRY
    REGISTRY = REGISTRY or _registry()

    def check(instance, ref: str) -> None:
        Draft202012Validator({"$ref": ref}, registry=REGISTRY, format_checker=_formats()).validate(instance)

    assert event["schemaURL"] == RUN_EVENT
    check(event, event["schemaURL"])
    containers = [event["run"].get("facets"), event["job"].get("facets")]
    for ds in event.get("inputs", []) + event.get("outputs", []):
        containers += [ds.get("facets"), ds.get("inputFacets"), ds.get("outputFacets")]
    for facets in filter(None, containers):
        for key, facet in facets.items():
            url = facet["_schemaURL"]
            check(facet, url)
            document = REGISTRY.contents(url.split("#")[0])
            assert key in document["properties"], f"{url} names its facet {list(document['properties'])}, not {key!r}"
            assert facet["_producer"].startswith("https://")


# -- helpers ---------------------------------------------------------------------------------
def land(project: Path, day: str, n: int) -> None:
    land_csv(project, f"landing/{day}.csv", [{"id": i, "x": None if i == 0 else i * 1.5} for i in range(n)])


def build(home: Path, project: Path, **request):
    request.setdefault("executor", "inprocess")
    with Workspace(home, project) as ws:
        return ws.runs.run(RunRequest(**request))


def send(home: Path, project: Path, **kw):
    with Workspace(home, project) as ws:
        sources = {name: s.path for name, s in ws.project.sources.items()}
        return send_pending(ws.store, ws.project.config, workspace=ws.home, data_root=ws.tables.root, sources=sources, **kw)


def cursor(home: Path, project: Path) -> int:
    with Workspace(home, project) as ws, ws.store.read():
        return ws.store.cursors.get(cursor_name("demo"))


def lines(home: Path) -> list[dict]:
    path = home / EVENTS_FILE
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def run_uuid(*parts: str) -> str:
    from weir.lineage.ol_events import run_uuid as make

    return make(*parts)


def of(events: list[dict], job: str, kind: str | None = None, partition: str | None = None) -> list[dict]:
    return [e for e in events if e["job"]["name"] == job and (kind is None or e["eventType"] == kind)
            and (partition is None or e["run"]["facets"]["weir_run"].get("partition") == partition)]


# -- the mapping -----------------------------------------------------------------------------
def test_a_run_becomes_valid_openlineage_runs_per_partition_under_the_weir_run(backend, make_project, workspace_dir):
    project = make_project({"assets.py": PROJECT})
    land(project, "2024-01-01", 5)
    land(project, "2024-01-02", 1)  # too few rows: the source partition is blocked, clean and doubled fail
    result = build(workspace_dir, project)
    delivery = send(workspace_dir, project)
    assert delivery.warning is None and delivery.transport == "file"
    events = lines(workspace_dir)
    assert len(events) == delivery.sent > 0
    for e in events:
        validate(e)

    parent = run_uuid(result.run_id)
    run_events = of(events, "demo")
    assert [e["eventType"] for e in run_events] == ["START", "FAIL"]  # the run failed: a source partition was blocked
    assert {e["run"]["runId"] for e in run_events} == {parent} and run_events[0]["job"]["namespace"] == "demo"
    env = run_events[0]["run"]["facets"]["weir_environment"]
    assert env["python"].startswith(sys.version.split()[0]) and env["packages"]["openlineage-python"]
    assert run_events[0]["run"]["facets"]["weir_run"] == {**run_events[0]["run"]["facets"]["weir_run"],
                                                         "runId": result.run_id, "trigger": "cli"}

    # clean 2024-01-01: START then COMPLETE of one run, child of the weir run
    start, complete = of(events, "clean", partition="2024-01-01")
    assert (start["eventType"], complete["eventType"]) == ("START", "COMPLETE")
    assert start["run"]["runId"] == complete["run"]["runId"] == run_uuid(result.run_id, "clean", "2024-01-01")
    assert complete["run"]["facets"]["parent"]["run"]["runId"] == parent
    assert complete["run"]["facets"]["parent"]["job"] == {"namespace": "demo", "name": "demo", "facets": {}}
    assert start["eventTime"] <= complete["eventTime"]
    assert "def clean(raw)" in start["job"]["facets"]["sourceCode"]["sourceCode"]
    assert "weir_environment" in start["run"]["facets"]

    (output,) = complete["outputs"]
    with Workspace(workspace_dir, project) as ws:
        version = ws.data.history("clean", "2024-01-01")[0]["version"]
        data_root = ws.tables.root
    assert (output["namespace"], output["name"]) == (data_root.resolve().as_uri(), "demo/clean")
    facets = output["facets"]
    assert facets["version"]["datasetVersion"] == str(version)
    assert output["outputFacets"]["subset"]["outputCondition"]["partitions"] == [
        {"identifier": "2024-01-01", "dimensions": {"partition": "2024-01-01"}}]
    assert [(f["name"], f["type"]) for f in facets["schema"]["fields"]] == [("id", "int64"), ("x", "double")]
    metrics = facets["dataQualityMetrics"]
    assert metrics["rowCount"] == 5 and metrics["columnMetrics"]["x"]["nullCount"] == 1
    assert metrics["columnMetrics"]["x"]["min"] == 1.5 and metrics["columnMetrics"]["x"]["max"] == 6.0
    assert set(metrics["columnMetrics"]["x"]["quantiles"]) == {"0.01", "0.5", "0.99"}
    (assertion,) = facets["dataQualityAssertions"]["assertions"]
    assert assertion == {**assertion, "assertion": "not_null", "success": False, "column": "x", "severity": "warn",
                         "name": "not_null(x)"}
    assert facets["symlinks"]["identifiers"] == [{"namespace": "file", "name": str(data_root.resolve() / "demo" / "clean"),
                                                  "type": "TABLE"}]
    # its input is the landed source, named by its path template in the project folder, with its fingerprint
    (source,) = complete["inputs"]
    assert (source["namespace"], source["name"]) == (project.resolve().as_uri(), "landing/{partition}.csv")
    (part,) = source["inputFacets"]["subset"]["inputCondition"]["partitions"]
    assert part["identifier"] == "2024-01-01" and len(part["dimensions"]["fingerprint"]) > 8

    # doubled reads clean at the version that was published
    (upstream,) = of(events, "doubled", "COMPLETE")[0]["inputs"]
    assert (upstream["namespace"], upstream["name"]) == (data_root.resolve().as_uri(), "demo/clean")
    assert upstream["inputFacets"]["subset"]["inputCondition"]["partitions"][0]["dimensions"] == {
        "partition": "2024-01-01", "version": version}

    # clean 2024-01-02 never ran (its source was blocked): START and FAIL with the reason
    start, fail = of(events, "clean", partition="2024-01-02")
    assert (start["eventType"], fail["eventType"]) == ("START", "FAIL")
    assert "raw" in fail["run"]["facets"]["errorMessage"]["message"]
    assert fail["run"]["facets"]["errorMessage"]["programmingLanguage"] == "python"
    assert fail["run"]["facets"]["weir_run"]["state"] == "upstream_failed"


def test_a_blocked_partition_is_a_fail_and_the_cursor_sends_only_what_is_new(make_project, workspace_dir):
    project = make_project({"assets.py": PROJECT.replace('not_null("x", severity="warn")', 'not_null("x", severity="block")')})
    land(project, "2024-01-01", 5)
    build(workspace_dir, project)
    first = send(workspace_dir, project)
    events = lines(workspace_dir)
    for e in events:
        validate(e)
    start, fail = of(events, "clean", partition="2024-01-01")
    assert (start["eventType"], fail["eventType"]) == ("START", "FAIL")
    assert "quarantined" in fail["run"]["facets"]["errorMessage"]["message"]
    assert "not_null(x)" in fail["run"]["facets"]["errorMessage"]["message"]
    (assertion,) = fail["outputs"][0]["facets"]["dataQualityAssertions"]["assertions"]
    assert (assertion["name"], assertion["success"], assertion["severity"]) == ("not_null(x)", False, "block")
    assert "version" not in fail["outputs"][0]["facets"]  # nothing was published
    assert cursor(workspace_dir, project) == first.cursor > 0

    again = send(workspace_dir, project)
    assert (again.read, again.sent, again.cursor) == (0, 0, first.cursor)
    assert len(lines(workspace_dir)) == len(events)

    land(project, "2024-01-03", 4)
    result = build(workspace_dir, project, partition="2024-01-03")
    later = send(workspace_dir, project)
    new = lines(workspace_dir)[len(events):]
    assert later.sent == len(new) > 0 and later.cursor > first.cursor
    assert {e["run"]["facets"]["weir_run"]["runId"] for e in new} == {result.run_id}
    for e in new:
        validate(e)


# -- HTTP: at least once, never in the way -----------------------------------------------------
class Receiver:
    """A real OpenLineage endpoint on loopback: answers ``status`` to every POST (or only after
    ``accept`` events have been taken), and keeps the events it accepted."""

    def __init__(self) -> None:
        self.status = 200
        self.accept: int | None = None
        self.accepted: list[dict] = []
        self.refused = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                ok = receiver.status == 200 and (receiver.accept is None or len(receiver.accepted) < receiver.accept)
                if ok and self.path == "/api/v1/lineage":
                    receiver.accepted.append(json.loads(body))
                    self.send_response(200)
                else:
                    receiver.refused += 1
                    self.send_response(503 if self.path == "/api/v1/lineage" else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def http_project(make_project, url: str) -> Path:
    toml = f'[project]\nname = "demo"\n\n[openlineage]\ntransport = "http"\nurl = "{url}"\nnamespace = "analytics"\ntimeout = 2\n'
    return make_project({"assets.py": PROJECT, "weir.toml": toml})


def test_an_endpoint_that_is_down_keeps_the_cursor_and_the_next_send_delivers_everything_once(
    backend, make_project, workspace_dir, receiver
):
    project = http_project(make_project, receiver.url)
    land(project, "2024-01-01", 5)
    build(workspace_dir, project)
    receiver.status = 503
    down = send(workspace_dir, project)
    assert down.sent == 0 and down.cursor == 0 and cursor(workspace_dir, project) == 0
    assert "did not accept" in down.warning and "503" in down.warning and "\n" not in down.warning
    assert receiver.refused >= 2 and receiver.accepted == []  # it retried, then gave up for now

    receiver.status = 200
    up = send(workspace_dir, project)
    assert up.warning is None and up.sent == len(receiver.accepted) > 0
    keys = [(e["run"]["runId"], e["eventType"]) for e in receiver.accepted]
    assert len(keys) == len(set(keys))  # each RunEvent exactly once
    assert {e["job"]["namespace"] for e in receiver.accepted} == {"analytics"}
    for e in receiver.accepted:
        validate(e)
    assert cursor(workspace_dir, project) == up.cursor > 0
    assert send(workspace_dir, project).sent == 0 and len(receiver.accepted) == up.sent
    assert not (workspace_dir / EVENTS_FILE).exists()


def test_a_send_cut_short_keeps_what_was_accepted_and_resends_only_the_rest(make_project, workspace_dir, receiver):
    project = http_project(make_project, receiver.url)
    land(project, "2024-01-01", 5)
    land(project, "2024-01-02", 4)
    result = build(workspace_dir, project)
    receiver.accept = 3  # the endpoint falls over after three events
    cut = send(workspace_dir, project)
    assert cut.warning and 0 < cut.cursor and len(receiver.accepted) == 3
    assert cursor(workspace_dir, project) == cut.cursor
    receiver.accept = None
    rest = send(workspace_dir, project)
    assert rest.warning is None and rest.sent == len(receiver.accepted) - 3
    # at least once: the RunEvents of a weir event cut in the middle may come twice; nothing is missing
    keys = [(e["run"]["runId"], e["eventType"]) for e in receiver.accepted]
    assert len(keys) - len(set(keys)) <= 1
    states: dict[str, set[str]] = {}
    for e in receiver.accepted:
        states.setdefault(e["run"]["runId"], set()).add(e["eventType"])
    with Workspace(workspace_dir, project) as ws:
        tasks = ws.runs.detail(result.run_id)["tasks"]
        with ws.store.read():
            assert rest.cursor == ws.store.events.last_id()
    assert set(states) == {run_uuid(result.run_id)} | {run_uuid(result.run_id, t["asset"], t["partition_key"]) for t in tasks}
    assert all(s == {"START", "COMPLETE"} for s in states.values())


def test_a_closed_port_is_a_one_line_warning_and_never_an_error(make_project, workspace_dir):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    project = http_project(make_project, f"http://127.0.0.1:{port}")
    land(project, "2024-01-01", 5)
    build(workspace_dir, project)
    delivery = send(workspace_dir, project)
    assert delivery.sent == 0 and cursor(workspace_dir, project) == 0
    assert delivery.warning.startswith(f"OpenLineage: http://127.0.0.1:{port}/api/v1/lineage did not accept events")
    assert "\n" not in delivery.warning


def test_send_pending_never_raises_and_skips_only_events_it_cannot_translate(tmp_path, make_project):
    project = make_project({"assets.py": PROJECT})
    config = load_config(project)
    store = MetadataStore.for_workspace(tmp_path / "ws", url=os.environ.get("WEIR_DATABASE_URL"))
    with store.transaction():
        store.emit(Event(kind=EventKind.RUN_STARTED, project="demo", run_id="r1"),
                   Event(kind=EventKind.PARTITION_PUBLISHED, project="demo", run_id="r1", asset="clean",
                         partition_key="2024-01-01", data={"version": 1, "inputs": "not a mapping"}),
                   Event(kind=EventKind.RUN_FINISHED, project="demo", run_id="r1", data={"state": "cancelled"}),
                   Event(kind=EventKind.RUN_STARTED, project="other", run_id="r2"))
    delivery = send_pending(store, config, workspace=tmp_path / "ws")
    assert delivery.read == 3 and delivery.sent == 2  # the other project's event is its own cursor's business
    assert "skipped 1 event" in delivery.warning and "#2" in delivery.warning
    sent = lines(tmp_path / "ws")
    assert [e["eventType"] for e in sent] == ["START", "ABORT"]
    for e in sent:
        validate(e)
    # a store that fails under it: a warning, nothing raised
    import sqlalchemy as sa

    with store.transaction():
        store.connection.execute(sa.text("DROP TABLE consumer_cursors"))
    broken = send_pending(store, config, workspace=tmp_path / "ws")
    assert broken.sent == 0 and broken.warning.startswith("OpenLineage: nothing sent (")
    store.close()


def test_transport_off_sends_nothing_and_leaves_the_log_for_later(tmp_path, make_project):
    project = make_project({"assets.py": PROJECT, "weir.toml": '[project]\nname = "demo"\n[openlineage]\ntransport = "off"\n'})
    store = MetadataStore.for_workspace(tmp_path / "ws", url=os.environ.get("WEIR_DATABASE_URL"))
    with store.transaction():
        store.emit(Event(kind=EventKind.RUN_STARTED, project="demo", run_id="r1"))
    delivery = send_pending(store, load_config(project), workspace=tmp_path / "ws")
    assert (delivery.transport, delivery.sent, delivery.warning) == ("off", 0, None)
    with store.read():
        assert store.cursors.get(cursor_name("demo")) == 0
    assert not (tmp_path / "ws" / EVENTS_FILE).exists()
    store.close()


def test_a_torn_last_line_stays_apart_from_the_next_events(make_project, workspace_dir):
    project = make_project({"assets.py": PROJECT})
    land(project, "2024-01-01", 5)
    build(workspace_dir, project)
    path = workspace_dir / EVENTS_FILE
    path.parent.mkdir(parents=True)
    path.write_text('{"eventType": "STA')  # a crash in the middle of a line
    delivery = send(workspace_dir, project)
    text = path.read_text().splitlines()
    assert text[0] == '{"eventType": "STA' and len(text) == 1 + delivery.sent
    for line in text[1:]:
        validate(json.loads(line))


# -- the cursor table --------------------------------------------------------------------------
def test_consumer_cursors_start_at_zero_and_never_move_back(backend, tmp_path):
    store = MetadataStore.for_workspace(tmp_path / "ws", url=os.environ.get("WEIR_DATABASE_URL"))
    with store.transaction():
        assert store.cursors.get("alerts") == 0
        assert store.cursors.advance("alerts", 7) == 7
        assert store.cursors.advance("alerts", 3) == 7  # a slower sender does not rewind a faster one
        store.cursors.advance("openlineage:demo", 2)
    with store.read():
        assert {n: c["position"] for n, c in store.cursors.all().items()} == {"alerts": 7, "openlineage:demo": 2}
    store.close()


# -- configuration ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("section", "message"),
    [
        ('transport = "kafka"', "openlineage.transport 'kafka' must be one of: file, http, off"),
        ('transport = "http"', "openlineage.transport = \"http\" needs openlineage.url"),
        ('transport = "http"\nurl = "localhost:5000"', "openlineage.url 'localhost:5000' must be an http"),
        ('url = "http://localhost:5000"', "openlineage.url is only used with transport = \"http\""),
        ('transport = "http"\nurl = "http://x"\nurls = "http://y"', "unknown key 'openlineage.urls'"),
        ('namespace = ""', "openlineage.namespace must be a non-empty string"),
        ('timeout = 0', "openlineage.timeout must be seconds between 0 and 60"),
    ],
)
def test_bad_openlineage_settings_are_config_errors_naming_weir_toml_and_the_field(make_project, section, message):
    project = make_project({"assets.py": PROJECT, "weir.toml": f'[project]\nname = "demo"\n\n[openlineage]\n{section}\n'})
    with pytest.raises(ConfigError) as err:
        load_config(project)
    assert message in err.value.message and err.value.where.endswith("weir.toml")


def test_openlineage_settings_default_to_the_workspace_file_and_parse(make_project):
    default = load_config(make_project({"assets.py": PROJECT})).openlineage
    assert (default.transport, default.url, default.namespace) == ("file", None, None)
    toml = '[project]\nname = "demo"\n[openlineage]\ntransport = "http"\nurl = "http://localhost:5000"\nendpoint = "v1/ol"\n'
    http = load_config(make_project({"assets.py": PROJECT, "weir.toml": toml}, name="other")).openlineage
    assert (http.transport, http.url, http.endpoint, http.timeout) == ("http", "http://localhost:5000", "v1/ol", 2.0)


def test_a_bad_openlineage_section_exits_2_with_one_line(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "weir.toml").write_text('[project]\nname = "demo"\n[openlineage]\ntransport = "kafka"\n')
    (project / "assets.py").write_text(PROJECT)
    out = weir(tmp_path / "ws", project, "status", expect=2)
    assert "weir.toml" in out.stderr and "openlineage.transport" in out.stderr


def test_every_openlineage_key_is_documented():
    from weir.project.config import _OPENLINEAGE_KEYS

    assert "## OpenLineage" in EVENTS_PAGE
    section = EVENTS_PAGE.split("## OpenLineage", 1)[1].split("\n## ", 1)[0]
    assert sorted(k for k in _OPENLINEAGE_KEYS if f"`{k}`" not in section) == []
    assert str(EVENTS_FILE) in section


def test_importing_the_sender_does_not_import_openlineage():
    code = ("import sys, weir.lineage.openlineage, weir.project.config; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('openlineage', 'requests', 'jsonschema')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
