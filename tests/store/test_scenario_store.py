"""The store of ticks, trigger state and daemons, on every backend: an occurrence inserted twice
is one tick, a tick is claimed once and taken again only when its lease lapsed, a holder that
lost its tick cannot write to it, a trigger's row is held by one evaluator at a time, and on
SQLite a daemon registers only when no other is alive."""

from __future__ import annotations

import os
import threading
import time

import pytest

from weir.store.store import MetadataStore


@pytest.fixture
def store(backend, tmp_path):
    s = MetadataStore.for_workspace(tmp_path / "ws", url=os.environ.get("WEIR_DATABASE_URL"))
    yield s
    s.close()


def tick(scheduled_for: str, due_at: float) -> dict:
    return {"project": "p", "scenario": "s", "scheduled_for": scheduled_for, "trigger": "cron",
            "fired_by": {"kind": "cron"}, "state": "pending", "created_at": due_at, "due_at": due_at,
            "steps": [], "run_ids": []}


def test_an_occurrence_is_one_tick_claimed_once_and_taken_on_when_its_lease_lapses(store):
    now = time.time()
    with store.transaction():
        first = store.ticks.create(tick("cron:2024-01-01T00:00:00Z", now - 10))
        assert first is not None
        assert store.ticks.create(tick("cron:2024-01-01T00:00:00Z", now - 10)) is None
        store.ticks.create(tick("cron:2024-01-01T01:00:00Z", now + 3600))  # not due yet
    with store.transaction():
        before, claimed = store.ticks.claim("p", "a", now=now, lease=30)
    assert before["state"] == "pending" and claimed["id"] == first and claimed["holder"] == "a"
    with store.transaction():
        assert store.ticks.claim("p", "b", now=now, lease=30) is None  # held, and the other is not due
        before, taken = store.ticks.claim("p", "b", now=now + 31, lease=30)  # a's lease lapsed
    assert before["holder"] == "a" and before["state"] == "running" and taken["claims"] == 2
    with store.transaction():
        assert not store.ticks.update(first, "a", state="succeeded")  # a lost it: its write is refused
        assert store.ticks.update(first, "b", state="succeeded")
        assert store.ticks.history("p", "s")[0]["scheduled_for"] == "cron:2024-01-01T01:00:00Z"


def test_two_threads_claiming_at_once_take_each_tick_once(store):
    now = time.time()
    with store.transaction():
        for i in range(20):
            store.ticks.create(tick(f"cron:{i}", now - 1))
    taken: dict[str, list[int]] = {"a": [], "b": []}

    def claimer(name: str) -> None:
        while True:
            with store.transaction():
                got = store.ticks.claim("p", name, now=now, lease=60)
            if got is None:
                return
            taken[name].append(got[1]["id"])

    threads = [threading.Thread(target=claimer, args=(n,)) for n in taken]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = taken["a"] + taken["b"]
    assert len(every) == 20 and len(set(every)) == 20


def test_a_scenarios_trigger_row_is_evaluated_by_one_at_a_time(store, backend):
    with store.transaction():
        assert store.trigger_states.lock("p", "s") == {}
        store.trigger_states.save("p", "s", {"cron": {"last": 1.0}})
    if backend == "sqlite":
        return  # one writer at a time: nothing to hold
    held = threading.Event()
    release = threading.Event()
    seen: list[dict | None] = []

    def holder() -> None:
        with store.transaction():
            seen.append(store.trigger_states.lock("p", "s"))
            held.set()
            release.wait(10)

    t = threading.Thread(target=holder)
    t.start()
    held.wait(10)
    with store.transaction():
        seen.append(store.trigger_states.lock("p", "s"))  # held by the other: skipped
    release.set()
    t.join()
    assert seen == [{"cron": {"last": 1.0}}, None]


def test_on_sqlite_a_daemon_registers_only_when_no_other_is_alive(store, backend):
    now = time.time()
    row = {"host": "h", "pid": 1, "started_at": now, "heartbeat_at": now, "projects": ["p"], "doing": "idle"}
    alone = now - 30 if backend == "sqlite" else None
    with store.transaction():
        assert store.daemons.register({**row, "id": "d1"}, alone_unless_dead_before=alone)
        second = store.daemons.register({**row, "id": "d2"}, alone_unless_dead_before=alone)
    assert second is (backend != "sqlite")
    with store.transaction():
        store.daemons.stop("d1", at=now)
        if backend == "sqlite":
            assert store.daemons.register({**row, "id": "d3"}, alone_unless_dead_before=alone)
    with store.read():
        assert {d["id"] for d in store.daemons.running()} == ({"d3"} if backend == "sqlite" else {"d2"})
