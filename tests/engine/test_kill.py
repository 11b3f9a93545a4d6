"""A run killed mid-way (SIGKILL) or interrupted (Ctrl-C): published data stays intact, nothing
half-published becomes visible, and the metadata store closes the run for what it was."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import land_csv
from deltalake import DeltaTable

from weir.workspace import RunRequest, Workspace

pytestmark = pytest.mark.slow  # real processes, signals and kills

DAYS = ["2024-03-01", "2024-03-02", "2024-03-03"]

# ``slow`` stops on its second partition (or the one ``block`` names) while a file named ``block``
# exists, after saying so in ``blocked``: by then ``cleaned`` is published and ``slow``'s first
# partition is staged.
ASSETS = '''
import os
import time
from pathlib import Path

import weir

HERE = Path(__file__).parent
days = weir.daily(start="2024-03-01", end="2024-03-03")
landing = weir.source("landing", path="landing/{partition}.csv", partitions=days)


@weir.asset(partitions=days)
def cleaned(landing):
    return landing.assign(value=landing["value"] * 10)


@weir.asset(partitions=days)
def slow(cleaned, context):
    block = HERE / "block"
    if block.exists() and context.partition_key == (block.read_text().strip() or "2024-03-02"):
        (HERE / "blocked-pid").write_text(str(os.getpid()))
        (HERE / "blocked").write_text(context.run_id)
        deadline = time.monotonic() + 120
        while not (HERE / "release").exists():
            if time.monotonic() > deadline:
                raise TimeoutError("never released")
            time.sleep(0.05)
    return cleaned.assign(doubled=cleaned["value"] * 2)
'''

PROGRESS_TIMEOUT = 90.0


def land_all(project: Path, base: int) -> None:
    for n, day in enumerate(DAYS):
        land_csv(project, f"landing/{day}.csv", [{"id": i, "value": base + n + i} for i in range(3)])


def delta_values(home: Path, asset: str) -> dict[str, list[int]]:
    """What a plain Delta reader sees now: values per partition."""
    t = DeltaTable(str(home / "data" / "demo" / asset)).to_pyarrow_table()
    out: dict[str, list[int]] = {}
    for key, value in zip(t.column("partition_key").to_pylist(), t.column("value").to_pylist()):
        out.setdefault(key, []).append(value)
    return {k: sorted(v) for k, v in out.items()}


def expected(base: int) -> dict[str, list[int]]:
    return {day: [10 * (base + n + i) for i in range(3)] for n, day in enumerate(DAYS)}


# A run started through the engine itself, for tests that need an option the CLI does not pass.
ENGINE_RUN = """
import sys
from pathlib import Path

from weir.engine.inputs import InputResolver
from weir.engine.runner import Run
from weir.storage.catalog import TableCatalog
from weir.workspace import RunRequest, Workspace


home, project, publish_every = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
with Workspace(home, project) as ws:
    with ws.store.read():
        current = ws.store.partitions.current(ws.project.name)
    resolver = InputResolver(ws.project, current)
    Run(project=ws.project, store=ws.store, catalog=TableCatalog(ws.tables.root), plan=ws.runs.plan(RunRequest(), resolver),
        resolver=resolver, executor="inprocess", publish_every=publish_every).execute()
"""


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("WEIR_DATABASE_URL", "WEIR_HOME")}


def start_run(home: Path, project: Path, *extra: str, executor: str = "inprocess") -> subprocess.Popen:
    cmd = [sys.executable, "-m", "weir.cli.main", "--workspace", str(home), "--project", str(project), "run", "--executor", executor, *extra]
    return subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def start_engine_run(home: Path, project: Path, *, publish_every: float) -> subprocess.Popen:
    cmd = [sys.executable, "-c", ENGINE_RUN, str(home), str(project), str(publish_every)]
    return subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_states(home: Path, project: Path, run_id: str, asset: str, states: set[str]) -> None:
    """Wait until every partition of ``asset`` in the run is in one of ``states`` (no timing asserted)."""
    deadline = time.monotonic() + PROGRESS_TIMEOUT
    while True:
        with Workspace(home, project) as ws:
            if {t["state"] for t in ws.runs.detail(run_id)["tasks"] if t["asset"] == asset} <= states:
                return
        assert time.monotonic() < deadline, f"{asset} never reached {states}"
        time.sleep(0.05)


def wait_until_blocked(proc: subprocess.Popen, project: Path) -> str:
    """Wait for ``slow`` to reach its blocking partition; returns the run id. No timing is asserted."""
    marker = project / "blocked"
    deadline = time.monotonic() + PROGRESS_TIMEOUT
    while not marker.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"weir run exited early ({proc.returncode}):\n{out}\n{err}")
        if time.monotonic() > deadline:
            proc.kill()
            proc.communicate()
            pytest.fail("weir run made no progress")
        time.sleep(0.05)
    while not marker.read_text():  # written but maybe not flushed yet
        time.sleep(0.01)
    return marker.read_text()


@pytest.fixture
def project(make_project, monkeypatch) -> Path:
    monkeypatch.delenv("WEIR_DATABASE_URL", raising=False)
    p = make_project({"assets.py": ASSETS})
    land_all(p, base=1)
    return p


def test_sigkill_mid_run_leaves_published_data_intact_and_the_run_failed(workspace_dir, project):
    home = workspace_dir
    with Workspace(home, project) as ws:  # a first, complete run: version 0 of both tables
        assert ws.runs.run(RunRequest(executor="inprocess")).state == "succeeded"
    before_slow = delta_values(home, "slow")
    assert before_slow == expected(1)

    land_all(project, base=100)
    (project / "block").write_text("")
    proc = start_run(home, project, "--stale")
    try:
        run_id = wait_until_blocked(proc, project)
        # progress seen in the metadata store: cleaned published, slow not yet
        with Workspace(home, project) as ws:
            detail = ws.runs.detail(run_id)
        assert detail["state"] == "running"
        assert {t["state"] for t in detail["tasks"] if t["asset"] == "cleaned"} == {"succeeded"}
        assert {t["state"] for t in detail["tasks"] if t["asset"] == "slow"} == {"queued"}
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL

    # what was published before the kill is there; what was only staged is invisible
    assert delta_values(home, "cleaned") == expected(100)
    assert delta_values(home, "slow") == before_slow
    assert DeltaTable(str(home / "data" / "demo" / "slow")).version() == 0
    slow_dir = home / "data" / "demo" / "slow"
    staged = [p.name for p in slow_dir.rglob(f"staged-{run_id}-*.parquet")]
    assert len(staged) == 1  # the first partition of the killed run: on disk, never committed

    # the next command finds the dead process and closes the run
    env = {k: v for k, v in os.environ.items() if k not in ("WEIR_DATABASE_URL", "WEIR_HOME")}
    listed = subprocess.run(
        [sys.executable, "-m", "weir.cli.main", "--workspace", str(home), "--project", str(project), "runs", "--json"],
        env=env, capture_output=True, text=True, check=True,
    )
    runs = {r["id"]: r for r in json.loads(listed.stdout)}
    assert runs[run_id]["state"] == "failed"
    assert f"process {proc.pid}" in runs[run_id]["error"]
    assert "gone" in runs[run_id]["error"]

    with Workspace(home, project) as ws:
        detail = ws.runs.detail(run_id)
        tasks = {(t["asset"], t["partition_key"]): t for t in detail["tasks"]}
        assert {tasks[("cleaned", d)]["state"] for d in DAYS} == {"succeeded"}
        assert {tasks[("slow", d)]["state"] for d in DAYS} == {"failed"}
        assert all(f"process {proc.pid}" in tasks[("slow", d)]["reason"] for d in DAYS)
        assert detail["summary"]["counts"] == {"succeeded": 3, "failed": 3}
        assert [r.id for r in ws.runs.list(state="running")] == []
        # published partitions are recorded as the killed run's; the stale plan picks up the rest
        assert ws.data.history("cleaned", "2024-03-01")[0]["run_id"] == run_id
        plan = ws.runs.plan(RunRequest(stale=True))
    assert {(t.asset, t.key) for t in plan.tasks} == {("slow", d) for d in DAYS}

    (project / "block").unlink()
    with Workspace(home, project) as ws:
        assert ws.runs.run(RunRequest(stale=True, executor="inprocess")).state == "succeeded"
        assert ws.data.read("slow", "2024-03-02").column("doubled").to_pylist() == [2 * v for v in expected(100)["2024-03-02"]]


@pytest.mark.parametrize("executor", ["inprocess", "processes"])
def test_ctrl_c_cancels_the_run(workspace_dir, project, executor):
    from weir.engine.heartbeat import process_alive

    home = workspace_dir
    (project / "block").write_text("")
    proc = start_run(home, project, executor=executor)
    try:
        run_id = wait_until_blocked(proc, project)
        wait_for_states(home, project, run_id, "cleaned", {"succeeded"})
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=PROGRESS_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"run {run_id} cancelled (interrupted): the 3 partitions it published before the interrupt stay published")
    assert not process_alive(int((project / "blocked-pid").read_text()))  # the worker building slow is stopped

    with Workspace(home, project) as ws:
        detail = ws.runs.detail(run_id)
        tasks = {(t["asset"], t["partition_key"]): t for t in detail["tasks"]}
        assert detail["state"] == "cancelled"
        assert "interrupted" in detail["error"]
        assert {tasks[("cleaned", d)]["state"] for d in DAYS} == {"succeeded"}
        assert {tasks[("slow", d)]["state"] for d in DAYS} == {"cancelled"}
        assert not ws.tables.get("slow").exists()  # nothing of slow was published
    assert delta_values(home, "cleaned") == expected(1)


def test_a_publish_the_killed_run_never_recorded_is_recovered(workspace_dir, project):
    """Killed between the Delta commit and the metadata write: the next command records it."""
    import sqlite3

    home = workspace_dir
    (project / "block").write_text(DAYS[-1])  # by then every partition of slow is leased: no metadata write is left before the commit
    proc = start_engine_run(home, project, publish_every=3600.0)  # slow's 3 partitions go out in one commit
    lock = None
    try:
        run_id = wait_until_blocked(proc, project)
        lock = sqlite3.connect(home / "weir.db", isolation_level=None, timeout=PROGRESS_TIMEOUT)
        lock.execute("BEGIN IMMEDIATE")  # from now on the run cannot write metadata
        (project / "release").write_text("")
        slow_log = home / "data" / "demo" / "slow" / "_delta_log"
        deadline = time.monotonic() + PROGRESS_TIMEOUT
        while not list(slow_log.glob("*.json")):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "slow was never published"
            time.sleep(0.02)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
        if lock is not None:
            lock.close()  # rolls back: the store is writable again

    with Workspace(home, project) as ws:
        assert [r.state for r in ws.runs.list()] == ["running"]  # reading writes nothing: recovery is explicit
        assert [r["id"] for r in ws.recover()] == [run_id]
        [run] = ws.runs.list()
        assert (run.id, run.state) == (run_id, "failed")
        assert run.summary["recovered_publishes"] == 3
        for day in DAYS:
            [version] = ws.data.history("slow", day)
            assert (version["version"], version["run_id"]) == (0, run_id)
        assert ws.data.status("slow")[0]["published"] == 3
        assert ws.data.read("slow", "2024-03-02").column("doubled").to_pylist() == [2 * v for v in expected(1)["2024-03-02"]]


def children(pid: int) -> set[int]:
    """The live processes whose parent is ``pid`` (Linux /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def wait_gone(pids: set[int], seconds: float) -> set[int]:
    """The ones of ``pids`` still alive after waiting up to ``seconds`` for them to end."""
    from weir.engine.heartbeat import process_alive

    deadline = time.monotonic() + seconds
    while (alive := {p for p in pids if process_alive(p)}) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="lists child processes through /proc")
def test_sigterm_cancels_the_run_like_ctrl_c_and_leaves_no_worker(workspace_dir, project):
    home = workspace_dir
    (project / "block").write_text("")
    proc = start_run(home, project, executor="processes")
    try:
        run_id = wait_until_blocked(proc, project)
        wait_for_states(home, project, run_id, "cleaned", {"succeeded"})
        workers = children(proc.pid)
        assert int((project / "blocked-pid").read_text()) in workers
        proc.send_signal(signal.SIGTERM)  # what timeout, systemd and Kubernetes send
        _, err = proc.communicate(timeout=PROGRESS_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 143
    assert f"run {run_id} cancelled (interrupted): the 3 partitions it published before the interrupt stay published" in err
    assert err.strip().splitlines()[-1] == "terminated"
    assert wait_gone(workers, 5.0) == set()

    with Workspace(home, project) as ws:
        detail = ws.runs.detail(run_id)
        with ws.store.read():
            assert ws.store.leases.held_by(run_id) == set()
    tasks = {(t["asset"], t["partition_key"]): t for t in detail["tasks"]}
    assert (detail["state"], detail["error"]) == ("cancelled", "terminated (SIGTERM)")
    assert {tasks[("cleaned", d)]["state"] for d in DAYS} == {"succeeded"}
    assert {tasks[("slow", d)]["state"] for d in DAYS} == {"cancelled"}
    assert delta_values(home, "cleaned") == expected(1)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="lists child processes through /proc")
def test_workers_die_with_a_killed_run(workspace_dir, project):
    home = workspace_dir
    (project / "block").write_text("")
    proc = start_run(home, project, executor="processes")
    try:
        wait_until_blocked(proc, project)
        workers = children(proc.pid)
        assert int((project / "blocked-pid").read_text()) in workers
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
    assert wait_gone(workers, 5.0) == set()  # the one building slow too, though it never returns
