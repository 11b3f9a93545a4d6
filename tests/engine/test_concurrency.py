"""Runs that overlap never lose or double a partition: publishes of one partition replace what it
holds at commit time, runs take a lease on each partition they build, and two ``weir run``
processes started together leave exactly what one clean run leaves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa
import pytest
from conftest import land_csv
from deltalake import DeltaTable

from weir.storage.delta import AssetTable, stage
from weir.workspace import RunRequest, Workspace

pytestmark = pytest.mark.slow  # real processes, signals and kills

KEYS = ["2024-01-01", "2024-01-02", "2024-01-03"]


def files_per_partition(table_dir: Path) -> dict[str, int]:
    """How many data files each partition has in the current Delta snapshot."""
    out: dict[str, int] = {}
    for uri in DeltaTable(str(table_dir)).file_uris():
        key = uri.split("partition_key=")[1].split("/")[0] if "partition_key=" in uri else ""
        out[key] = out.get(key, 0) + 1
    return out


def publish_together(table_dir: Path, writers: int, keys: list[str], run: str) -> list[int]:
    """``writers`` threads, each with its own table handle, publish their own build of ``keys`` at once."""
    staged = [
        [stage(str(table_dir), k, pa.table({"value": [w, w]}), run_id=f"{run}{w}", table_schema=None) for k in keys]
        for w in range(writers)
    ]
    barrier = threading.Barrier(writers)
    versions: list[int] = []
    errors: list[BaseException] = []

    def publish(w: int) -> None:
        table = AssetTable(table_dir, partitioned=True)
        believed = table.files()  # what this writer saw before the others committed
        barrier.wait()
        try:
            versions.append(table.publish(staged[w], replaced=believed, run_id=f"{run}{w}"))
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=publish, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return versions


def one_build_per_partition(table_dir: Path) -> None:
    """Each partition holds one writer's build whole: never two files, never a mix."""
    assert files_per_partition(table_dir) == {k: 1 for k in KEYS}
    data = DeltaTable(str(table_dir)).to_pyarrow_table()
    assert data.num_rows == 2 * len(KEYS)
    per_key: dict[str, set[int]] = {}
    for k, v in zip(data.column("partition_key").to_pylist(), data.column("value").to_pylist()):
        per_key.setdefault(k, set()).add(v)
    assert all(len(values) == 1 for values in per_key.values())


def test_writers_racing_to_create_a_table_each_publish_once(tmp_path):
    table_dir = tmp_path / "asset"
    assert sorted(publish_together(table_dir, 4, KEYS, "create")) == [0, 1, 2, 3]
    one_build_per_partition(table_dir)


def test_concurrent_publishes_of_one_partition_leave_one_visible_version(tmp_path):
    table_dir = tmp_path / "asset"
    assert publish_together(table_dir, 1, KEYS, "first") == [0]
    assert sorted(publish_together(table_dir, 4, KEYS[:2], "again")) == [1, 2, 3, 4]
    one_build_per_partition(table_dir)


def test_a_publish_replaces_files_it_was_not_told_about(tmp_path):
    """Another writer published the partition after this one last looked: it is replaced all the same."""
    table_dir = tmp_path / "asset"
    mine = AssetTable(table_dir, partitioned=True)
    mine.publish([stage(str(table_dir), KEYS[0], pa.table({"value": [1]}), run_id="r1", table_schema=None)], replaced={},
                 run_id="r1")
    mine_saw = mine.files()
    other = AssetTable(table_dir, partitioned=True)
    other.publish([stage(str(table_dir), KEYS[0], pa.table({"value": [2]}), run_id="r2", table_schema=None)],
                  replaced=other.files(), run_id="r2")

    version = mine.publish([stage(str(table_dir), KEYS[0], pa.table({"value": [3]}), run_id="r3", table_schema=None)],
                           replaced=mine_saw, run_id="r3")
    assert version == 2
    assert files_per_partition(table_dir) == {KEYS[0]: 1}
    assert DeltaTable(str(table_dir)).to_pyarrow_table().column("value").to_pylist() == [3]


# -- two ``weir run`` processes on one project ------------------------------------------------

DAYS = [f"2024-03-0{d}" for d in range(1, 7)]

# Each partition build takes a moment, so two runs started together overlap. The first build of
# the partition named in the file ``hold`` ("asset/key") stops until that file is gone, after
# writing ``holding`` with its run id (by then its lease is taken); other builds of it go on.
ASSETS = '''
import os
import time
from pathlib import Path

import pandas as pd

import weir


HERE = Path(__file__).parent
days = weir.daily(start="2024-03-01", end="2024-03-06")
landing = weir.source("landing", path="landing/{partition}.csv", partitions=days)


def pause(node, run_id):
    hold = HERE / "hold"
    if hold.exists() and hold.read_text().strip() == node:
        try:
            fd = os.open(HERE / "holding", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return
        os.write(fd, run_id.encode())
        os.close(fd)
        deadline = time.monotonic() + 120
        while hold.exists():
            if time.monotonic() > deadline:
                raise TimeoutError("never released")
            time.sleep(0.05)
    time.sleep(0.1)


@weir.asset(partitions=days)
def cleaned(landing, context):
    pause(f"cleaned/{context.partition_key}", context.run_id)
    return landing.assign(value=landing["value"] * 10)


@weir.asset(partitions=days)
def doubled(cleaned, context):
    pause(f"doubled/{context.partition_key}", context.run_id)
    return cleaned.assign(value=cleaned["value"] * 2)


@weir.asset(partitions=days, inputs={"yesterday": weir.upstream("cleaned", weir.previous(1))})
def trend(yesterday):
    if yesterday is None:
        return pd.DataFrame({"id": [0], "value": [0]})
    return yesterday.assign(value=yesterday["value"] + 1)
'''
ASSETS_BUILT = ("cleaned", "doubled", "trend")
TIMEOUT = 120.0


def land(project: Path, base: int) -> None:
    for n, day in enumerate(DAYS):
        land_csv(project, f"landing/{day}.csv", [{"id": i, "value": base + n + i} for i in range(3)])


def clean_build(asset: str, base: int) -> dict[str, list[int]]:
    """What one run on an empty workspace publishes: values per partition."""
    cleaned = {day: [10 * (base + n + i) for i in range(3)] for n, day in enumerate(DAYS)}
    if asset == "cleaned":
        return cleaned
    if asset == "doubled":
        return {day: [2 * v for v in values] for day, values in cleaned.items()}
    return {day: [0] if n == 0 else [v + 1 for v in cleaned[DAYS[n - 1]]] for n, day in enumerate(DAYS)}


def start_run(ws: Path, project: Path, *args: str, pool: bool = False) -> subprocess.Popen:
    """A real ``weir run --json`` process on the metadata store the test uses (WEIR_DATABASE_URL).
    With ``pool`` it builds in two worker processes, and publishes an asset in several commits
    as its partitions finish."""
    env = {k: v for k, v in os.environ.items() if k != "WEIR_HOME"}
    executor = ["--executor", "processes", "--workers", "2"] if pool else ["--executor", "inprocess"]
    cmd = [sys.executable, "-m", "weir.cli.main", "--workspace", str(ws), "--project", str(project), "run",
           *executor, "--json", *args]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finished(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{out}\n{err}"
    return json.loads(out)


def wait_for(path: Path, proc: subprocess.Popen) -> str:
    deadline = time.monotonic() + TIMEOUT
    while not (path.exists() and path.read_text()):
        if proc.poll() is not None:
            pytest.fail(f"weir run exited early ({proc.returncode}): {proc.communicate()}")
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.05)
    return path.read_text()


def assert_published_once(ws: Path, project: Path, base: int) -> None:
    """Every partition holds exactly one data file, with what a clean build holds, and the
    metadata store says what the Delta log says (version, run, rows)."""
    from weir.engine.recovery import read_log

    with Workspace(ws, project) as w, w.store.read():
        current = w.store.partitions.current("demo")
    for asset in ASSETS_BUILT:
        table_dir = ws / "data" / "demo" / asset
        assert files_per_partition(table_dir) == {day: 1 for day in DAYS}, asset
        data = DeltaTable(str(table_dir)).to_pyarrow_table()
        values: dict[str, list[int]] = {}
        for k, v in zip(data.column("partition_key").to_pylist(), data.column("value").to_pylist()):
            values.setdefault(k, []).append(v)
        assert {k: sorted(v) for k, v in values.items()} == clean_build(asset, base), asset
        log = read_log(table_dir)
        added = {f.path: (c.version, c.run_id, f.rows) for c in log.commits for f in c.adds}
        for key, [path] in AssetTable(table_dir, partitioned=True).files().items():
            row = current[(asset, key)]
            assert (row["version"], row["run_id"], row["row_count"]) == added[path], (asset, key)
    with Workspace(ws, project) as w:
        assert w.runs.plan(RunRequest(stale=True)).tasks == []  # nothing left out, nothing to fix


@pytest.fixture
def project(make_project) -> Path:
    p = make_project({"assets.py": ASSETS})
    land(p, base=1)
    return p


def prepare_store(ws: Path, project: Path) -> None:
    weir_cli_env(ws, project, "db", "upgrade")


def weir_cli_env(ws: Path, project: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "WEIR_HOME"}
    subprocess.run([sys.executable, "-m", "weir.cli.main", "--workspace", str(ws), "--project", str(project), *args],
                   env=env, check=True, capture_output=True, timeout=TIMEOUT)


def test_two_runs_started_together_build_each_partition_once(backend, workspace_dir, project):
    prepare_store(workspace_dir, project)
    first, second = start_run(workspace_dir, project, pool=True), start_run(workspace_dir, project, pool=True)
    results = [finished(first), finished(second)]

    assert [r["state"] for r in results] == ["succeeded", "succeeded"]
    assert_published_once(workspace_dir, project, base=1)
    assert sum(r["counts"].get("succeeded", 0) for r in results) >= 2 * len(DAYS)


def test_overlapping_stale_runs_never_double_rows(backend, workspace_dir, project):
    """The overlapping cron: new deliveries, then two ``--stale`` runs a moment apart."""
    prepare_store(workspace_dir, project)
    finished(start_run(workspace_dir, project))
    land(project, base=100)
    first = start_run(workspace_dir, project, "--stale", pool=True)
    time.sleep(0.5)
    second = start_run(workspace_dir, project, "--stale", pool=True)
    results = [finished(first), finished(second)]

    assert [r["state"] for r in results] == ["succeeded", "succeeded"]
    assert_published_once(workspace_dir, project, base=100)


def test_a_run_that_read_a_table_early_still_replaces_what_another_run_published_since(backend, workspace_dir, project):
    """Run A lists ``cleaned``'s files for ``trend`` (which reads yesterday) while it builds
    ``cleaned`` 2024-03-03; run B is started on that partition meanwhile. However the two meet,
    the partition ends with one file."""
    prepare_store(workspace_dir, project)
    finished(start_run(workspace_dir, project))
    land(project, base=100)
    (project / "hold").write_text("cleaned/2024-03-03")
    first = start_run(workspace_dir, project, "--partition", "2024-03-03", pool=True)
    first_id = wait_for(project / "holding", first)
    second = start_run(workspace_dir, project, "cleaned", "--partition", "2024-03-03")
    deadline = time.monotonic() + TIMEOUT
    while second.poll() is None:  # B either builds and publishes it, or waits for A's lease
        with Workspace(workspace_dir, project) as w:
            mine = [r.id for r in w.runs.list() if r.id != first_id and r.state == "running"]
            reasons = [t["reason"] for t in w.runs.detail(mine[0])["tasks"]] if mine else []
        if reasons == [f"waiting for run {first_id}"]:
            break
        assert time.monotonic() < deadline, "the second run neither finished nor waited"
        time.sleep(0.1)
    (project / "hold").unlink()
    results = [finished(first), finished(second)]

    assert [r["state"] for r in results] == ["succeeded", "succeeded"]
    assert files_per_partition(workspace_dir / "data" / "demo" / "cleaned") == {day: 1 for day in DAYS}
    finished(start_run(workspace_dir, project, "--stale"))  # the other days
    assert_published_once(workspace_dir, project, base=100)


def test_a_run_waits_for_a_partition_another_run_builds_and_does_not_rebuild_it(workspace_dir, project, monkeypatch):
    monkeypatch.delenv("WEIR_DATABASE_URL", raising=False)
    prepare_store(workspace_dir, project)
    (project / "hold").write_text("cleaned/2024-03-03")
    builder = start_run(workspace_dir, project, "cleaned", "--partition", "2024-03-03")
    builder_id = wait_for(project / "holding", builder)
    waiter = start_run(workspace_dir, project)  # waits for cleaned 2024-03-03 and for what reads it
    held = {("cleaned", "2024-03-03"), ("doubled", "2024-03-03"), ("trend", "2024-03-04")}  # and what reads it
    deadline = time.monotonic() + TIMEOUT
    while True:  # the waiter builds everything else meanwhile
        with Workspace(workspace_dir, project) as w:
            runs = [r for r in w.runs.list() if r.id != builder_id]
            tasks = {(t["asset"], t["partition_key"]): t["state"] for t in w.runs.detail(runs[0].id)["tasks"]} if runs else {}
        if tasks and all(state == "succeeded" for node, state in tasks.items() if node not in held):
            break
        assert time.monotonic() < deadline and waiter.poll() is None, "the second run did not build the rest"
        time.sleep(0.1)
    assert {tasks[node] for node in held} == {"queued"}
    (project / "hold").unlink()
    built, waited = finished(builder), finished(waiter)

    assert built["state"] == waited["state"] == "succeeded"
    assert waited["conflicts"]["runs"] == [builder_id]
    assert waited["conflicts"]["waited"] >= 1 and waited["conflicts"]["up_to_date"] >= 1
    with Workspace(workspace_dir, project) as w:
        task = {(t["asset"], t["partition_key"]): t for t in w.runs.detail(waited["run_id"])["tasks"]}
        history = w.data.history("cleaned", "2024-03-03")
    assert task[("cleaned", "2024-03-03")]["state"] == "skipped"
    assert task[("cleaned", "2024-03-03")]["reason"] == f"up to date: run {builder_id} built it while this run waited"
    assert task[("doubled", "2024-03-03")]["state"] == "succeeded"  # it read the version the other run published
    assert task[("trend", "2024-03-04")]["state"] == "succeeded"
    assert [h["run_id"] for h in history] == [builder_id]  # built once
    assert_published_once(workspace_dir, project, base=1)


def test_a_run_skips_what_another_run_builds_and_what_reads_it(workspace_dir, project, monkeypatch):
    monkeypatch.delenv("WEIR_DATABASE_URL", raising=False)
    prepare_store(workspace_dir, project)
    (project / "weir.toml").write_text('[project]\nname = "demo"\n\n[run]\non_conflict = "skip"\n')
    (project / "hold").write_text("cleaned/2024-03-03")
    builder = start_run(workspace_dir, project, "cleaned", "--partition", "2024-03-03", "--on-conflict", "wait")
    builder_id = wait_for(project / "holding", builder)
    skipper = finished(start_run(workspace_dir, project))  # on_conflict from weir.toml
    (project / "hold").unlink()
    built = finished(builder)

    assert skipper["state"] == built["state"] == "succeeded"
    assert skipper["conflicts"]["on_conflict"] == "skip" and skipper["conflicts"]["runs"] == [builder_id]
    with Workspace(workspace_dir, project) as w:
        task = {(t["asset"], t["partition_key"]): t for t in w.runs.detail(skipper["run_id"])["tasks"]}
    assert (task[("cleaned", "2024-03-03")]["state"], task[("cleaned", "2024-03-03")]["reason"]) == (
        "skipped", f"being built by run {builder_id}")
    assert (task[("doubled", "2024-03-03")]["state"], task[("doubled", "2024-03-03")]["reason"]) == (
        "skipped", f"cleaned '2024-03-03' is being built by run {builder_id}")
    assert task[("trend", "2024-03-04")]["state"] == "skipped"
    assert skipper["conflicts"]["skipped"] == 3
    with Workspace(workspace_dir, project) as w:  # what was skipped is out of date, and says so
        assert [(t.asset, t.key, t.reason) for t in w.runs.plan(RunRequest(stale=True)).tasks] == [
            ("doubled", "2024-03-03", "missing"), ("trend", "2024-03-04", "missing")]
    finished(start_run(workspace_dir, project, "--stale"))
    assert_published_once(workspace_dir, project, base=1)


def test_on_conflict_is_checked_before_anything_runs(workspace_dir, project):
    from conftest import weir_cli

    bad = weir_cli(workspace_dir, project, "run", "--on-conflict", "later", expect=2)
    assert "--on-conflict 'later' is not one of wait, skip" in bad.stderr
    (project / "weir.toml").write_text('[project]\nname = "demo"\n\n[run]\non_conflict = "queue"\n')
    bad = weir_cli(workspace_dir, project, "run", expect=2)
    assert "run.on_conflict 'queue' must be one of: wait, skip" in bad.stderr
    assert not (workspace_dir / "data").exists()
