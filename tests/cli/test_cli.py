"""The real ``weir`` command line in a subprocess, on a small project with a real workspace."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import land_csv, weir_cli, write_project

pytestmark = pytest.mark.slow

ASSETS = '''
import pandas as pd
import weir

days = weir.daily(start="2024-01-01", end="2024-01-03")
orders_landing = weir.source("orders_landing", path="landing/{partition}.csv", partitions=days)


@weir.asset(partitions=days)
def orders(orders_landing: pd.DataFrame, context) -> pd.DataFrame:
    """Orders with their totals."""
    df = orders_landing.copy()
    if (df["amount"] < 0).any():
        raise ValueError("negative amount on " + context.partition_key)
    df["total"] = df["amount"] * df["qty"]
    return df


board = weir.insight("board", depends_on=["daily_totals"], owners=["ops@example.com"], url="https://dash.example/b")
'''

TOTALS_SQL = """\
-- partitions: days
-- description: Revenue per day
SELECT $partition_key AS day, CAST(sum(total) AS BIGINT) AS revenue, count(*) AS n FROM orders
"""

DAYS = ["2024-01-01", "2024-01-02", "2024-01-03"]

RUN_KEYS = {
    "run_id", "state", "counts", "assets", "failures", "waiting", "checks", "sources", "signals", "conflicts",
    "still_blocked", "rollouts", "held", "seconds",
}
PLAN_KEYS = {"tasks", "waiting", "up_to_date", "still_blocked", "replaces", "republish", "held"}
STATUS_KEYS = {
    "asset", "kind", "partitions", "expected", "published", "outdated_code", "rows", "first", "last",
    "published_at", "last_run", "last_run_failed", "downstream_insights", "blocked",
}
RUNS_KEYS = {
    "id", "project", "state", "trigger", "created_at", "started_at", "finished_at", "environment_id", "request",
    "counts", "error", "deployment_id", "actor",
}
TASK_KEYS = {
    "asset", "partition", "state", "reason", "attempt", "code_version", "input_versions", "output_version", "rows",
    "seconds", "error", "traceback",
}
LINEAGE_NODE_KEYS = {"name", "key", "type", "partitions", "upstream", "downstream", "insights"}
HISTORY_KEYS = {"version", "run_id", "code_version", "rows", "published_at"}


def _orders(day: int, second_amount: int = 5) -> list[dict]:
    return [{"id": 1, "amount": 10, "qty": 2}, {"id": 2, "amount": second_amount + day, "qty": 1}]


def make_shop(root: Path, *, bad_day: str | None = None) -> Path:
    """The test project: daily landing CSVs -> python ``orders`` -> SQL ``daily_totals``."""
    write_project(root, {"assets.py": ASSETS, "sql/daily_totals.sql": TOTALS_SQL}, name="shop")
    for i, day in enumerate(DAYS, start=1):
        land_csv(root, f"landing/{day}.csv", _orders(i, -100 if day == bad_day else 5))
    return root




def weir_bare(*args: str) -> subprocess.CompletedProcess:
    """Run ``weir ARGS`` without workspace or project options."""
    return subprocess.run(
        [sys.executable, "-c", "import sys; from weir.cli.main import main; sys.argv[0] = 'weir'; main()", *args],
        capture_output=True, text=True, timeout=60, check=False,
    )


def weir_json(ws: Path, project: Path, *args: str, expect: int = 0):
    proc = weir_cli(ws, project, *args, "--json", expect=expect)
    return json.loads(proc.stdout)


def run_count(ws: Path) -> int:
    db = ws / "weir.db"
    if not db.exists():
        return 0
    with sqlite3.connect(db) as c:
        return c.execute("SELECT count(*) FROM runs").fetchone()[0]


# -- one built workspace shared by the read-only tests ------------------------------------


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """The shop project built once with the default (processes) executor; returns (ws, project, run json)."""
    base = tmp_path_factory.mktemp("cli")
    project = make_shop(base / "shop")
    ws = base / "ws"
    result = weir_json(ws, project, "run")
    return ws, project, result


def test_run_json_has_the_documented_keys_and_counts(shop):
    _, _, result = shop
    assert set(result) == RUN_KEYS
    assert result["state"] == "succeeded"
    assert result["counts"] == {"succeeded": 6}
    assert result["assets"] == {"orders": {"succeeded": 3}, "daily_totals": {"succeeded": 3}}
    assert result["failures"] == [] and result["waiting"] == {}
    assert isinstance(result["seconds"], (int, float))


def test_read_csv_prints_the_published_rows(shop):
    ws, project, _ = shop
    out = weir_cli(ws, project, "read", "daily_totals", "--partition", "2024-01-02", "--format", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    # day 2: 10*2 + (5+2)*1
    assert rows == [{"day": "2024-01-02", "revenue": "27", "n": "2"}]


def test_read_json_prints_python_asset_rows(shop):
    ws, project, _ = shop
    out = weir_cli(ws, project, "read", "orders", "--partition", "2024-01-03", "--format", "json").stdout
    assert json.loads(out) == [
        {"id": 1, "amount": 10, "qty": 2, "total": 20},
        {"id": 2, "amount": 8, "qty": 1, "total": 8},
    ]


def test_read_table_names_the_columns(shop):
    ws, project, _ = shop
    out = weir_cli(ws, project, "read", "orders", "--partition", "2024-01-01").stdout
    for column in ("id", "amount", "qty", "total"):
        assert column in out


def test_status_json(shop):
    ws, project, result = shop
    rows = weir_json(ws, project, "status")
    assert [r["asset"] for r in rows] == ["orders", "daily_totals"]
    for r in rows:
        assert set(r) == STATUS_KEYS
        assert (r["expected"], r["published"], r["outdated_code"], r["last_run_failed"]) == (3, 3, 0, 0)
        assert (r["first"], r["last"]) == ("2024-01-01", "2024-01-03")
        assert r["last_run"] == result["run_id"]
        assert r["published_at"].endswith("+00:00")
    by_name = {r["asset"]: r for r in rows}
    assert by_name["orders"]["kind"] == "python" and by_name["orders"]["rows"] == 6
    assert by_name["daily_totals"]["kind"] == "sql" and by_name["daily_totals"]["rows"] == 3
    assert by_name["daily_totals"]["downstream_insights"] == ["board"]


def test_runs_json(shop):
    ws, project, result = shop
    runs = weir_json(ws, project, "runs")
    assert len(runs) == 1
    run = runs[0]
    assert set(run) == RUNS_KEYS
    assert run["id"] == result["run_id"]
    assert (run["project"], run["state"], run["trigger"]) == ("shop", "succeeded", "cli")
    assert run["counts"] == {"succeeded": 6}
    assert run["error"] is None
    assert run["request"]["executor"] == "auto"
    assert run["created_at"] <= run["started_at"] <= run["finished_at"]


def test_runs_show_json_by_prefix(shop):
    ws, project, result = shop
    detail = weir_json(ws, project, "runs", "show", result["run_id"][:-2])
    assert RUNS_KEYS | {"environment", "tasks"} == set(detail)
    assert detail["id"] == result["run_id"]
    assert set(detail["environment"]) == {"id", "python", "platform", "packages"}
    assert detail["environment"]["id"] == detail["environment_id"]
    assert "pandas" in detail["environment"]["packages"]
    tasks = {(t["asset"], t["partition"]): t for t in detail["tasks"]}
    assert set(tasks) == {(a, d) for a in ("orders", "daily_totals") for d in DAYS}
    for t in detail["tasks"]:
        assert set(t) == TASK_KEYS
        assert t["state"] == "succeeded" and t["error"] is None and t["traceback"] is None
    totals = tasks[("daily_totals", "2024-01-02")]
    assert totals["input_versions"] == {"orders": {"2024-01-02": tasks[("orders", "2024-01-02")]["output_version"]}}
    assert totals["rows"] == 1
    landing_version = tasks[("orders", "2024-01-02")]["input_versions"]["orders_landing"]["2024-01-02"]
    assert landing_version.startswith("f:")


def test_lineage_json(shop):
    ws, project, _ = shop
    data = weir_json(ws, project, "lineage")
    assert set(data) == {"project", "nodes", "insights"}
    assert data["project"] == "shop"
    nodes = {n["name"]: n for n in data["nodes"]}
    assert list(nodes) == ["orders_landing", "orders", "daily_totals"]
    for n in data["nodes"]:
        assert set(n) == LINEAGE_NODE_KEYS
    assert nodes["orders_landing"]["type"] == "source"
    assert nodes["orders"]["key"] == "shop.orders"
    assert nodes["orders"]["upstream"] == ["orders_landing"]
    assert nodes["orders"]["downstream"] == ["daily_totals"]
    assert nodes["daily_totals"]["insights"] == ["board"]
    assert data["insights"] == [
        {
            "name": "board", "depends_on": ["daily_totals"], "owners": ["ops@example.com"],
            "url": "https://dash.example/b",
        }
    ]


def test_lineage_around_one_asset(shop):
    ws, project, _ = shop
    data = weir_json(ws, project, "lineage", "orders_landing")
    assert [n["name"] for n in data["nodes"]] == ["orders_landing", "orders", "daily_totals"]


def test_history_json(shop):
    ws, project, result = shop
    rows = weir_json(ws, project, "history", "orders", "--partition", "2024-01-01")
    assert len(rows) == 1
    assert set(rows[0]) == HISTORY_KEYS
    assert rows[0]["run_id"] == result["run_id"]
    assert rows[0]["rows"] == 2
    assert len(rows[0]["code_version"]) == 16


def test_plan_json_after_a_build(shop):
    ws, project, _ = shop
    plan = weir_json(ws, project, "run", "--plan", "--stale")
    assert set(plan) == PLAN_KEYS
    assert plan["tasks"] == []
    assert plan["up_to_date"] == {"orders": 3, "daily_totals": 3}
    # Without --stale every selected partition is requested again, and nothing is built by --plan.
    plan = weir_json(ws, project, "run", "--plan", "--partition", "2024-01-02")
    assert plan["tasks"] == [
        {"asset": "orders", "partition": "2024-01-02", "reason": "requested"},
        {"asset": "daily_totals", "partition": "2024-01-02", "reason": "requested"},
    ]
    assert run_count(ws) == 1


# -- versions -----------------------------------------------------------------------------


def test_read_version_returns_data_before_a_rebuild(tmp_path, workspace_dir):
    project = make_shop(tmp_path / "shop")
    weir_cli(workspace_dir, project, "run", "--executor", "inprocess")
    land_csv(project, "landing/2024-01-02.csv", [{"id": 1, "amount": 100, "qty": 3}])
    rebuilt = weir_json(workspace_dir, project, "run", "--stale", "--executor", "inprocess")
    assert rebuilt["assets"] == {"orders": {"succeeded": 1}, "daily_totals": {"succeeded": 1}}

    history = weir_json(workspace_dir, project, "history", "daily_totals", "--partition", "2024-01-02")
    assert len(history) == 2
    old, new = sorted(h["version"] for h in history)

    def read(*extra: str) -> list[dict]:
        args = ("read", "daily_totals", "--partition", "2024-01-02", "--format", "json", *extra)
        return json.loads(weir_cli(workspace_dir, project, *args).stdout)

    assert read() == [{"day": "2024-01-02", "revenue": 300, "n": 1}]
    assert read("--version", str(new)) == [{"day": "2024-01-02", "revenue": 300, "n": 1}]
    assert read("--version", str(old)) == [{"day": "2024-01-02", "revenue": 27, "n": 2}]


# -- failures -----------------------------------------------------------------------------


def test_failing_asset_exits_1_and_records_error_and_traceback(tmp_path, workspace_dir):
    project = make_shop(tmp_path / "shop", bad_day="2024-01-02")
    result = weir_json(workspace_dir, project, "run", expect=1)
    assert result["state"] == "failed"
    assert result["counts"] == {"succeeded": 4, "failed": 1, "upstream_failed": 1}
    assert result["failures"][0]["asset"] == "orders"
    assert result["failures"][0]["partition"] == "2024-01-02"
    assert "negative amount on 2024-01-02" in result["failures"][0]["error"]

    detail = weir_json(workspace_dir, project, "runs", "show", result["run_id"])
    assert detail["state"] == "failed"
    tasks = {(t["asset"], t["partition"]): t for t in detail["tasks"]}
    failed = tasks[("orders", "2024-01-02")]
    assert failed["state"] == "failed"
    assert "negative amount on 2024-01-02" in failed["error"]
    assert "ValueError" in failed["traceback"]
    assert "assets.py" in failed["traceback"]
    assert tasks[("daily_totals", "2024-01-02")]["state"] == "upstream_failed"
    assert tasks[("daily_totals", "2024-01-01")]["state"] == "succeeded"
    failed = weir_json(workspace_dir, project, "runs", "show", result["run_id"], "--failed")["tasks"]
    assert {(t["asset"], t["partition"], t["state"]) for t in failed} == {
        ("orders", "2024-01-02", "failed"), ("daily_totals", "2024-01-02", "upstream_failed"),
    }


def test_failure_without_json_names_the_partition_on_stderr(tmp_path, workspace_dir):
    project = make_shop(tmp_path / "shop", bad_day="2024-01-03")
    proc = weir_cli(workspace_dir, project, "run", "orders", "--executor", "inprocess", expect=1)
    assert "orders 2024-01-03" in proc.stderr and "negative amount" in proc.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "nosuch"], "unknown asset 'nosuch'"),
        (["run", "--partition", "2024-13-01"], "partition '2024-13-01' is not a daily key"),
        (["run", "--partition", "2025-01-01"], "2025-01-01"),
        (["run", "--from", "2024-01-01"], "--from and --to go together"),
        (["run", "--to", "2024-01-02"], "--from and --to go together"),
        (
            ["run", "--partition", "2024-01-01", "--from", "2024-01-01", "--to", "2024-01-02"],
            "either --partition or --from/--to",
        ),
        (["run", "--executor", "threads"], "--executor 'threads' is not one of inprocess, processes"),
        (["run", "--workers", "0"], "Invalid value for '--workers'"),
    ],
)
def test_bad_run_usage_exits_2_with_one_line_and_records_no_run(tmp_path, workspace_dir, args, message):
    project = make_shop(tmp_path / "shop")
    proc = weir_cli(workspace_dir, project, *args, expect=2)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and message in lines[0]
    assert "Traceback" not in proc.stderr
    assert run_count(workspace_dir) == 0
    assert not (workspace_dir / "data").exists()


def test_malformed_weir_toml_exits_2_naming_the_file_and_writes_nothing(tmp_path, workspace_dir):
    project = make_shop(tmp_path / "shop")
    (project / "weir.toml").write_text('[project\nname = "shop"\n')
    proc = weir_cli(workspace_dir, project, "run", expect=2)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert str(project / "weir.toml") in lines[0] and "invalid TOML" in lines[0]
    assert not workspace_dir.exists()


def test_project_error_exits_2_naming_file_and_line(tmp_path, workspace_dir):
    project = make_shop(tmp_path / "shop")
    (project / "sql" / "daily_totals.sql").write_text("-- partitions: weeks\nSELECT 1 AS x FROM orders\n")
    proc = weir_cli(workspace_dir, project, "run", "--plan", expect=2)
    assert f"{project / 'sql' / 'daily_totals.sql'}:1" in proc.stderr
    assert "partitions 'weeks'" in proc.stderr
    assert run_count(workspace_dir) == 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["read", "orders"], "pass --partition KEY"),
        (["read", "orders", "--partition", "2024-01-01"], "no published data yet"),
        (["read", "orders", "--partition", "2024-01-01", "--format", "xml"], "--format 'xml'"),
        (["history", "orders", "--partition", "01/01/2024"], "not a daily key"),
        (["runs", "show", "nope"], "unknown run 'nope'"),
        (["runs", "--state", "bogus"], "--state 'bogus' is not one of queued, running, succeeded, failed, cancelled"),
        (["runs", "show", "x", "--state", "late"], "--state 'late' is not one of queued, running, succeeded, failed_check"),
        (["lineage", "ordrs"], "unknown asset 'ordrs' (did you mean 'orders'?)"),
    ],
)
def test_bad_query_exits_2_with_one_line(tmp_path, workspace_dir, args, message):
    project = make_shop(tmp_path / "shop")
    proc = weir_cli(workspace_dir, project, *args, expect=2)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr


# -- help and init ------------------------------------------------------------------------


def test_help_lists_exactly_the_commands_without_type_tags():
    import re

    import typer.main

    from weir.cli.main import app

    proc = weir_bare("--help")
    assert proc.returncode == 0
    listed = re.findall(r"^  (\S+)", proc.stdout.split("\nCommands:\n", 1)[1], re.MULTILINE)
    assert sorted(listed) == sorted(typer.main.get_command(app).commands)
    options = proc.stdout.split("\nOptions:\n", 1)[1].split("\nCommands:\n", 1)[0]
    assert re.findall(r"^  (-\S+)", options, re.MULTILINE) == ["-w,", "-p,", "--help"]
    assert "<bool>" not in proc.stdout


def test_a_usage_error_is_one_line_and_exit_2():
    proc = weir_bare("runs", "--no-such-option")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["error: No such option: --no-such-option (see 'weir runs --help')"]


def test_init_then_plan(tmp_path, workspace_dir):
    target = tmp_path / "new_project"
    proc = weir_bare("init", str(target))
    assert proc.returncode == 0, proc.stderr
    assert (target / "weir.toml").is_file() and (target / "assets.py").is_file()
    assert ".weir/" in (target / ".gitignore").read_text().splitlines()  # the default workspace stays out of git
    plan = weir_json(workspace_dir, target, "run", "--plan")
    assert {t["asset"] for t in plan["tasks"]} == {"calendar"}
    assert len(plan["tasks"]) == 366  # 2024 is a leap year
    assert plan["tasks"][0] == {"asset": "calendar", "partition": "2024-01-01", "reason": "requested"}
    assert run_count(workspace_dir) == 0


def test_init_into_non_empty_folder_exits_2(tmp_path):
    target = tmp_path / "taken"
    target.mkdir()
    (target / "notes.txt").write_text("mine\n")
    proc = weir_bare("init", str(target))
    assert proc.returncode == 2
    assert "is not empty" in proc.stderr
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]

