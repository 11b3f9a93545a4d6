"""The metadata store's contract, run against every backend (SQLite always, PostgreSQL too):
each repository behaves the same on both, units of work commit or roll back as one, and the
Alembic migrations produce exactly the tables declared in ``store/schema/``."""

from __future__ import annotations

import os
import threading
import time

import pytest
import sqlalchemy as sa

from weir.events import Event, EventKind
from weir.store.store import MetadataStore


@pytest.fixture
def store(backend, tmp_path):
    s = MetadataStore.for_workspace(tmp_path / "ws", url=os.environ.get("WEIR_DATABASE_URL"))  # WEIR_DATABASE_URL is set for PostgreSQL
    yield s
    s.close()


def test_migrations_produce_exactly_the_declared_schema(store):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from weir.store.schema import metadata

    with store.engine.connect() as c:
        ctx = MigrationContext.configure(c, opts={"compare_type": True})
        assert compare_metadata(ctx, metadata) == []
        # the comparison does see a difference when there is one
        other = sa.MetaData()
        for table in metadata.tables.values():
            table.to_metadata(other)
        other.tables["events"].append_column(sa.Column("extra", sa.Integer))
        assert [d[0] for d in compare_metadata(ctx, other)] == ["add_column"]


def test_the_event_log_keeps_order_and_reads_by_cursor_and_kind(store):
    with store.transaction():
        store.emit(*(Event(kind=EventKind.PARTITION_PUBLISHED, project="p", asset="a", partition_key=f"k{i}",
                           data={"version": i}) for i in range(5)))
    with store.transaction():
        store.emit(Event(kind=EventKind.RUN_FINISHED, project="q", data={"state": "failed"}))
    with store.read():
        every = store.events.after(0, limit=None)
        assert [e.partition_key for e in every[:5]] == [f"k{i}" for i in range(5)]
        assert [e.data.get("version") for e in every[:5]] == list(range(5))
        assert store.events.last_id() == every[-1].id
        assert store.events.after(every[2].id, limit=2) == every[3:5]
        assert [e.project for e in store.events.after(0, kinds=["run_finished"])] == ["q"]
        assert len(store.events.after(0, project="p")) == 5
        assert store.events.newest(limit=2) == every[-2:]
        assert store.events.newest(before=every[-1].id, limit=2) == every[-3:-1]
        assert [e.partition_key for e in store.events.newest(project="p", limit=1)] == ["k4"]


def test_concurrent_writers_make_ids_visible_in_commit_order(store):
    """A reader following the cursor never skips an event that commits late: ids of event
    transactions become visible in order."""
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(10):
                with store.transaction():
                    store.emit(Event(kind=EventKind.SIGNAL_RAISED, project="p", asset=f"w{n}", partition_key=str(i)))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    seen: list[int] = []
    cursor = 0
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads) or len(seen) < 30:
        with store.read():
            batch = store.events.after(cursor, limit=None)
        seen += [e.id for e in batch]
        cursor = batch[-1].id if batch else cursor
        if not any(t.is_alive() for t in threads) and not batch and len(seen) < 30:
            break
        time.sleep(0.001)
    for t in threads:
        t.join()
    assert errors == []
    assert len(seen) == 30 and seen == sorted(seen)


def test_a_unit_of_work_commits_or_rolls_back_as_one(store):
    row = {"id": "r1", "project": "p", "trigger": "cli", "state": "queued", "created_at": 1.0}
    with pytest.raises(ZeroDivisionError), store.transaction():
        store.runs.create(row)
        store.emit(Event(kind=EventKind.RUN_STARTED, project="p", run_id="r1"))
        1 / 0  # noqa: B018
    with store.read():
        assert store.runs.get("r1") is None and store.events.after(0) == []
    with store.transaction():
        store.runs.create(row)
        with store.transaction():  # nested: joins the outer unit
            store.runs.update("r1", state="running")
    with store.read():
        assert store.runs.get("r1").state == "running"
    with pytest.raises(RuntimeError, match="outside"):
        store.runs.get("r1")


def test_runs_and_tasks(store):
    with store.transaction():
        store.runs.create({"id": "20240101-000000-aaaa", "project": "p", "trigger": "cli", "state": "queued",
                           "created_at": 1.0, "request": {"assets": ["a"]}})
        store.runs.add_tasks([{"run_id": "20240101-000000-aaaa", "project": "p", "asset": "a", "partition_key": k,
                               "state": "queued", "attempt": 0, "code_version": "c1"} for k in ("k1", "k2")])
        store.runs.update_tasks("20240101-000000-aaaa", [
            {"asset": "a", "partition_key": "k1", "state": "succeeded", "row_count": 3}])
    with store.read():
        assert [r.id for r in store.runs.active()] == ["20240101-000000-aaaa"]
        assert store.runs.find("20240101") == ["20240101-000000-aaaa"]
        assert store.runs.task_counts("20240101-000000-aaaa") == {"succeeded": 1, "queued": 1}
        assert store.runs.list(state="queued")[0].request == {"assets": ["a"]}
    with store.transaction():
        store.runs.unfinished_tasks_to("20240101-000000-aaaa", "failed", "run died")
    with store.read():
        tasks = {t.partition_key: t for t in store.runs.tasks("20240101-000000-aaaa")}
        assert (tasks["k1"].state, tasks["k2"].state, tasks["k2"].reason) == ("succeeded", "failed", "run died")
        assert store.runs.last_task_states("p", "a")["failed"] == 1


def test_partitions_keep_the_current_version_and_every_version(store):
    def publish(version: int, rows: int) -> None:
        with store.transaction():
            store.partitions.record_published([{"project": "p", "asset": "a", "partition_key": "k", "version": version,
                                                "run_id": f"r{version}", "code_version": "c", "row_count": rows}])

    publish(0, 10)
    publish(1, 12)
    with store.read():
        assert store.partitions.current("p")[("a", "k")]["version"] == 1
        assert [h["version"] for h in store.partitions.history("p", "a", "k")] == [1, 0]
        s = store.partitions.summary("p")["a"]
        assert (s["published"], s["rows"]) == (1, 12)
        assert store.partitions.published_by_run("p", "r0") == {("a", "k")}


def test_code_versions_are_kept_once(store):
    row = {"project": "p", "asset": "a", "code_version": "c1", "kind": "python", "definition": "def a(): ...",
           "settings": {"partitions": {"kind": "daily"}}}
    with store.transaction():
        store.code.save([row])
        store.code.save([{**row, "definition": "changed"}])  # a known version is not overwritten
    with store.read():
        assert store.code.get("p", "a", "c1")["definition"] == "def a(): ..."
        assert [r["code_version"] for r in store.code.of_asset("p", "a")] == ["c1"]
        assert store.code.get("p", "a", "nope") is None


def test_metric_points_signals_and_judgements(store):
    with store.transaction():
        store.metrics.put("p", "a", "row_count", [("k1", "", 10.0), ("k2", "", 11.0)])
        store.metrics.judge("p", "a", [{"partition_key": "k2", "column_name": "", "metric": "row_count", "center": 10.0,
                                        "lower": 8.0, "upper": 12.0, "state": "in control"}])
        store.signals.replace("p", "a", ["k2"], [{
            "project": "p", "asset": "a", "partition_key": "k2", "kind": "spc", "column_name": "", "metric": "row_count",
            "method": "shewhart", "rule": "r", "severity": "alert", "created_at": 1.0}])
    with store.read():
        series = store.metrics.series("p", "a", metric="row_count")
        assert [(r["partition_key"], r["value"], r["state"]) for r in series] == [("k1", 10.0, None), ("k2", 11.0, "in control")]
        assert series[1]["upper"] == 12.0
        assert store.signals.alerted_keys("p", "a") == {"k2"}
    with store.transaction():
        store.signals.replace("p", "a", ["k2"], [])
    with store.read():
        assert store.signals.list("p") == []


def test_source_partition_decisions_replace_each_other(store):
    base = {"project": "p", "source": "s", "partition_key": "k", "malformed_rows": 0, "checked_at": 1.0}
    with store.transaction():
        store.sources.record({**base, "fingerprint": "f1", "state": "blocked"})
        store.sources.record({**base, "fingerprint": "f2", "state": "accepted"})
    with store.read():
        assert store.sources.get("p", "s")["k"]["fingerprint"] == "f2"
        assert store.sources.list("p", blocked=True) == []


def _tasks(run_id: str, finished_at: float | None, states: dict[tuple[str, str], str]) -> list[dict]:
    return [{"run_id": run_id, "project": "p", "asset": a, "partition_key": k, "state": s, "attempt": 1,
             "code_version": "c", "input_versions": {"up": {k: 1}}, "reason": f"{s} in {run_id}",
             "finished_at": finished_at} for (a, k), s in states.items()]


def _blocked_history(store: MetadataStore) -> None:
    """k1 blocked, then built again; k2 built, then blocked; k3 blocked, then an attempt that
    never finished; k4 blocked in another project."""
    with store.transaction():
        for run_id in ("b1", "b2", "b0"):
            store.runs.create({"id": run_id, "project": "p", "trigger": "cli", "state": "failed", "created_at": 1.0})
        # b0 sorts first but finished last: finish times order the builds
        store.runs.add_tasks(_tasks("b1", 10.0, {("a", "k1"): "blocked", ("a", "k2"): "succeeded", ("a", "k3"): "blocked"}))
        store.runs.add_tasks(_tasks("b2", 20.0, {("a", "k1"): "succeeded", ("b", "k2"): "blocked"}))
        store.runs.add_tasks(_tasks("b0", 30.0, {("a", "k2"): "blocked", ("b", "k2"): "skipped"}))
        store.runs.add_tasks(_tasks("b0", None, {("a", "k3"): "failed"}))
        store.runs.add_tasks([{**t, "project": "q", "run_id": "b2"} for t in _tasks("b2", 20.0, {("a", "k4"): "blocked"})])
        store.emit(*(Event(kind=EventKind.PARTITION_BLOCKED, project=p, asset=a, partition_key=k, run_id=r,
                           data={"message": "m", "checks": f"checks of {r}"})
                     for p, r, a, k in (("p", "b1", "a", "k1"), ("p", "b1", "a", "k3"), ("p", "b2", "b", "k2"),
                                        ("p", "b0", "a", "k2"), ("q", "b2", "a", "k4"))))


def test_the_blocked_partitions_are_those_whose_newest_finished_build_was_blocked(store):
    _blocked_history(store)
    with store.read():
        blocked = store.runs.blocked("p")
    assert [(b["asset"], b["partition_key"], b["run_id"]) for b in blocked] == [
        ("a", "k3", "b1"), ("b", "k2", "b2"), ("a", "k2", "b0"),
    ]
    assert blocked[0]["input_versions"] == {"up": {"k3": 1}} and blocked[0]["reason"] == "blocked in b1"
    assert blocked[0]["code_version"] == "c" and blocked[0]["finished_at"] == 10.0
    assert blocked[0]["checks"] == "checks of b1"


def test_the_light_reader_answers_as_the_repositories_do(tmp_path, monkeypatch):
    monkeypatch.delenv("WEIR_DATABASE_URL", raising=False)
    from weir.store.light import LightReader

    store = MetadataStore.for_workspace(tmp_path / "ws", url=os.environ.get("WEIR_DATABASE_URL"))
    with store.transaction():
        store.runs.create({"id": "r1", "project": "p", "trigger": "cli", "state": "succeeded", "created_at": 1.0})
        store.runs.add_tasks([{"run_id": "r1", "project": "p", "asset": "a", "partition_key": k, "state": s,
                               "attempt": 1, "code_version": "c"} for k, s in (("k1", "succeeded"), ("k2", "failed"))])
        store.partitions.record_published([{"project": "p", "asset": "a", "partition_key": k, "version": 0, "run_id": "r1",
                                            "code_version": cv, "row_count": 5} for k, cv in (("k1", "c"), ("k3", "old"))])
        store.projects.claim("p", "/somewhere/p")
    light = LightReader.open(tmp_path / "ws")
    assert light is not None
    with store.read():
        assert light.summary("p") == store.partitions.summary("p")
        assert light.code_version_counts("p", "a") == store.partitions.code_version_counts("p", "a")
        assert light.last_task_states("p", "a") == store.runs.last_task_states("p", "a")
        assert light.last_task_states("p", "zz") == store.runs.last_task_states("p", "zz") == {}
        assert light.project_root("p") == store.projects.root_of("p") == "/somewhere/p"
        assert light.project_root("q") is store.projects.root_of("q") is None
    _blocked_history(store)
    with store.read():
        assert light.blocked("p") == store.runs.blocked("p") != []
    assert light.active_runs() == 0
    light.close()
    store.close()
    assert LightReader.open(tmp_path / "elsewhere") is None
    assert LightReader.open(tmp_path / "ws", elsewhere=True) is None  # another backend: the full store serves
    monkeypatch.setenv("WEIR_DATABASE_URL", "postgresql://nowhere/db")
    from weir.workspace import Workspace

    with Workspace(tmp_path / "ws", tmp_path, reading=True) as ws:  # the instance's configuration decides
        assert ws.light() is None


def test_a_lease_is_held_by_one_run_until_released_or_lapsed(store):
    keys = [("a", "k1"), ("a", "k2")]
    with store.transaction():
        granted, held = store.leases.acquire("p", keys, "run1", ttl=60, now=1000.0)
    assert granted == set(keys) and held == {}
    with store.transaction():
        granted, held = store.leases.acquire("p", [("a", "k2"), ("a", "k3")], "run2", ttl=60, now=1010.0)
    assert granted == {("a", "k3")} and held == {("a", "k2"): "run1"}
    with store.transaction():  # the holder asks again: still its own
        assert store.leases.acquire("p", [("a", "k1")], "run1", now=1020.0)[0] == {("a", "k1")}
    with store.transaction():  # run1 stopped renewing: its leases lapse and can be taken over
        granted, _ = store.leases.acquire("p", [("a", "k2")], "run2", ttl=60, now=1200.0)
    assert granted == {("a", "k2")}
    with store.transaction():
        assert store.leases.release("run2") == 2
    with store.read():
        assert store.leases.held_by("run2") == set() and store.leases.held_by("run1") == {("a", "k1")}


def _race_for_leases(url: str | None, home: str, holder: str, out) -> None:
    import os

    if url:
        os.environ["WEIR_DATABASE_URL"] = url
    from pathlib import Path

    s = MetadataStore.for_workspace(Path(home), url=os.environ.get("WEIR_DATABASE_URL"))
    mine = set()
    for i in range(40):
        with s.transaction():
            mine |= s.leases.acquire("p", [("a", f"k{i:02d}")], holder)[0]
    s.close()
    out.put((holder, sorted(mine)))


def test_concurrent_processes_never_share_a_lease(store, backend, tmp_path):
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    url = None if backend == "sqlite" else backend
    procs = [ctx.Process(target=_race_for_leases, args=(url, str(tmp_path / "ws"), f"run{n}", out)) for n in range(3)]
    for p in procs:
        p.start()
    results = dict(out.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    every = [k for keys in results.values() for k in keys]
    assert len(every) == len(set(every)) == 40  # each partition leased to exactly one run


def test_a_project_name_belongs_to_one_folder(store, tmp_path):
    first, second = tmp_path / "one", tmp_path / "two"
    for folder in (first, second):
        folder.mkdir()
        (folder / "weir.toml").write_text('[project]\nname = "shop"\n')
    with store.transaction():
        assert store.projects.claim("shop", str(first)) is None
        assert store.projects.claim("shop", str(first)) is None
        assert store.projects.claim("shop", str(second)) == str(first)  # refused: first still declares it
    (first / "weir.toml").write_text('[project]\nname = "renamed"\n')
    with store.transaction():
        assert store.projects.claim("shop", str(second)) is None  # the first folder gave the name up
    with store.read():
        assert store.projects.all() == {"shop": str(second)}


def _open_store(url: str, home: str, out) -> None:
    import os

    os.environ["WEIR_DATABASE_URL"] = url
    from pathlib import Path

    try:
        MetadataStore.for_workspace(Path(home), url=os.environ.get("WEIR_DATABASE_URL")).close()
        out.put("ok")
    except Exception as exc:  # noqa: BLE001 - reported to the test
        out.put(f"{type(exc).__name__}: {exc}")


def test_commands_starting_together_on_a_new_postgresql_schema_migrate_it_once(postgres_url, tmp_path):
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_open_store, args=(postgres_url, str(tmp_path / "ws"), out)) for _ in range(3)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert results == ["ok", "ok", "ok"]


def test_saving_a_known_environment_or_bins_again_changes_nothing(store):
    env = {"id": "e1", "python": "3.11", "platform": "linux", "created_at": 1.0, "packages": {"a": "1"}}
    with store.transaction():
        store.environments.save(env)
        store.environments.save({**env, "packages": {"a": "2"}})
        store.metrics.fix_bins("p", "a", {"x": [0.0, 1.0]}, fixed_by="k1")
        store.metrics.fix_bins("p", "a", {"x": [5.0, 6.0], "y": [1.0, 2.0]}, fixed_by="k2")
    with store.read():
        assert store.environments.get("e1")["packages"] == {"a": "1"}
        assert store.metrics.bins("p", "a") == {"x": [0.0, 1.0], "y": [1.0, 2.0]}  # the first writer wins


def test_baseline_resets_are_listed_oldest_first_per_project_and_asset(store):
    with store.transaction():
        first = store.baselines.add("p", "a", "value", "mean", "2024-02-01", note="new supplier")
        store.baselines.add("p", "a", None, None, "2024-03-01")
        store.baselines.add("p", "b", "", "row_count", "2024-02-15")
        store.baselines.add("q", "a", "value", None, "2024-01-01")
    assert set(first) == {"id", "project", "asset", "column_name", "metric", "from_key", "note", "created_at", "actor"}
    assert (first["column_name"], first["metric"], first["note"]) == ("value", "mean", "new supplier")
    with store.read():
        rows = store.baselines.list("p")
        of_a = store.baselines.list("p", asset="a")
    assert rows[0] == first
    assert [(r["asset"], r["column_name"], r["metric"], r["from_key"]) for r in rows] == [
        ("a", "value", "mean", "2024-02-01"), ("a", None, None, "2024-03-01"), ("b", "", "row_count", "2024-02-15")]
    assert [r["from_key"] for r in of_a] == ["2024-02-01", "2024-03-01"]  # oldest first, other projects left out
    with pytest.raises(ZeroDivisionError), store.transaction():
        store.baselines.add("p", "a", None, None, "2024-04-01")
        1 / 0  # noqa: B018
    with store.read():
        assert len(store.baselines.list("p", "a")) == 2
