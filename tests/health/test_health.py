"""Keeping a workspace healthy: doctor finds what is damaged and names the repair, repair
rebuilds the metadata from the Delta logs, vacuum frees what no version needs, recovered
publishes are recorded exactly, and a metadata store that cannot be used is one line."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote

import pyarrow as pa
import pytest
from conftest import POSTGRES_URL, land_csv
from deltalake import DeltaTable

import weir
from weir.engine.heartbeat import this_host
from weir.engine.recovery import InputsAsOf, read_log, reap_dead_runs
from weir.errors import DataError, StoreError, UsageError
from weir.health.damage import damage_message
from weir.health.doctor import doctor
from weir.health.repair import repair
from weir.health.report import FindingKind, RepairActionKind, Severity
from weir.health.tables import is_partitioned
from weir.health.vacuum import parse_age, vacuum
from weir.storage.delta import AssetTable, stage
from weir.store.store import MetadataStore
from weir.workspace import RunRequest, Workspace

DAYS = ["2024-01-29", "2024-01-30", "2024-01-31", "2024-02-01", "2024-02-02"]

ASSETS = '''
import pandas as pd
import weir

days = weir.daily(start="2024-01-29", end="2024-02-02")
months = weir.monthly(start="2024-01", end="2024-02")
landing = weir.source("landing", path="landing/{partition}.csv", partitions=days)


@weir.asset(partitions=days, checks=[weir.checks.in_range("value", max=1000, severity="block")])
def cleaned(landing):
    return landing.assign(value=landing["value"] * 2)


@weir.asset(partitions=days)
def enriched(cleaned):
    return cleaned.assign(plus=cleaned["value"] + 1)


@weir.asset(partitions=months)
def monthly_total(cleaned):
    return pd.DataFrame({"rows": [len(cleaned)], "total": [int(cleaned["value"].sum())]})
'''


def land(project: Path, day: str, values: list[int]) -> None:
    land_csv(project, f"landing/{day}.csv", [{"id": i, "value": v} for i, v in enumerate(values)])


def build(home: Path, project: Path, **request) -> str:
    request.setdefault("executor", "inprocess")
    with Workspace(home, project) as ws:
        return ws.runs.run(RunRequest(**request)).run_id


def table_dir(home: Path, asset: str) -> Path:
    return home / "data" / "demo" / asset


def current_file(home: Path, asset: str, key: str) -> Path:
    [rel] = AssetTable(table_dir(home, asset), partitioned=True).files()[key]
    return table_dir(home, asset) / rel


def check(home: Path, project: Path):
    with Workspace(home, project) as ws:
        return doctor(ws.home, ws.store, project=ws.project.name)


def fix(home: Path, project: Path):
    with Workspace(home, project) as ws:
        return repair(ws.home, ws.store, project_for=lambda name: ws.project if name == ws.project.name else None,
                      project=ws.project.name)


def stale_plan(home: Path, project: Path) -> dict[tuple[str, str], str]:
    with Workspace(home, project) as ws:
        return {(t.asset, t.key): t.reason for t in ws.runs.plan(RunRequest(stale=True)).tasks}


def kinds(report) -> list[tuple[str, str | None, str | None]]:
    return [(str(f.kind), f.asset, f.partition) for f in report.findings]


@pytest.fixture
def built(make_project, workspace_dir, backend) -> tuple[Path, Path]:
    """Five days of three assets, built once: every table at version 0."""
    project = make_project({"assets.py": ASSETS})
    for n, day in enumerate(DAYS):
        land(project, day, [n + 1, n + 2, n + 3])
    build(workspace_dir, project)
    return workspace_dir, project


# -- doctor ----------------------------------------------------------------------------------

def test_a_healthy_workspace_has_no_findings_and_a_documented_json_form(built):
    home, project = built
    report = check(home, project)

    assert report.ok and report.exit_code == 0
    assert report.findings == ()
    out = report.to_json()
    assert set(out) == {"workspace", "ok", "counts", "tables", "findings"}
    assert out["counts"] == {"error": 0, "warning": 0, "info": 0}
    tables = {t["asset"]: t for t in out["tables"]}
    assert set(tables) == {"cleaned", "enriched", "monthly_total"}
    assert (tables["cleaned"]["version"], tables["cleaned"]["partitions"], tables["cleaned"]["rows"]) == (0, 5, 15)
    assert tables["monthly_total"]["rows"] == 2
    assert set(tables["cleaned"]) == {
        "project", "asset", "path", "version", "partitions", "files", "rows", "bytes", "orphaned_files",
        "orphaned_bytes", "quarantined_files", "quarantined_bytes",
    }
    json.dumps(out)


def test_a_deleted_data_file_is_a_finding_with_the_rebuild_command_and_reads_say_so(built):
    home, project = built
    lost = current_file(home, "cleaned", "2024-01-30")
    lost.unlink()

    report = check(home, project)
    assert not report.ok and report.exit_code == 1
    [finding] = report.findings
    assert (finding.kind, finding.severity, finding.asset, finding.partition) == (
        FindingKind.MISSING_FILE, Severity.ERROR, "cleaned", "2024-01-30")
    assert finding.file == str(lost)
    assert finding.repair == "weir run cleaned --partition 2024-01-30"
    assert finding.to_json()["repair"] == finding.repair

    # the read path turns the reader's error into one line naming the file and doctor
    with Workspace(home, project) as ws, pytest.raises(DataError) as raised:
        ws.data.read("cleaned", "2024-01-30")
    line = damage_message(raised.value, str(table_dir(home, "cleaned")))
    assert line is not None and "\n" not in line
    assert str(lost) in line and "is missing" in line and "weir doctor" in line
    with pytest.raises(FileNotFoundError) as by_delta:  # what a plain Delta reader raises
        DeltaTable(str(table_dir(home, "cleaned"))).to_pyarrow_table()
    assert str(lost) in (damage_message(by_delta.value, str(table_dir(home, "cleaned"))) or "")
    assert damage_message(ValueError("something else"), str(table_dir(home, "cleaned"))) is None

    # the command it names repairs it
    build(home, project, assets=("cleaned",), partition="2024-01-30")
    assert check(home, project).ok


def test_repair_makes_a_partition_whose_file_is_lost_missing_so_the_stale_run_rebuilds_it(built):
    home, project = built
    current_file(home, "cleaned", "2024-01-30").unlink()
    done = fix(home, project)
    [forgot] = [a for a in done.actions if a.action == RepairActionKind.FORGOT_PARTITION]
    assert (forgot.asset, forgot.partition) == ("cleaned", "2024-01-30")
    assert "is missing" in forgot.message and "'weir run --stale' rebuilds it" in forgot.message
    assert kinds(done.after) == [("missing_file", "cleaned", "2024-01-30")]  # the file's finding, nothing else
    assert fix(home, project).actions == ()  # a second repair has nothing to do

    with Workspace(home, project) as ws:
        assert ws.data.status("cleaned")[0]["published"] == 4
    plan = stale_plan(home, project)
    assert plan[("cleaned", "2024-01-30")] == "missing"
    assert plan[("enriched", "2024-01-30")] == plan[("monthly_total", "2024-01")] == "upstream rebuilt"
    build(home, project, stale=True)
    assert check(home, project).ok and stale_plan(home, project) == {}


def test_an_unreadable_data_file_is_a_finding(built):
    home, project = built
    damaged = current_file(home, "enriched", "2024-02-01")
    damaged.write_bytes(damaged.read_bytes()[:40])  # truncated: no footer

    [finding] = check(home, project).findings
    assert (finding.kind, finding.partition, finding.file) == (FindingKind.UNREADABLE_FILE, "2024-02-01", str(damaged))
    assert finding.repair == "weir run enriched --partition 2024-02-01"
    with Workspace(home, project) as ws, pytest.raises(DataError) as raised:
        ws.data.read("enriched", "2024-02-01")
    assert "is unreadable" in damage_message(raised.value, str(table_dir(home, "enriched")))


def test_a_truncated_log_entry_is_a_finding_and_repair_sets_it_aside(built):
    home, project = built
    build(home, project, assets=("cleaned",), partition="2024-01-30")  # cleaned version 1
    entry = table_dir(home, "cleaned") / "_delta_log" / f"{1:020d}.json"
    text = entry.read_text()
    entry.write_text(text[: len(text) // 2])

    report = check(home, project)
    corrupt = [f for f in report.findings if f.kind == FindingKind.CORRUPT_LOG]
    assert len(corrupt) == 1
    assert (corrupt[0].asset, corrupt[0].file, corrupt[0].repair) == ("cleaned", str(entry), "weir doctor --repair")
    assert "truncated" in corrupt[0].message
    assert report.exit_code == 1

    done = fix(home, project)
    assert RepairActionKind.SET_ASIDE_COMMIT in {a.action for a in done.actions}
    assert done.after.ok, done.after.to_json()
    assert not entry.exists()
    assert DeltaTable(str(table_dir(home, "cleaned"))).version() == 0  # the last intact version
    with Workspace(home, project) as ws:
        assert ws.data.read("cleaned", "2024-01-30").column("value").to_pylist() == [4, 6, 8]
        with ws.store.read():
            row = ws.store.partitions.current("demo", ["cleaned"])[("cleaned", "2024-01-30")]
    assert row["version"] == 0
    assert stale_plan(home, project) == {}  # what version 0 was built from has not changed
    assert build(home, project, assets=("cleaned",), partition="2024-01-30")  # the table takes commits again
    assert check(home, project).ok


def test_after_a_torn_newest_entry_is_set_aside_history_lists_each_readable_version_once(built):
    home, project = built
    build(home, project, assets=("cleaned",), partition="2024-01-30")  # cleaned version 1
    entry = table_dir(home, "cleaned") / "_delta_log" / f"{1:020d}.json"
    entry.write_text(entry.read_text()[:-40])  # torn: the version is lost

    done = fix(home, project)
    [forgot] = [a for a in done.actions if a.action == RepairActionKind.FORGOT_HISTORY]
    assert forgot.asset == "cleaned" and "version 1" in forgot.message
    with Workspace(home, project) as ws:
        assert [h["version"] for h in ws.data.history("cleaned", "2024-01-30")] == [0]
        assert [h["version"] for h in ws.data.history("cleaned", "2024-01-31")] == [0]
    assert fix(home, project).actions == ()
    build(home, project, assets=("cleaned",), partition="2024-01-30")  # the next commit is version 1 again
    with Workspace(home, project) as ws:
        assert [h["version"] for h in ws.data.history("cleaned", "2024-01-30")] == [1, 0]
        ws.data.read("cleaned", "2024-01-30", version=1)


def test_a_damaged_first_and_only_commit_is_set_aside_and_the_stale_run_rebuilds_the_table(built):
    home, project = built
    entry = table_dir(home, "monthly_total") / "_delta_log" / f"{0:020d}.json"
    entry.write_text(entry.read_text()[:-30])

    done = fix(home, project)
    assert [str(a.action) for a in done.actions if a.asset == "monthly_total"] == [
        "set_aside_commit", "forgot_partition", "forgot_partition", "forgot_history"]
    assert done.after.ok
    assert stale_plan(home, project) == {("monthly_total", "2024-01"): "missing", ("monthly_total", "2024-02"): "missing"}
    build(home, project, stale=True)
    with Workspace(home, project) as ws:
        assert ws.data.read("monthly_total", "2024-02").to_pylist() == [{"rows": 6, "total": 2 * (4 + 5 + 6 + 5 + 6 + 7)}]
        assert [h["version"] for h in ws.data.history("monthly_total", "2024-02")] == [0]  # the new version 0 only
    assert check(home, project).ok


def test_a_damaged_older_log_entry_names_the_manual_repair(built):
    home, project = built
    build(home, project, assets=("cleaned",), partition="2024-01-30")
    entry = table_dir(home, "cleaned") / "_delta_log" / f"{0:020d}.json"
    entry.write_text("")

    report = check(home, project)
    [corrupt] = [f for f in report.findings if f.kind == FindingKind.CORRUPT_LOG]
    assert corrupt.file == str(entry) and "is empty" in corrupt.message
    assert "restore it from a backup" in corrupt.repair and "weir run cleaned" in corrupt.repair
    fix(home, project)
    assert entry.exists() and entry.read_text() == ""  # nothing it cannot prove is touched


# -- repair ----------------------------------------------------------------------------------

def lose_metadata(home: Path, backend: str) -> None:
    """The metadata store is gone: weir.db deleted, or the PostgreSQL schema emptied."""
    if backend == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{home / 'weir.db'}{suffix}").unlink(missing_ok=True)
        return
    import psycopg

    schema = unquote(backend).split("search_path=")[1]
    with psycopg.connect(POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as c:
        c.execute(f'DROP SCHEMA "{schema}" CASCADE')
        c.execute(f'CREATE SCHEMA "{schema}"')


def snapshot_metadata(home: Path, project: Path) -> dict:
    fields = ("published", "expected", "rows", "outdated_code", "first", "last")
    with Workspace(home, project) as ws:
        status = {s["asset"]: {k: s[k] for k in fields} for s in ws.data.status()}
        with ws.store.read():
            current = {k: {f: r[f] for f in ("version", "run_id", "code_version", "row_count", "input_versions")}
                       for k, r in ws.store.partitions.current("demo").items()}
        history = [(h["version"], h["run_id"], h["code_version"], h["row_count"]) for h in ws.data.history("cleaned", "2024-01-30")]
    return {"status": status, "current": current, "history": history, "plan": stale_plan(home, project)}


def test_deleting_the_metadata_store_then_repair_gives_exact_status_and_stale_plan(built, backend):
    home, project = built
    build(home, project, assets=("cleaned",), partition="2024-01-30")  # a second version of one partition
    build(home, project, stale=True)  # and what read it
    time.sleep(0.01)
    land(project, "2024-02-02", [7, 8, 9])  # a delivery replaced after its build
    before = snapshot_metadata(home, project)
    assert before["plan"] == {("cleaned", "2024-02-02"): "upstream changed", ("enriched", "2024-02-02"): "upstream rebuilt",
                              ("monthly_total", "2024-02"): "upstream rebuilt"}
    assert len(before["history"]) == 2

    lose_metadata(home, backend)
    with Workspace(home, project) as ws:
        assert ws.data.status("cleaned")[0]["published"] == 0  # a store with no memory
    assert not check(home, project).ok

    done = fix(home, project)
    assert sum(a.action == RepairActionKind.RECORDED_PARTITION for a in done.actions) == 12
    assert done.after.ok, done.after.to_json()
    after = snapshot_metadata(home, project)
    assert after["status"] == before["status"]
    # versions, runs, code versions, rows and what each read; of the replaced delivery only that it changed
    replaced = ("cleaned", "2024-02-02")
    assert after["current"][replaced]["input_versions"] == {"landing": {}}
    after["current"][replaced]["input_versions"] = before["current"][replaced]["input_versions"]
    assert after["current"] == before["current"]
    assert after["history"] == before["history"]
    assert after["plan"] == before["plan"]  # exact: only the replaced delivery and what reads it
    assert fix(home, project).actions == ()  # a second repair has nothing to do


def test_repair_closes_dead_runs_and_makes_drifted_metadata_agree(built, backend):
    home, project = built
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with Workspace(home, project) as ws, ws.store.transaction():
        now = time.time()
        ws.store.runs.create({"id": "20240101-000000-dead", "project": "demo", "trigger": "cli", "state": "running",
                              "created_at": now, "host": this_host(), "pid": dead.pid, "heartbeat_at": now})
        c = ws.store.connection
        from weir.store import schema as t

        p = t.partitions.c
        c.execute(t.partitions.update().where(p.asset == "cleaned", p.partition_key == "2024-01-29").values(row_count=None))
        c.execute(t.partitions.update().where(p.asset == "enriched", p.partition_key == "2024-01-30").values(version=7))
        c.execute(t.partitions.delete().where(p.asset == "enriched", p.partition_key == "2024-01-31"))
        ws.store.partitions.record_published([{"project": "demo", "asset": "enriched", "partition_key": "2024-02-09",
                                               "version": 0, "run_id": "x", "code_version": "y", "row_count": 1}])
    store = MetadataStore.for_workspace(home, url=os.environ.get("WEIR_DATABASE_URL"))  # opened bare: a workspace would close the dead run on open
    report = doctor(home, store)
    assert sorted(kinds(report)) == sorted([
        ("dead_run", None, None), ("row_count_mismatch", "cleaned", "2024-01-29"),
        ("stale_metadata", "enriched", "2024-01-30"), ("unrecorded_partition", "enriched", "2024-01-31"),
        ("lost_partition", "enriched", "2024-02-09"),
    ])
    dead_finding = next(f for f in report.findings if f.kind == FindingKind.DEAD_RUN)
    assert f"process {dead.pid}" in dead_finding.message and dead_finding.repair == "weir doctor --repair"
    assert next(f for f in report.findings if f.kind == FindingKind.LOST_PARTITION).repair == "weir run enriched --partition 2024-02-09"

    with Workspace(home, project) as ws:
        done = repair(home, store, project_for=lambda name: ws.project)
    store.close()
    assert {str(a.action) for a in done.actions} == {"closed_run", "corrected_partition", "recorded_partition", "forgot_partition"}
    assert done.after.ok, done.after.to_json()
    assert done.to_json()["counts"]["corrected_partition"] == 2
    with Workspace(home, project) as ws:
        assert ws.runs.detail("20240101-000000-dead")["state"] == "failed"
        assert [s["rows"] for s in ws.data.status()] == [15, 15, 2]
    assert stale_plan(home, project) == {}


def test_repair_refuses_while_a_run_is_alive(built):
    home, project = built
    with Workspace(home, project) as ws:
        with ws.store.transaction():
            ws.store.runs.create({"id": "20240101-000000-live", "project": "demo", "trigger": "cli", "state": "running",
                                  "created_at": time.time(), "host": this_host(), "pid": os.getpid(), "heartbeat_at": time.time()})
        with pytest.raises(UsageError, match="20240101-000000-live is in progress"):
            repair(ws.home, ws.store)


# -- vacuum ----------------------------------------------------------------------------------

def age_removal(table: Path, rel: str, days: float) -> None:
    """Date the commit that removed ``rel`` ``days`` back, as if it had been made then."""
    for entry in sorted((table / "_delta_log").glob("*.json")):
        lines = entry.read_text().splitlines()
        changed = False
        for i, line in enumerate(lines):
            action = json.loads(line)
            if action.get("remove", {}).get("path") == rel:
                action["remove"]["deletionTimestamp"] = int((time.time() - days * 86400) * 1000)
                lines[i], changed = json.dumps(action), True
        if changed:
            entry.write_text("\n".join(lines) + "\n")


def age(path: Path, days: float) -> None:
    then = time.time() - days * 86400
    os.utime(path, (then, then))


def test_vacuum_frees_what_no_version_needs_past_the_retention_and_nothing_else(built):
    home, project = built
    cleaned = table_dir(home, "cleaned")
    first_run = build(home, project, assets=("enriched",), partition="2024-01-29")
    old_history = current_file(home, "cleaned", "2024-01-29")
    build(home, project, assets=("cleaned",), partition="2024-01-29")
    age_removal(cleaned, old_history.relative_to(cleaned).as_posix(), days=10)
    new_history = current_file(home, "cleaned", "2024-01-30")  # replaced now: within the retention
    build(home, project, assets=("cleaned",), partition="2024-01-30")

    land(project, "2024-01-31", [600, 1, 2])  # 1200 > 1000: the block check quarantines it
    build(home, project, assets=("cleaned",), partition="2024-01-31")
    [old_quarantine] = [p for p in cleaned.rglob("staged-*.parquet") if p.parent.name.endswith("2024-01-31")
                        and p != current_file(home, "cleaned", "2024-01-31")]
    age(old_quarantine, days=10)
    time.sleep(1.1)  # run ids order by the second they start: the next blocked build must be the newest
    build(home, project, assets=("cleaned",), partition="2024-01-31")  # blocked again, just now
    young_quarantine = next(p for p in (cleaned / "partition_key=2024-01-31").glob("staged-*.parquet")
                            if p not in (old_quarantine, current_file(home, "cleaned", "2024-01-31")))

    data = pa.table({"id": [1], "value": [1]})
    abandoned = cleaned / stage(str(cleaned), "2024-02-01", data, run_id=first_run, table_schema=None).path
    age(abandoned, days=10)
    young_abandoned = cleaned / stage(str(cleaned), "2024-02-01", data, run_id=first_run, table_schema=None).path
    with Workspace(home, project) as ws, ws.store.transaction():  # a run that is alive: this process
        ws.store.runs.create({"id": "20240101-000000-live", "project": "demo", "trigger": "cli", "state": "running",
                              "created_at": time.time(), "host": this_host(), "pid": os.getpid(), "heartbeat_at": time.time()})
    in_progress = cleaned / stage(str(cleaned), "2024-02-02", data, run_id="20240101-000000-live", table_schema=None).path
    age(in_progress, days=10)

    current = {p for files in AssetTable(cleaned, partitioned=True).files().values() for p in files}
    every = {p for p in cleaned.rglob("*.parquet")}
    expected = {(old_history, "history"), (old_quarantine, "quarantined"), (abandoned, "staged")}

    with Workspace(home, project) as ws:
        listed = vacuum(ws.home, ws.store, dry_run=True)
    assert {p for p in cleaned.rglob("*.parquet")} == every  # a dry run deletes nothing
    [table] = [t for t in listed.tables if t.asset == "cleaned"]
    assert {(cleaned / f.path, f.reason) for f in table.files} == expected
    assert listed.bytes == sum(p.stat().st_size for p, _ in expected)
    assert all(not t.files for t in listed.tables if t.asset != "cleaned")

    with Workspace(home, project) as ws:
        done = vacuum(ws.home, ws.store)
    assert {(cleaned / f.path, f.reason) for f in next(t for t in done.tables if t.asset == "cleaned").files} == expected
    assert done.to_json()["files"] == 3 and not done.dry_run
    left = {p for p in cleaned.rglob("*.parquet")}
    assert left == every - {p for p, _ in expected}
    assert {cleaned / p for p in current} | {new_history, young_quarantine, young_abandoned, in_progress} <= left
    with Workspace(home, project) as ws:
        assert all(ws.data.read("cleaned", d).num_rows == 3 for d in DAYS)
        versions = [h["version"] for h in ws.data.history("cleaned", "2024-01-30")]
        assert ws.data.read("cleaned", "2024-01-30", version=versions[-1]).num_rows == 3  # time travel within the retention
        assert ws.data.read_quarantined("cleaned", "2024-01-31").num_rows == 3  # the newest blocked build is still there
        with pytest.raises(DataError) as raised:  # time travel past the retention
            ws.data.read("cleaned", "2024-01-29", version=0)
        line = damage_message(raised.value, str(cleaned))
        assert str(old_history) in line and "earlier version is missing (vacuumed" in line
    assert not [f for f in check(home, project).findings if f.severity != Severity.INFO]


def test_older_than_reads_a_duration():
    assert [parse_age(t) for t in ("7d", "12h", "30m", "2w", "0")] == [
        timedelta(days=7), timedelta(hours=12), timedelta(minutes=30), timedelta(weeks=2), timedelta(0)]
    with pytest.raises(UsageError, match="'7 days' is not a duration"):
        parse_age("7 days")


def test_vacuum_skips_a_table_whose_log_is_damaged(built):
    home, project = built
    entry = table_dir(home, "enriched") / "_delta_log" / f"{0:020d}.json"
    entry.write_text(entry.read_text()[:100])
    stray = table_dir(home, "enriched") / stage(str(table_dir(home, "enriched")), "2024-02-01", pa.table({"x": [1]}),
                                                   run_id="20200101-000000-gone", table_schema=None).path
    age(stray, days=30)
    with Workspace(home, project) as ws:
        done = vacuum(ws.home, ws.store, older_than=timedelta(0))
    [skipped] = [t for t in done.tables if t.skipped]
    assert skipped.asset == "enriched" and "weir doctor" in skipped.skipped
    assert stray.exists() and done.exit_code == 1


# -- recovery ----------------------------------------------------------------------------------

def test_a_recovered_publish_has_its_row_count_a_succeeded_task_and_an_exact_stale_plan(make_project, workspace_dir, monkeypatch):
    """Killed between the Delta commit and the metadata write (as in test_kill)."""
    from engine.test_kill import ASSETS as KILL_ASSETS
    from engine.test_kill import DAYS as KILL_DAYS
    from engine.test_kill import PROGRESS_TIMEOUT, start_engine_run, wait_until_blocked
    from engine.test_kill import land_all as land_kill

    monkeypatch.delenv("WEIR_DATABASE_URL", raising=False)
    home = workspace_dir
    project = make_project({"assets.py": KILL_ASSETS})
    land_kill(project, base=1)
    (project / "block").write_text(KILL_DAYS[-1])  # every partition of slow is leased by then: no metadata write before the commit
    proc = start_engine_run(home, project, publish_every=3600.0)
    lock = None
    try:
        run_id = wait_until_blocked(proc, project)
        lock = sqlite3.connect(home / "weir.db", isolation_level=None, timeout=PROGRESS_TIMEOUT)
        lock.execute("BEGIN IMMEDIATE")  # from now on the run cannot write metadata
        (project / "release").write_text("")
        log = table_dir(home, "slow") / "_delta_log"
        deadline = time.monotonic() + PROGRESS_TIMEOUT
        while not list(log.glob("*.json")):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "slow was never published"
            time.sleep(0.02)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
        if lock is not None:
            lock.close()
    (project / "block").unlink()

    # what the next command does when it opens the store, with the project at hand
    store = MetadataStore.for_workspace(home, url=os.environ.get("WEIR_DATABASE_URL"))
    with Workspace(home, project) as loaded:
        name, proj = loaded.project.name, loaded.project

    def table_for(p: str, asset: str) -> AssetTable:
        return AssetTable(home / "data" / p / asset, partitioned=is_partitioned(home / "data" / p / asset))

    [closed] = reap_dead_runs(store, table_for, InputsAsOf(lambda n: proj if n == name else None, table_for))
    store.close()
    assert closed["id"] == run_id and closed["recovered_publishes"] == 3

    with Workspace(home, project) as ws:
        detail = ws.runs.detail(run_id)
        assert detail["state"] == "failed" and detail["summary"]["counts"] == {"succeeded": 6}
        slow = [t for t in detail["tasks"] if t["asset"] == "slow"]
        assert [(t["state"], t["output_version"], t["row_count"]) for t in slow] == [("succeeded", 0, 3)] * 3
        assert all(t["input_versions"] == {"cleaned": {t["partition_key"]: 0}} for t in slow)
        [status] = ws.data.status("slow")
        assert (status["published"], status["rows"], status["last_run_failed"]) == (3, 9, 0)
        assert [h["row_count"] for h in ws.data.history("slow", KILL_DAYS[0])] == [3]
        published = [e for e in ws.events.list(kinds=("partition_published",)) if e.asset == "slow"]
        assert [(e.data["rows"], e.data["recovered"]) for e in published] == [(3, True)] * 3
    assert stale_plan(home, project) == {}  # nothing is rebuilt for nothing
    with Workspace(home, project) as ws:
        assert check(home, project).ok


def test_a_recovered_publish_without_the_project_still_has_rows_and_a_succeeded_task(tmp_path, monkeypatch):
    """The store's view when the reaper is not given the project (input versions unknown)."""
    monkeypatch.delenv("WEIR_DATABASE_URL", raising=False)
    home = tmp_path / "ws"
    store = MetadataStore.for_workspace(home, url=os.environ.get("WEIR_DATABASE_URL"))
    table = AssetTable(home / "data" / "demo" / "a", partitioned=True)
    now = time.time()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with store.transaction():
        store.runs.create({"id": "20240101-000000-abcd", "project": "demo", "trigger": "cli", "state": "running",
                           "created_at": now, "host": this_host(), "pid": dead.pid, "heartbeat_at": now})
        store.runs.add_tasks([{"run_id": "20240101-000000-abcd", "project": "demo", "asset": "a", "partition_key": k,
                               "state": "queued", "attempt": 0, "code_version": "c1"} for k in ("k1", "k2")])
    staged = stage(str(table.path), "k1", pa.table({"x": [1, 2, 3, 4]}), run_id="20240101-000000-abcd", table_schema=None)
    table.publish([staged], replaced={}, run_id="20240101-000000-abcd", metadata={"weir.code_version": "c1"})

    reap_dead_runs(store, lambda p, a: AssetTable(home / "data" / p / a, partitioned=True))
    with store.read():
        tasks = {t.partition_key: t for t in store.runs.tasks("20240101-000000-abcd")}
        row = store.partitions.current("demo")[("a", "k1")]
    store.close()
    assert (tasks["k1"].state, tasks["k1"].output_version, tasks["k1"].row_count) == ("succeeded", 0, 4)
    assert tasks["k2"].state == "failed"
    assert (row["version"], row["row_count"], row["code_version"]) == (0, 4, "c1")
    assert read_log(table.path).commits[0].adds[0].rows == 4


# -- the metadata store ------------------------------------------------------------------------

PROBE = """
import os
import sys
from pathlib import Path
from weir.errors import StoreError
from weir.store.store import MetadataStore
try:
    store = MetadataStore.for_workspace(Path(sys.argv[1]), url=os.environ.get("WEIR_DATABASE_URL"))
    with store.transaction():
        store.runs.update("r", state="failed")
except StoreError as exc:
    print(exc)
    sys.exit(2)
"""


@pytest.mark.parametrize("folder_writable", [False, True])
def test_a_read_only_metadata_store_is_one_line_naming_it(monkeypatch, folder_writable):
    monkeypatch.delenv("WEIR_DATABASE_URL", raising=False)
    home = Path(tempfile.mkdtemp(prefix="weir-ro-"))
    try:
        MetadataStore.for_workspace(home, url=os.environ.get("WEIR_DATABASE_URL")).close()
        db = home / "weir.db"
        db.chmod(0o444)
        home.chmod(0o777 if folder_writable else 0o555)
        as_other: list[str] = []
        if os.geteuid() == 0:  # permissions do not bind root: probe as an unprivileged user
            if shutil.which("setpriv") is None:
                pytest.skip("running as root without setpriv: cannot make a file read-only")
            as_other = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        env = {**os.environ, "PYTHONPATH": str(Path(weir.__file__).resolve().parents[1])}  # the weir under test
        proc = subprocess.run([*as_other, sys.executable, "-c", PROBE, str(home)], capture_output=True, text=True,
                              env=env, timeout=60, check=False)
        assert proc.returncode == 2, proc.stderr
        assert proc.stdout.strip().startswith(f"the metadata store {db} is read-only: ")
        assert proc.stdout.count("\n") == 1 and "Traceback" not in proc.stderr
    finally:
        home.chmod(0o755)
        shutil.rmtree(home, ignore_errors=True)


def test_a_metadata_store_that_is_not_a_database_is_one_line_naming_it(tmp_path, monkeypatch):
    monkeypatch.delenv("WEIR_DATABASE_URL", raising=False)
    home = tmp_path / "ws"
    home.mkdir()
    (home / "weir.db").write_text("these are not the bytes of a SQLite database, " * 40)
    with pytest.raises(StoreError) as raised:
        MetadataStore.for_workspace(home, url=os.environ.get("WEIR_DATABASE_URL"))
    assert str(raised.value).startswith(f"the metadata store {home / 'weir.db'} is not a database: ")
    assert "\n" not in str(raised.value)


def test_doctor_and_vacuum_read_keys_with_spaces_accents_and_percent_as_they_are_on_disk(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "weir.toml").write_text('[project]\nname = "cities"\n')
    (project / "assets.py").write_text(
        "import pandas as pd\nimport weir\n"
        "cities = weir.static(['New York', 'Zürich', '100%', 'a#b'])\n"
        "@weir.asset(partitions=cities)\n"
        "def population(context):\n"
        "    return pd.DataFrame({'city': [context.partition_key], 'n': [1]})\n"
    )
    home = tmp_path / "ws"
    with Workspace(home, project) as ws:
        assert ws.runs.run(RunRequest(executor="inprocess")).ok
        assert ws.runs.run(RunRequest(executor="inprocess", partition="New York")).ok  # replaces one file
        report = ws.health.doctor()
        assert [f.message for f in report.findings] == []
        would = ws.health.vacuum("0", dry_run=True)
        removed = [f.path for t in would.tables for f in t.files]
        assert len(removed) == 1 and "New" in removed[0], removed  # only the replaced file of New York
        ws.health.vacuum("0")
        assert sorted(ws.data.read("population", k).column("city")[0].as_py() for k in ("New York", "Zürich", "100%", "a#b")) \
            == sorted(["New York", "Zürich", "100%", "a#b"])
