"""Source input contracts: malformed rows counted, sampled and dropped up to a tolerance; blocked
source partitions fail what reads them while the last good data stays readable; ``weir ingest``;
source checks and metrics; the run summary of check outcomes and source admissions."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import weir_cli as weir
from conftest import write_project

from weir.errors import ConfigError, DataError, UnknownObjectError
from weir.project.loader import load_project
from weir.storage.sources import read_source
from weir.workspace import RunRequest, Workspace

CONTRACT = {"id": "int", "x": "float", "name": "string"}

PROJECT = '''
import weir
days = weir.daily(start="2024-01-01", end="2024-01-03")
raw = weir.source("raw", path="landing/{partition}.csv", partitions=days,
                  columns={"id": "int", "x": "float", "name": "string"}, max_malformed=0.1)

@weir.asset(partitions=days)
def clean(raw):
    return raw
'''

GOOD = [f"{i},{i}.5,n{i}" for i in range(1, 10)]  # nine good rows


def land(project: Path, day: str, lines: list[str], header: str = "id,x,name") -> Path:
    path = project / "landing" / f"{day}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *lines]) + "\n")
    return path


def ids(ws: Workspace, asset: str, key: str) -> list:
    return sorted(ws.data.read(asset, key).column("id").to_pylist())


def task(ws: Workspace, run_id: str, asset: str, key: str) -> dict:
    return next(t for t in ws.runs.detail(run_id)["tasks"] if t["asset"] == asset and t["partition_key"] == key)


# -- reading with a contract ---------------------------------------------------------------------


def test_malformed_rows_are_counted_sampled_and_dropped(tmp_path):
    path = land(tmp_path, "d", ["1,1.5,a", "abc,2.5,b", "3,12 min,c", "4,4.5,d,extra", "5, 5.5 ,e", "6,,f", "7,nan,g"])
    read = read_source([str(path)], "csv", {}, what="raw", columns=CONTRACT)
    assert read.rows == 7 and read.malformed == 3
    assert read.malformed_fraction == pytest.approx(3 / 7)
    sample = sorted(read.sample, key=lambda s: s.get("line", s.get("row")))
    assert sample == [
        {"file": "d.csv", "row": 2, "column": "id", "value": "abc", "reason": "not a int"},
        {"file": "d.csv", "row": 3, "column": "x", "value": "12 min", "reason": "not a float"},
        {"file": "d.csv", "line": 5, "column": None, "value": "4,4.5,d,extra", "reason": "4 fields, expected 3"},
    ]
    table = read.table
    assert table.schema.field("id").type == pa.int64() and table.schema.field("x").type == pa.float64()
    assert table.column("id").to_pylist() == [1, 5, 6, 7]  # padded numbers parse; empty is null, not malformed
    assert table.column("x").to_pylist()[:3] == [1.5, 5.5, None]


def test_malformed_sample_points_at_the_row_of_the_file(tmp_path):
    """A value that does not parse, after a row with the wrong number of fields: its sample must
    still name its own row of the file (data row 3, line 4), not the row after the skipped one."""
    path = land(tmp_path, "d", ["1,1.0,a", "2,2.0,b,extra", "3,abc,c", "4,4.0,d"])
    read = read_source([str(path)], "csv", {}, what="raw", columns=CONTRACT)
    assert read.malformed == 2
    bad_value = next(s for s in read.sample if s["column"] == "x")
    assert bad_value["value"] == "abc"
    assert bad_value.get("row") == 3 or bad_value.get("line") == 4, bad_value


def test_a_jsonl_value_that_does_not_parse_is_a_malformed_row(tmp_path):
    """docs/projects.md: a value that does not parse as its declared type is a malformed row (counted,
    sampled, left out) -- not a reason to reject the whole file."""
    path = tmp_path / "d.jsonl"
    path.write_text('{"id": 1, "x": 1.5}\n{"id": 2, "x": "12 min"}\n{"id": 3, "x": 3.5}\n')
    read = read_source([str(path)], "jsonl", {}, what="raw", columns={"id": "int", "x": "float"})
    assert (read.rows, read.malformed) == (3, 1)
    assert read.table.column("id").to_pylist() == [1, 3]


def test_unreadable_files_and_missing_columns_are_data_errors_naming_the_file(tmp_path):
    path = land(tmp_path, "d", ["1,2.0"], header="id,x")
    with pytest.raises(DataError) as exc:
        read_source([str(path)], "csv", {}, what="raw", columns=CONTRACT)
    assert str(path) in exc.value.message and "'name'" in exc.value.message
    broken = tmp_path / "d.parquet"
    broken.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DataError) as exc:
        read_source([str(broken)], "parquet", {}, what="raw")
    assert str(broken) in exc.value.message and "cannot read" in exc.value.message


# -- admission through real runs ---------------------------------------------------------------


def test_tolerated_malformed_rows_are_left_out_of_what_the_asset_reads(backend, make_project, workspace_dir):
    project = make_project({"assets.py": PROJECT})
    land(project, "2024-01-01", [*GOOD, "abc,1.0,bad"])  # 1 of 10 rows: exactly the tolerance
    with Workspace(workspace_dir, project) as ws:
        result = ws.runs.run(RunRequest(executor="inprocess"))
        assert result.state == "succeeded", result.failures
        assert result.sources == {"raw": {"accepted": 1}} or result.sources == {"raw": {"accepted": 1, "blocked": 0}}
        assert ids(ws, "clean", "2024-01-01") == list(range(1, 10))
        assert "bad" not in ws.data.read("clean", "2024-01-01").column("name").to_pylist()
        [row] = ws.quality.ingest("raw")
        assert (row["state"], row["rows"], row["malformed_rows"], row["checked_now"]) == ("accepted", 10, 1, False)
        assert row["message"] == "1 of 10 rows malformed (10.00%)"
        assert row["sample"] == [{"file": "2024-01-01.csv", "row": 10, "column": "id", "value": "abc", "reason": "not a int"}]
        # the source is measured on the rows as read, malformed ones left out
        points = {(p["column_name"], p["metric"]): p for p in ws.monitors.metrics("raw", first="2024-01-01", last="2024-01-01")}
        assert points[("", "row_count")]["value"] == 9.0 and points[("", "row_count")]["quarantined"] is False
        assert points[("id", "max")]["value"] == 9.0 and points[("x", "mean")]["value"] == 5.5
        assert points[("name", "distinct_count")]["value"] == 9.0


def test_a_source_partition_above_tolerance_blocks_what_reads_it(backend, make_project, workspace_dir):
    project = make_project({"assets.py": PROJECT})
    land(project, "2024-01-01", GOOD)
    with Workspace(workspace_dir, project) as ws:
        assert ws.runs.run(RunRequest(executor="inprocess")).state == "succeeded"
        # day 1 is delivered again, broken; day 2 arrives broken
        land(project, "2024-01-01", [*GOOD[:3], "x,1.0,a", "5,1.0,b,c"])  # 2 of 5 malformed
        land(project, "2024-01-02", ["1,abc,a", *GOOD])  # 1 of 10: tolerated
        land(project, "2024-01-03", ["1,1.0,a", "2,two,b"])  # 1 of 2
        result = ws.runs.run(RunRequest(executor="inprocess", stale=True))
        assert result.state == "failed"
        assert result.per_asset["clean"] == {"upstream_failed": 2, "succeeded": 1}
        assert result.sources["raw"]["blocked"] == 2 and result.sources["raw"]["accepted"] == 1
        failures = {(f["asset"], f["partition"]): f["error"] for f in result.failures}
        assert set(failures) == {("raw", "2024-01-01"), ("raw", "2024-01-03")}
        assert "2 of 5 rows malformed (40.00%); tolerance 10.00%" in failures[("raw", "2024-01-01")]
        for key in ("2024-01-01", "2024-01-03"):
            t = task(ws, result.run_id, "clean", key)
            assert t["state"] == "upstream_failed"
            assert f"source raw '{key}' blocked" in t["reason"] and "malformed" in t["reason"]
        # the last good version stays readable; nothing was published for the blocked ones
        assert ids(ws, "clean", "2024-01-01") == list(range(1, 10))
        assert len(ws.data.history("clean", "2024-01-01")) == 1
        with pytest.raises(UnknownObjectError):
            ws.data.read("clean", "2024-01-03")
        assert ws.data.history("clean", "2024-01-03") == []
        assert ids(ws, "clean", "2024-01-02") == list(range(1, 10))
        # the decision is remembered per delivery: the next stale run neither judges the same files
        # again nor builds what reads them, and fails on nothing new; it names them still blocked
        again = ws.runs.run(RunRequest(executor="inprocess", stale=True))
        assert again.state == "succeeded" and again.sources == {} and again.failures == [] and again.per_asset == {}
        assert {(b["kind"], b["name"], b["partition"]) for b in again.still_blocked} == {
            ("source", "raw", "2024-01-01"), ("source", "raw", "2024-01-03"),
        }
        # asked for by name, they are built again, and fail again
        named = ws.runs.run(RunRequest(executor="inprocess", assets=("clean",), first="2024-01-01", last="2024-01-03"))
        assert named.state == "failed" and named.per_asset["clean"] == {"upstream_failed": 2, "succeeded": 1}


def test_a_missing_declared_column_blocks_naming_the_file_and_column(make_project, workspace_dir):
    project = make_project({"assets.py": PROJECT})
    path = land(project, "2024-01-01", ["1,1.5"], header="id,x")
    with Workspace(workspace_dir, project) as ws:
        result = ws.runs.run(RunRequest(executor="inprocess"))
        assert result.state == "failed" and result.per_asset["clean"] == {"upstream_failed": 1}
        [failure] = result.failures
        assert failure["asset"] == "raw" and failure["partition"] == "2024-01-01"
        assert str(path) in failure["error"] and "no column 'name'" in failure["error"]
        [row] = ws.quality.ingest("raw")
        assert row["state"] == "blocked" and str(path) in row["message"] and "'name'" in row["message"]


def test_a_corrupt_parquet_source_file_blocks_naming_the_file(make_project, workspace_dir):
    project = make_project({"assets.py": '''
import weir
days = weir.daily(start="2024-01-01", end="2024-01-02")
raw = weir.source("raw", path="landing/{partition}.parquet", partitions=days)

@weir.asset(partitions=days)
def clean(raw):
    return raw
'''})
    (project / "landing").mkdir()
    pq.write_table(pa.table({"x": [1, 2]}), project / "landing" / "2024-01-01.parquet")
    broken = project / "landing" / "2024-01-02.parquet"
    broken.write_bytes(b"PAR1" + b"\0" * 64)
    with Workspace(workspace_dir, project) as ws:
        result = ws.runs.run(RunRequest(executor="inprocess"))
        assert result.per_asset["clean"] == {"succeeded": 1, "upstream_failed": 1}
        assert result.sources == {"raw": {"accepted": 1, "blocked": 1}} or result.sources["raw"]["blocked"] == 1
        [failure] = result.failures
        assert failure["partition"] == "2024-01-02" and str(broken) in failure["error"]
        assert "2024-01-02" in task(ws, result.run_id, "clean", "2024-01-02")["reason"]


SOURCE_CHECKS = '''
import weir
days = weir.daily(start="2024-01-01", end="2024-01-02")
raw = weir.source("raw", path="landing/{partition}.csv", partitions=days, columns={"id": "int", "x": "float"},
                  checks=[weir.checks.not_null("x", severity="block"), weir.checks.row_count(max=3, severity="warn")],
                  metrics={"big_share": "avg(CASE WHEN x > 5 THEN 1 ELSE 0 END)"})

@weir.asset(partitions=days)
def clean(raw):
    return raw
'''


def test_a_failing_block_check_of_a_source_blocks_the_partition(backend, make_project, workspace_dir):
    project = make_project({"assets.py": SOURCE_CHECKS})
    land(project, "2024-01-01", ["1,1.0", "2,9.0"], header="id,x")
    land(project, "2024-01-02", ["1,1.0", "2,", "3,7.0", "4,8.0"], header="id,x")
    with Workspace(workspace_dir, project) as ws:
        result = ws.runs.run(RunRequest(executor="inprocess"))
        assert result.state == "failed"
        assert result.per_asset["clean"] == {"succeeded": 1, "upstream_failed": 1}
        assert result.checks["raw"] == {"passed": 2, "warned": 1, "failed": 0, "blocked": 1}
        [failure] = result.failures
        assert (failure["asset"], failure["partition"]) == ("raw", "2024-01-02") and "not_null(x)" in failure["error"]
        assert "source raw '2024-01-02' blocked" in task(ws, result.run_id, "clean", "2024-01-02")["reason"]
        failed = ws.quality.check_results("raw", failed=True)
        assert {(r["partition_key"], r["check_name"], r["severity"]) for r in failed} == {
            ("2024-01-02", "not_null(x)", "block"), ("2024-01-02", "row_count", "warn"),
        }
        assert next(r for r in failed if r["kind"] == "not_null")["sample"] == [{"id": 2, "x": None}]
        # source metrics: table-level points per partition; the blocked one kept, marked quarantined
        rows = {p["partition_key"]: (p["value"], p["quarantined"]) for p in ws.monitors.metrics("raw", metric="row_count")}
        assert rows == {"2024-01-01": (2.0, False), "2024-01-02": (4.0, True)}
        share = {p["partition_key"]: p["value"] for p in ws.monitors.metrics("raw", metric="big_share")}
        assert share == {"2024-01-01": 0.5, "2024-01-02": 0.5}
        [row] = ws.quality.ingest("raw", ["2024-01-02"])
        assert row["partition"] == "2024-01-02"
        assert row["state"] == "blocked" and "not_null(x)" in row["message"] and row["malformed_rows"] == 0


def test_checks_yml_checks_for_a_source(make_project, workspace_dir):
    project = make_project({"assets.py": PROJECT, "checks.yml": "raw:\n  - in_range: {column: x, max: 100, severity: block}\n"})
    land(project, "2024-01-01", GOOD)
    land(project, "2024-01-02", [*GOOD, "10,500.0,big"])
    with Workspace(workspace_dir, project) as ws:
        assert [c.kind for c in ws.project.sources["raw"].checks] == ["in_range"]
        result = ws.runs.run(RunRequest(executor="inprocess"))
        assert result.per_asset["clean"] == {"succeeded": 1, "upstream_failed": 1}
        assert result.checks["raw"] == {"passed": 1, "warned": 0, "failed": 0, "blocked": 1}
        assert [(f["asset"], f["partition"]) for f in result.failures] == [("raw", "2024-01-02")]


@pytest.mark.parametrize(
    "args, message",
    [
        ('columns={"x": "decimalish"}', "'decimalish'"),
        ("max_malformed=2", "max_malformed=2"),
        ("max_malformed=-0.1", "max_malformed=-0.1"),
    ],
)
def test_bad_contracts_are_config_errors(make_project, args, message):
    text = f'import weir\nraw = weir.source("raw", path="landing/raw.csv", {args})\n'
    with pytest.raises(ConfigError) as exc:
        load_project(make_project({"assets.py": text}))
    assert message in str(exc.value) and "assets.py" in str(exc.value)


# -- the command line ------------------------------------------------------------------------------

INGEST_KEYS = {"source", "partition", "state", "rows", "malformed_rows", "message", "sample", "checked_now", "fingerprint",
               "run_id", "signals"}




def ingest(ws: Path, project: Path, *args: str, expect: int = 0) -> dict[str, dict]:
    rows = json.loads(weir(ws, project, "ingest", "raw", *args, "--json", expect=expect).stdout)
    assert all(set(r) == INGEST_KEYS for r in rows)
    return {r["partition"]: r for r in rows}


def test_weir_ingest_checks_each_delivery_once(tmp_path):
    project = write_project(tmp_path / "proj", {"assets.py": PROJECT})
    ws = tmp_path / "ws"
    land(project, "2024-01-01", GOOD)
    land(project, "2024-01-02", ["1,1.0,a", "2,12 min,b", "3,3.0,c,d"])
    first = ingest(ws, project, expect=1)
    assert sorted(first) == ["2024-01-01", "2024-01-02"]  # 2024-01-03 has not landed
    assert {k: (r["state"], r["rows"], r["malformed_rows"], r["checked_now"]) for k, r in first.items()} == {
        "2024-01-01": ("accepted", 9, 0, True), "2024-01-02": ("blocked", 3, 2, True),
    }
    blocked = first["2024-01-02"]
    assert "2 of 3 rows malformed" in blocked["message"] and blocked["fingerprint"].startswith("f:")
    assert sorted(blocked["sample"], key=lambda s: s["reason"]) == [
        {"file": "2024-01-02.csv", "line": 4, "column": None, "value": "3,3.0,c,d", "reason": "4 fields, expected 3"},
        {"file": "2024-01-02.csv", "row": 2, "column": "x", "value": "12 min", "reason": "not a float"},
    ]
    # the same files again: the stored decisions, nothing judged now, and nothing new blocked
    second = ingest(ws, project)
    assert {k: r["checked_now"] for k, r in second.items()} == {"2024-01-01": False, "2024-01-02": False}
    assert {k: (r["state"], r["fingerprint"], r["sample"]) for k, r in second.items()} == {
        k: (r["state"], r["fingerprint"], r["sample"]) for k, r in first.items()
    }
    assert "1 partition still blocked (2024-01-02): not checked again" in weir(ws, project, "ingest", "raw").stdout
    assert ingest(ws, project, "--partition", "2024-01-02", "--force", expect=1)["2024-01-02"]["checked_now"] is True
    # a corrected delivery is judged again
    land(project, "2024-01-02", ["1,1.0,a", "2,12.0,b", "3,3.0,c", "4,4.0,d"])
    third = ingest(ws, project)
    assert {k: (r["state"], r["checked_now"]) for k, r in third.items()} == {
        "2024-01-01": ("accepted", False), "2024-01-02": ("accepted", True),
    }
    assert third["2024-01-02"]["fingerprint"] != first["2024-01-02"]["fingerprint"]
    assert third["2024-01-02"]["malformed_rows"] == 0 and third["2024-01-02"]["sample"] == []
    # --force judges again; --partition limits it
    forced = ingest(ws, project, "--force")
    assert {k: r["checked_now"] for k, r in forced.items()} == {"2024-01-01": True, "2024-01-02": True}
    only = ingest(ws, project, "--partition", "2024-01-01")
    assert list(only) == ["2024-01-01"] and only["2024-01-01"]["checked_now"] is False
    # the table output names the partitions
    shown = weir(ws, project, "ingest", "raw").stdout
    assert "2024-01-02" in shown and "accepted" in shown


def test_weir_ingest_bad_usage_exits_2(tmp_path):
    project = write_project(tmp_path / "proj", {"assets.py": PROJECT})
    ws = tmp_path / "ws"
    land(project, "2024-01-01", GOOD)
    bad_key = weir(ws, project, "ingest", "raw", "--partition", "2024-13-01", expect=2)
    assert "2024-13-01" in bad_key.stderr
    asset = weir(ws, project, "ingest", "clean", expect=2)
    assert "'clean' is an asset, not a source" in asset.stderr
    unknown = weir(ws, project, "ingest", "rwa", expect=2)
    assert "unknown source 'rwa'" in unknown.stderr


MIXED = '''
import weir
days = weir.daily(start="2024-01-01", end="2024-01-03")
raw = weir.source("raw", path="landing/{partition}.csv", partitions=days, columns={"id": "int", "x": "float", "name": "string"},
                  checks=[weir.checks.row_count(max=3, severity="warn")])

@weir.asset(partitions=days, checks=[weir.checks.row_count(min=2, severity="block"),
                                     weir.checks.in_range("x", max=100, severity="error"),
                                     weir.checks.not_null("x", severity="warn")])
def clean(raw):
    return raw
'''


def test_run_json_summarises_check_outcomes_and_source_admissions(tmp_path):
    project = write_project(tmp_path / "proj", {"assets.py": MIXED})
    ws = tmp_path / "ws"
    land(project, "2024-01-01", ["1,1.0,a", "2,500.0,b"])  # clean: error check fails
    land(project, "2024-01-02", ["1,1.0,a", "2,,b", "3,3.0,c", "4,4.0,d"])  # raw: warn; clean: warn
    land(project, "2024-01-03", ["1,1.0,a", "2,two,b"])  # raw: malformed, blocked
    result = json.loads(weir(ws, project, "run", "--executor", "inprocess", "--json", expect=1).stdout)
    assert result["state"] == "failed"
    assert result["assets"] == {"clean": {"failed_check": 1, "succeeded": 1, "upstream_failed": 1}}
    assert result["sources"] == {"raw": {"accepted": 2, "blocked": 1}}
    assert result["checks"] == {
        "raw": {"passed": 1, "warned": 1, "failed": 0, "blocked": 0},
        "clean": {"passed": 4, "warned": 1, "failed": 1, "blocked": 0},
    }
    assert {(f["asset"], f["partition"]) for f in result["failures"]} >= {("raw", "2024-01-03")}
    # a second run judges only the new delivery; day 3, blocked and unchanged, fails it no more
    land(project, "2024-01-01", ["1,1.0,a", "2,5.0,b"])
    again = json.loads(weir(ws, project, "run", "--stale", "--executor", "inprocess", "--json").stdout)
    assert again["sources"]["raw"]["accepted"] == 1 and again["sources"]["raw"].get("blocked", 0) == 0
    assert again["checks"]["clean"] == {"passed": 3, "warned": 0, "failed": 0, "blocked": 0}
    assert [(b["name"], b["partition"]) for b in again["still_blocked"]] == [("raw", "2024-01-03")]


def test_run_json_sources_always_has_both_counts(tmp_path):
    """docs/cli.md (stable keys): ``sources: {source: {accepted: n, blocked: n}}``, like ``checks``
    which always has its four counts."""
    project = write_project(tmp_path / "proj", {"assets.py": PROJECT})
    land(project, "2024-01-01", GOOD)
    result = json.loads(weir(tmp_path / "ws", project, "run", "--executor", "inprocess", "--json").stdout)
    assert result["sources"] == {"raw": {"accepted": 1, "blocked": 0}}


WIDE = '''
import weir
days = weir.daily(start="2024-01-01", end="2024-01-02")
raw = weir.source("raw", path="landing/{partition}.csv", partitions=days, columns={"carrier_name": "string", "x": "int"})

@weir.asset(partitions=days, checks=[weir.checks.in_range("x", max=10, severity="block"),
                                     weir.checks.in_range("x", min=0, max=5, severity="block"),
                                     weir.checks.accepted_values("departure_airport", ["JFK"], severity="block"),
                                     weir.checks.not_null("scheduled_departure_time", severity="block")])
def clean(raw):
    return raw
'''


def test_long_block_reasons_are_recorded_on_either_backend(backend, make_project, workspace_dir):
    """A blocked source partition whose message lists a wide file's columns, and a partition
    blocked by several checks at once: the run records both and ends ``failed`` on SQLite and
    PostgreSQL alike (task reasons are not limited to a short length)."""
    project = make_project({"assets.py": WIDE})
    columns = ["x", "departure_airport", "scheduled_departure_time", "actual_departure_time", "arrival_airport",
               "scheduled_arrival_time", "actual_arrival_time", "tail_number", "flight_number", "distance_miles"]
    land(project, "2024-01-01", ["1,LGA,,2,3,4,5,6,7,8"], header=",".join(columns))  # no carrier_name: blocked
    land(project, "2024-01-02", ["AA,50,LGA,,1,2,3,4,5,6,7"], header="carrier_name," + ",".join(columns))
    with Workspace(workspace_dir, project) as ws:
        result = ws.runs.run(RunRequest(executor="inprocess"))
        assert result.state == "failed"
        assert result.per_asset["clean"] == {"upstream_failed": 1, "blocked": 1}
        source_blocked = task(ws, result.run_id, "clean", "2024-01-01")
        assert source_blocked["reason"].startswith("source raw '2024-01-01' blocked")
        checks_blocked = task(ws, result.run_id, "clean", "2024-01-02")
        assert checks_blocked["state"] == "blocked" and "in_range(x)" in checks_blocked["reason"]


def test_timestamps_are_iso_value_by_value_and_day_month_order_is_never_guessed(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("id,ts\n1,28/01/2024\n2,2024-01-28 09:00\n3,2024-01-28T10:30:00\n4,2024-01-28\n5,01/02/2024\n")
    read = read_source([str(path)], "csv", {}, what="raw", columns={"id": "int", "ts": "timestamp"})
    assert read.malformed == 2  # both dd/mm values: ambiguous text is malformed, not misdated
    assert {s["value"] for s in read.sample} == {"28/01/2024", "01/02/2024"}
    assert [v.isoformat() for v in read.table.column("ts").to_pylist()] == [
        "2024-01-28T09:00:00", "2024-01-28T10:30:00", "2024-01-28T00:00:00",
    ]


def test_utc_marks_make_the_column_utc_and_a_declared_format_reads_other_text(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("ts\n2013-01-01T10:00:00Z\n2013-01-01T12:00:00+02:00\n")
    read = read_source([str(path)], "csv", {}, what="raw", columns={"ts": "timestamp"})
    assert read.malformed == 0
    assert [v.isoformat() for v in read.table.column("ts").to_pylist()] == ["2013-01-01T10:00:00+00:00"] * 2
    path.write_text("ts\n28/01/2024 09:00\n")
    read = read_source([str(path)], "csv", {"timestamp_format": "%d/%m/%Y %H:%M"}, what="raw", columns={"ts": "timestamp"})
    assert read.malformed == 0 and read.table.column("ts").to_pylist()[0].day == 28


def test_an_empty_first_delivery_keeps_its_declared_columns_for_what_reads_it(make_project, workspace_dir):
    project = make_project({"assets.py": PROJECT, "sql/names.sql": (
        "-- partitions: days\nSELECT name, count(*) AS n, sum(x) AS x FROM clean GROUP BY name\n")})
    land(project, "2024-01-01", [])  # the header only, before any delivery with rows
    with Workspace(workspace_dir, project) as ws:
        result = ws.runs.run(RunRequest(executor="inprocess"))
        assert result.ok, result.failures
        assert ws.tables.get("clean").schema() == pa.schema([("id", pa.int64()), ("x", pa.float64()), ("name", pa.string())])
        assert ws.data.read("clean", "2024-01-01").num_rows == 0
        names = ws.data.read("names", "2024-01-01")
        assert names.num_rows == 0 and names.schema.names == ["name", "n", "x"]
        land(project, "2024-01-02", GOOD)
        assert ws.runs.run(RunRequest(executor="inprocess", stale=True)).ok
        assert sorted(ws.data.read("names", "2024-01-02").column("name").to_pylist()) == [f"n{i}" for i in range(1, 10)]


def test_an_empty_delivery_is_a_normal_checkable_partition(make_project, workspace_dir):
    project = make_project({"assets.py": PROJECT.replace("max_malformed=0.1", "max_malformed=0.1, checks=[weir.checks.row_count(min=1, severity='warn')]")})
    land(project, "2024-01-01", GOOD)
    land(project, "2024-01-02", [])  # the header only: a day with no rows
    with Workspace(workspace_dir, project) as ws:
        result = ws.runs.run(RunRequest(executor="inprocess"))
        assert result.ok, result.failures
        assert ws.data.read("clean", "2024-01-02").num_rows == 0
        assert ws.data.read("clean", "2024-01-02").schema.field("id").type == ws.data.read("clean", "2024-01-01").schema.field("id").type
        counts = {r["partition_key"]: (r["passed"], r["observed"]) for r in ws.quality.check_results("raw") if r["check_name"] == "row_count"}
        assert counts == {"2024-01-01": (True, 9), "2024-01-02": (False, 0)}
        rows = {p["partition_key"]: p["value"] for p in ws.monitors.metrics("raw", column="", metric="row_count")}
        assert rows["2024-01-02"] == 0
