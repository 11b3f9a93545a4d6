"""The metadata store contract, run against SQLite and PostgreSQL alike (``backend`` fixture)."""

from __future__ import annotations

import os
from importlib.metadata import version
from pathlib import Path

import pytest
import sqlalchemy as sa

from weir.envs.snapshot import capture
from weir.store.database import HEAD_REVISION, current_revision, database_url
from weir.store.store import MetadataStore


@pytest.fixture
def store(backend, tmp_path):
    s = MetadataStore.for_workspace(tmp_path / "ws", url=os.environ.get("WEIR_DATABASE_URL"))
    yield s
    s.close()


def run_row(run_id: str, *, project: str = "demo", created_at: float = 1000.0, state: str = "queued") -> dict:
    return {
        "id": run_id, "project": project, "trigger": "cli", "state": state, "created_at": created_at,
        "host": "here", "pid": 1, "request": {"assets": ["a"], "stale": True},
    }


def task_row(run_id: str, asset: str, key: str, state: str = "queued") -> dict:
    return {"run_id": run_id, "project": "demo", "asset": asset, "partition_key": key, "state": state, "attempt": 0, "code_version": "c1"}


def published(asset: str, key: str, version: int, run_id: str, *, code: str = "c1", rows: int = 10, inputs=None) -> dict:
    return {
        "project": "demo", "asset": asset, "partition_key": key, "version": version, "run_id": run_id,
        "code_version": code, "input_versions": inputs, "row_count": rows,
    }


def test_backend_is_the_one_asked_for(store, backend):
    assert store.backend == ("sqlite" if backend == "sqlite" else "postgresql")


def test_migrations_are_applied_on_first_use(store, tmp_path):
    with store.read():
        assert current_revision(store.connection) == HEAD_REVISION
        tables = set(sa.inspect(store.connection).get_table_names())
    assert {"alembic_version", "environments", "runs", "run_tasks", "partitions", "partition_versions"} <= tables
    # opening again finds the schema at head and changes nothing
    again = MetadataStore(database_url(tmp_path / "ws", os.environ.get("WEIR_DATABASE_URL")))
    try:
        assert again.upgrade() == HEAD_REVISION
    finally:
        again.close()


def test_runs_create_update_get(store):
    with store.transaction():
        store.runs.create(run_row("20240101-000000-aaaa"))
        store.runs.update("20240101-000000-aaaa", state="running", started_at=1001.0, summary={"counts": {"queued": 2}})
    with store.read():
        got = store.runs.get("20240101-000000-aaaa")
        assert store.runs.get("nope") is None
        active = [r.id for r in store.runs.active()]
    assert got.state == "running"
    assert got.started_at == 1001.0
    assert got.request == {"assets": ["a"], "stale": True}
    assert got.summary == {"counts": {"queued": 2}}
    assert active == ["20240101-000000-aaaa"]


def test_runs_list_newest_first_with_filters(store):
    with store.transaction():
        store.runs.create(run_row("r1", created_at=1.0, state="succeeded"))
        store.runs.create(run_row("r2", created_at=2.0, state="failed"))
        store.runs.create(run_row("r3", created_at=3.0, state="succeeded", project="other"))
    with store.read():
        assert [r.id for r in store.runs.list()] == ["r3", "r2", "r1"]
        assert [r.id for r in store.runs.list(limit=2)] == ["r3", "r2"]
        assert [r.id for r in store.runs.list(state="succeeded")] == ["r3", "r1"]
        assert [r.id for r in store.runs.list(project="demo")] == ["r2", "r1"]


def test_runs_find_by_prefix(store):
    with store.transaction():
        for rid in ("20240101-aaaa", "20240101-aabb", "20240202-cccc"):
            store.runs.create(run_row(rid))
    with store.read():
        assert sorted(store.runs.find("20240101-aa")) == ["20240101-aaaa", "20240101-aabb"]
        assert store.runs.find("20240202") == ["20240202-cccc"]
        assert store.runs.find("1999") == []


def test_tasks_add_update_and_count(store):
    rid = "run-1"
    with store.transaction():
        store.runs.create(run_row(rid))
        store.runs.add_tasks([task_row(rid, "a", k) for k in ("2024-01-01", "2024-01-02", "2024-01-03")] + [task_row(rid, "b", "2024-01-01")])
        store.runs.update_tasks(
            rid,
            [
                {"asset": "a", "partition_key": "2024-01-01", "state": "succeeded", "output_version": 3, "row_count": 5, "input_versions": {"src": {"2024-01-01": "f:abc"}}},
                {"asset": "a", "partition_key": "2024-01-02", "state": "failed", "output_version": None, "row_count": None, "input_versions": None},
            ],
        )
    with store.read():
        tasks = {(t.asset, t.partition_key): t for t in store.runs.tasks(rid)}
        counts = store.runs.task_counts(rid)
    assert counts == {"succeeded": 1, "failed": 1, "queued": 2}
    assert tasks[("a", "2024-01-01")].output_version == 3
    assert tasks[("a", "2024-01-01")].input_versions == {"src": {"2024-01-01": "f:abc"}}
    assert tasks[("a", "2024-01-01")].code_version == "c1"
    assert tasks[("b", "2024-01-01")].state == "queued"

    with store.transaction():
        store.runs.unfinished_tasks_to(rid, "failed", "run ended")
    with store.read():
        assert store.runs.task_counts(rid) == {"succeeded": 1, "failed": 3}
        assert {t.reason for t in store.runs.tasks(rid) if t.asset == "b"} == {"run ended"}


def test_tasks_of_one_run_do_not_touch_another(store):
    with store.transaction():
        store.runs.create(run_row("r1"))
        store.runs.create(run_row("r2"))
        store.runs.add_tasks([task_row("r1", "a", "k"), task_row("r2", "a", "k")])
        store.runs.update_tasks("r2", [{"asset": "a", "partition_key": "k", "state": "succeeded"}])
    with store.read():
        assert store.runs.task_counts("r1") == {"queued": 1}
        assert store.runs.task_counts("r2") == {"succeeded": 1}


def test_failed_transaction_rolls_back(store):
    with pytest.raises(RuntimeError), store.transaction():
        store.runs.create(run_row("doomed"))
        raise RuntimeError("boom")
    with store.read():
        assert store.runs.get("doomed") is None


def test_partitions_upsert_keeps_one_current_row_and_appends_versions(store):
    with store.transaction():
        store.partitions.record_published([published("a", "2024-01-01", 0, "r1", inputs={"src": {"2024-01-01": "f:1"}}), published("a", "2024-01-02", 0, "r1")])
    with store.transaction():
        store.partitions.record_published([published("a", "2024-01-01", 1, "r2", code="c2", rows=20, inputs={"src": {"2024-01-01": "f:2"}})])
    with store.read():
        current = store.partitions.current("demo")
        history = store.partitions.history("demo", "a", "2024-01-01")
        rows = store.connection.execute(sa.text("SELECT count(*) FROM partitions")).scalar()
    assert rows == 2
    assert set(current) == {("a", "2024-01-01"), ("a", "2024-01-02")}
    assert current[("a", "2024-01-01")]["version"] == 1
    assert current[("a", "2024-01-01")]["run_id"] == "r2"
    assert current[("a", "2024-01-01")]["code_version"] == "c2"
    assert current[("a", "2024-01-01")]["input_versions"] == {"src": {"2024-01-01": "f:2"}}
    assert [(h["version"], h["run_id"], h["row_count"]) for h in history] == [(1, "r2", 20), (0, "r1", 10)]


def test_partitions_current_filters_by_project_and_asset(store):
    with store.transaction():
        store.partitions.record_published([published("a", "k", 0, "r1"), published("b", "k", 0, "r1")])
        store.partitions.record_published([{**published("a", "k", 0, "r9"), "project": "other"}])
    with store.read():
        assert set(store.partitions.current("demo", ["b"])) == {("b", "k")}
        assert store.partitions.current("other")[("a", "k")]["run_id"] == "r9"
        assert store.partitions.published_by_run("demo", "r1") == {("a", "k"), ("b", "k")}


def test_partitions_summary_per_asset(store):
    with store.transaction():
        store.partitions.record_published(
            [published("a", "2024-01-01", 0, "r1", rows=5), published("a", "2024-01-03", 0, "r1", rows=7, code="c2"), published("b", "2024-01", 0, "r1", rows=1)]
        )
    with store.read():
        summary = store.partitions.summary("demo")
        codes = store.partitions.code_version_counts("demo", "a")
    assert set(summary) == {"a", "b"}
    a = summary["a"]
    assert (a["published"], a["rows"], a["first"], a["last"], a["code_versions"]) == (2, 12, "2024-01-01", "2024-01-03", 2)
    assert summary["b"]["published"] == 1
    assert codes == {"c1": 1, "c2": 1}


def test_environment_snapshot_captures_python_platform_and_packages():
    env = capture()
    assert env.python.split(" ")[0].count(".") == 2
    assert env.platform
    assert env.packages["deltalake"] == version("deltalake")
    assert env.packages["pyarrow"] == version("pyarrow")
    assert capture().id == env.id


def test_environments_saved_once_per_content_hash(store):
    env = capture()
    with store.transaction():
        store.environments.save(env.to_row())
        store.environments.save(env.to_row())
    with store.read():
        assert store.environments.count() == 1
        row = store.environments.get(env.id)
    assert row["python"] == env.python
    assert row["packages"]["deltalake"] == version("deltalake")
    assert row["packages"]["pyarrow"] == version("pyarrow")

    other = env.to_row() | {"id": "different-hash", "packages": {"x": "1"}}
    with store.transaction():
        store.environments.save(other)
    with store.read():
        assert store.environments.count() == 2


def test_a_second_connection_sees_committed_writes(store, tmp_path):
    other = MetadataStore(database_url(tmp_path / "ws", os.environ.get("WEIR_DATABASE_URL")))
    try:
        with other.read():
            assert other.runs.get("late") is None
        with store.transaction():
            store.runs.create(run_row("late"))
        with other.read():
            assert other.runs.get("late").state == "queued"
    finally:
        other.close()


def test_incident_members_and_scope_take_their_incidents_project_on_upgrade(tmp_path):
    """0021: rows written before an incident's members and scope named their project get it from
    their incident; new rows are written with it."""
    from pathlib import Path

    from alembic import command
    from alembic.config import Config

    from weir.store import database

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.connect() as c:
        config = Config()
        config.set_main_option("script_location", str(Path(database.__file__).parent / "migrations"))
        config.attributes["connection"] = c
        command.upgrade(config, "0020")
        c.execute(sa.text("INSERT INTO incidents (id, project, root_asset, state, severity, title, opened_at, updated_at)"
                          " VALUES (1, 'flights', 'delays', 'open', 'high', 't', 1, 1)"))
        c.execute(sa.text("INSERT INTO incident_members (incident_id, kind, asset, summary, why, at)"
                          " VALUES (1, 'partition_blocked', 'delays', 's', 'opened it', 1)"))
        c.execute(sa.text("INSERT INTO incident_scope (incident_id, asset, partition_key, via, why, added_at)"
                          " VALUES (1, 'delays', '2024-01-01', 'trigger', 'w', 1)"))
        c.commit()
        assert database.upgrade(c) == "0020" and current_revision(c) == HEAD_REVISION
        for table in ("incident_members", "incident_scope"):
            assert c.execute(sa.text(f"SELECT project FROM {table}")).scalars().all() == ["flights"]
    engine.dispose()


def test_new_incident_rows_carry_the_incidents_project(store):
    with store.transaction():
        incident = store.incidents.open("flights", root_asset="delays", root_partition="2024-01-01", severity="high",
                                        title="t")
        store.incidents.add_member(incident, event_id=None, kind="partition_blocked", asset="delays",
                                   partition_key="2024-01-01", run_id=None, summary="s", why="opened it", at=1.0)
        store.incidents.add_scope(incident, asset="delays", partition_key="2024-01-01", run_id=None, via="trigger",
                                  why="w")
    with store.read():
        assert [m.project for m in store.incidents.members([incident])[incident]] == ["flights"]
        assert [s.project for s in store.incidents.scope([incident])[incident]] == ["flights"]


def test_the_head_revision_is_the_newest_migration():
    """The light reader and the upgrade check compare with HEAD_REVISION: a new migration moves it."""
    from weir.store import migrations

    versions = Path(migrations.__file__).parent / "versions"
    assert HEAD_REVISION == max(p.name[:4] for p in versions.glob("[0-9][0-9][0-9][0-9]_*.py"))
