"""Code rollouts are judged before they replace history: a run that republishes partitions under
changed code (or configuration) compares each new version with the one it replaces, writes one
``rollout_changed`` event per run and asset for a material change, and under
``[run] republish = "hold"`` keeps the new versions staged until ``weir approve``. Real Delta
tables, real runs, the CLI in process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import weir_cli as weir

from weir.engine.rollout import describe, judge

DAYS = [f"2024-01-{d:02d}" for d in range(1, 11)]

ASSETS = '''
import pandas as pd
import weir

days = weir.daily(start="2024-01-01", end="{end}")


@weir.asset(partitions=days, key=["order_id"])
def orders(context):
    n = {rows}
    return pd.DataFrame({{"order_id": range(n), "amount": [float(i % 17) for i in range(n)]}})


@weir.asset(partitions=days)
def daily_totals(orders):
    return pd.DataFrame({{"orders": [len(orders)], "amount": [orders["amount"].sum()]}})
'''

# the same data as rows=240, written another way: the code version changes, the output does not
REFACTORED = ASSETS.replace("    n = {rows}\n    return pd.DataFrame({{\"order_id\": range(n),",
                            "    count = {rows}\n    return pd.DataFrame({{\"order_id\": range(count),").replace(
    "for i in range(n)]", "for i in range(count)]")

HOLD = '[project]\nname = "shop"\n\n[run]\nrepublish = "hold"\n'


def write(project: Path, *, rows: int = 240, end: str = DAYS[-1], text: str = ASSETS) -> None:
    (project / "assets.py").write_text(text.format(rows=rows, end=end))


@pytest.fixture
def shop(make_project) -> Path:
    project = make_project({"weir.toml": '[project]\nname = "shop"\n'}, name="shop")
    write(project)
    return project


def out(ws: Path, project: Path, *args: str, expect: int | None = 0) -> dict | list:
    return json.loads(weir(ws, project, *args, "--json", expect=expect).stdout)


def rollout_events(ws: Path, project: Path) -> list[dict]:
    return [e for e in out(ws, project, "events") if e["kind"] == "rollout_changed"]


def rows_of(ws: Path, project: Path, asset: str, key: str) -> int:
    """How many rows ``weir read`` returns for the partition."""
    return len(json.loads(weir(ws, project, "read", asset, "--partition", key, "--format", "json").stdout))


def test_a_change_that_halves_the_rows_is_one_rollout_event_naming_every_replaced_partition(backend, shop, workspace_dir):
    weir(workspace_dir, shop, "run", "--executor", "inprocess")
    write(shop, rows=120)

    plan = out(workspace_dir, shop, "run", "--stale", "--plan")
    (replaces,) = [r for r in plan["replaces"] if r["asset"] == "orders"]
    assert replaces["partitions"] == DAYS and replaces["count"] == 10 and replaces["cause"] == "code"
    assert replaces["from_code_version"] != replaces["to_code_version"] and plan["republish"] == "replace"
    text = weir(workspace_dir, shop, "run", "--stale", "--plan").stdout
    assert (f"orders: 10 published partitions would be replaced by code version {replaces['to_code_version']} "
            f"(was {replaces['from_code_version']})") in " ".join(text.split())

    shown = weir(workspace_dir, shop, "run", "--stale", "--executor", "inprocess").stdout
    assert ("orders: code version changed on 10 published partitions: row_count halved on 10 partitions "
            "(240 → 120 rows per partition)") in " ".join(shown.split())
    (event,) = rollout_events(workspace_dir, shop)
    (run,) = out(workspace_dir, shop, "runs", "--limit", "1")
    assert event["asset"] == "orders" and event["partition"] == DAYS[0] and event["run_id"] == run["id"]
    data = event["data"]
    assert set(data) == {"cause", "from_code_version", "to_code_version", "partitions", "moved", "changes", "message"}
    assert data["cause"] == "code" and data["partitions"] == DAYS
    assert (data["from_code_version"], data["to_code_version"]) == (replaces["from_code_version"], replaces["to_code_version"])
    assert data["moved"] == data["message"] == "row_count halved on 10 partitions (240 → 120 rows per partition)"
    first = data["changes"][0]
    assert {k: first[k] for k in ("partition", "rows_before", "rows_after", "added", "removed", "changed")} == {
        "partition": DAYS[0], "rows_before": 240, "rows_after": 120, "added": 0, "removed": 120, "changed": 0}
    assert {"column": "order_id", "metric": "mean", "before": 119.5, "after": 59.5} in first["metrics"]
    # written with the publish it describes: right after that commit's events, all ten in one commit
    log = out(workspace_dir, shop, "events", "--after", str(event["id"] - 25))
    published = [e for e in log if e["kind"] == "partition_published" and e["asset"] == "orders" and e["run_id"] == run["id"]]
    assert len({e["data"]["version"] for e in published}) == 1
    assert max(e["id"] for e in published) + 1 == event["id"]
    assert rows_of(workspace_dir, shop, "orders", DAYS[4]) == 120


def test_a_refactor_republishes_without_a_rollout_event(shop, workspace_dir):
    weir(workspace_dir, shop, "run", "--executor", "inprocess")
    write(shop, text=REFACTORED)

    result = out(workspace_dir, shop, "run", "--stale", "--executor", "inprocess")
    assert result["assets"]["orders"] == {"succeeded": 10}
    (rollout,) = result["rollouts"]
    assert rollout["asset"] == "orders" and rollout["replaced"] == 10 and rollout["changed"] == []
    assert rollout["moved"] is None and rollout["event"] is False
    assert rollout_events(workspace_dir, shop) == []


def test_a_partition_rebuilt_by_name_after_a_code_change_is_judged_the_same_way(shop, workspace_dir):
    weir(workspace_dir, shop, "run", "--executor", "inprocess")
    write(shop, rows=120)

    weir(workspace_dir, shop, "run", "orders", "--partition", DAYS[3], "--executor", "inprocess")
    (event,) = rollout_events(workspace_dir, shop)
    assert event["partition"] == DAYS[3] and event["data"]["partitions"] == [DAYS[3]]
    assert event["data"]["moved"] == "row_count halved on 1 partition (240 → 120 rows)"


def test_a_changed_check_republishes_under_a_changed_configuration_without_an_event_when_the_data_is_the_same(
        shop, workspace_dir):
    weir(workspace_dir, shop, "run", "--executor", "inprocess")
    (shop / "assets.py").write_text((shop / "assets.py").read_text().replace(
        'key=["order_id"])', 'key=["order_id"], checks=[weir.checks.not_null("amount", severity="warn")])'))

    assert out(workspace_dir, shop, "run", "--stale", "--plan")["replaces"] == []  # a check alone rebuilds nothing
    result = out(workspace_dir, shop, "run", "orders", "--partition", DAYS[0], "--executor", "inprocess")
    (rollout,) = result["rollouts"]
    assert rollout["cause"] == "configuration" and rollout["replaced"] == 1 and rollout["event"] is False
    assert rollout_events(workspace_dir, shop) == []


def test_under_hold_readers_keep_the_old_rows_until_the_held_versions_are_approved(backend, shop, workspace_dir):
    (shop / "weir.toml").write_text(HOLD)
    weir(workspace_dir, shop, "run", "--executor", "inprocess")
    write(shop, rows=120, end="2024-01-11")  # and a new day

    assert out(workspace_dir, shop, "run", "--stale", "--plan")["republish"] == "hold"
    result = out(workspace_dir, shop, "run", "--stale", "--executor", "inprocess")
    assert result["state"] == "succeeded"
    assert result["assets"]["orders"] == {"held": 10, "succeeded": 1}  # the new day is published at once
    (rollout,) = result["rollouts"]
    assert rollout["held"] == 10 and rollout["replaced"] == 0 and rollout["event"] is False
    assert rollout["moved"] == "row_count halved on 10 partitions (240 → 120 rows per partition)"
    assert [rows_of(workspace_dir, shop, "orders", d) for d in DAYS] == [240] * 10
    assert rows_of(workspace_dir, shop, "orders", "2024-01-11") == 120
    assert rollout_events(workspace_dir, shop) == []
    # what reads a held partition waits for it; the new day's totals are built
    assert result["assets"]["daily_totals"] == {"skipped": 10, "succeeded": 1}

    held = out(workspace_dir, shop, "approvals")
    assert [h["partition"] for h in held] == DAYS and {h["asset"] for h in held} == {"orders"}
    assert all(h["rows_before"] == 240 and h["rows_after"] == 120 and h["material"] for h in held)
    again = out(workspace_dir, shop, "run", "--stale", "--plan")
    assert again["held"] == {"orders": 10} and not [t for t in again["tasks"] if t["asset"] == "orders"]
    left = weir(workspace_dir, shop, "run", "--stale", "--executor", "inprocess").stdout
    assert "10 partitions left alone: a version of them built by this code is held for approval" in " ".join(left.split())
    weir(workspace_dir, shop, "vacuum", "--older-than", "0")  # held files are kept

    approved = out(workspace_dir, shop, "approve", "--all")
    assert sorted(a["partition"] for a in approved["approved"]) == DAYS and approved["refused"] == []
    assert len({a["version"] for a in approved["approved"]}) == 1
    assert [rows_of(workspace_dir, shop, "orders", d) for d in DAYS] == [120] * 10
    assert out(workspace_dir, shop, "approvals") == []
    (event,) = rollout_events(workspace_dir, shop)
    assert event["data"]["partitions"] == DAYS and event["run_id"] == result["run_id"]
    tasks = [t for t in out(workspace_dir, shop, "runs", "show", result["run_id"], "--asset", "orders")["tasks"]
             if t["partition"] in DAYS]
    assert {t["state"] for t in tasks} == {"succeeded"}
    assert {t["output_version"] for t in tasks} == {approved["approved"][0]["version"]}
    # the metrics are the approved versions'
    points = out(workspace_dir, shop, "metrics", "orders", "--metric", "row_count")
    assert {p["partition"]: p["value"] for p in points if p["partition"] in DAYS} == dict.fromkeys(DAYS, 120.0)
    after = out(workspace_dir, shop, "run", "--stale", "--executor", "inprocess")
    assert after["assets"] == {"daily_totals": {"succeeded": 10}}


def test_rejecting_held_versions_leaves_the_published_rows(shop, workspace_dir):
    (shop / "weir.toml").write_text(HOLD)
    weir(workspace_dir, shop, "run", "--executor", "inprocess")
    write(shop, rows=120)
    run = out(workspace_dir, shop, "run", "--stale", "--executor", "inprocess")

    weir(workspace_dir, shop, "reject", "orders", "--partition", DAYS[0])
    assert [h["partition"] for h in out(workspace_dir, shop, "approvals")] == DAYS[1:]
    rejected = out(workspace_dir, shop, "reject", "--all")
    assert sorted(r["partition"] for r in rejected["rejected"]) == DAYS[1:]
    assert out(workspace_dir, shop, "approvals") == []
    assert [rows_of(workspace_dir, shop, "orders", d) for d in DAYS] == [240] * 10
    tasks = out(workspace_dir, shop, "runs", "show", run["run_id"], "--asset", "orders")["tasks"]
    assert {t["state"] for t in tasks} == {"rejected"}
    assert not list((workspace_dir / "data").rglob(f"staged-{run['run_id']}-*"))
    assert rollout_events(workspace_dir, shop) == []
    weir(workspace_dir, shop, "approve", "--all")  # nothing left to approve
    assert "say which" in weir(workspace_dir, shop, "approve", expect=2).stderr


def test_a_held_partition_built_again_replaces_its_held_version(shop, workspace_dir):
    (shop / "weir.toml").write_text(HOLD)
    weir(workspace_dir, shop, "run", "--executor", "inprocess")
    write(shop, rows=120)
    first = out(workspace_dir, shop, "run", "--stale", "--executor", "inprocess")
    write(shop, rows=60)

    second = out(workspace_dir, shop, "run", "--stale", "--executor", "inprocess")
    assert second["assets"]["orders"] == {"held": 10}
    held = out(workspace_dir, shop, "approvals")
    assert {h["run_id"] for h in held} == {second["run_id"]} and {h["rows_after"] for h in held} == {60}
    tasks = out(workspace_dir, shop, "runs", "show", first["run_id"], "--asset", "orders")["tasks"]
    assert {t["state"] for t in tasks} == {"rejected"}
    assert all(second["run_id"] in t["reason"] for t in tasks)
    weir(workspace_dir, shop, "approve", "orders")
    assert rows_of(workspace_dir, shop, "orders", DAYS[0]) == 60


def test_versions_held_from_code_since_reverted_are_not_approved_without_force(shop, workspace_dir):
    (shop / "weir.toml").write_text(HOLD)
    weir(workspace_dir, shop, "run", "--executor", "inprocess")
    write(shop, rows=120)
    weir(workspace_dir, shop, "run", "--stale", "--executor", "inprocess")
    write(shop)  # reverted: the held versions come from code the project no longer has
    refused = weir(workspace_dir, shop, "approve", "--all", expect=2).stderr
    assert "built by code the project no longer has" in refused and "weir reject" in refused
    assert [rows_of(workspace_dir, shop, "orders", d) for d in DAYS] == [240] * 10  # nothing published
    weir(workspace_dir, shop, "approve", "--all", "--force")
    assert rows_of(workspace_dir, shop, "orders", DAYS[0]) == 120


def test_a_bad_republish_value_is_one_line_naming_the_file_and_the_field(shop, workspace_dir):
    (shop / "weir.toml").write_text('[project]\nname = "shop"\n\n[run]\nrepublish = "maybe"\n')
    err = weir(workspace_dir, shop, "run", "--plan", expect=2).stderr
    assert "weir.toml" in err and "run.republish 'maybe'" in err and len(err.strip().splitlines()) == 1
    assert not (workspace_dir / "weir.db").exists()


def test_what_is_material_and_how_it_is_told():
    same = judge(partition="d", cause="code", from_code_version="a", to_code_version="b", rows_before=1000,
                 rows_after=1010, before={("", "row_count"): 1000.0, ("x", "mean"): 10.0, ("x", "std"): 2.0},
                 after={("", "row_count"): 1010.0, ("x", "mean"): 10.05, ("x", "std"): 2.01})
    assert not same.material  # 1% more rows, a mean moved by a fraction of its spread
    nulls = judge(partition="d", cause="code", from_code_version="a", to_code_version="b", rows_before=1000,
                  rows_after=1000, before={("x", "null_fraction"): 0.0, ("x", "mean"): 10.0},
                  after={("x", "null_fraction"): 0.3, ("x", "mean"): 10.0})
    assert nulls.material and describe([nulls]) == "x null_fraction moved on 1 partition (0 → 0.3)"
    tripled = [judge(partition=f"d{i}", cause="code", from_code_version="a", to_code_version="b", rows_before=100,
                     rows_after=100, before={("x", "mean"): 2.0, ("x", "std"): 1.0},
                     after={("x", "mean"): 6.0, ("x", "std"): 3.0}) for i in range(3)]
    assert describe(tripled) == "x mean moved on 3 partitions (2 → 6 on d0)"
    emptied = judge(partition="d", cause="code", from_code_version="a", to_code_version="b", rows_before=5, rows_after=0)
    assert describe([emptied]) == "row_count fell to zero on 1 partition (5 → 0 rows)"
