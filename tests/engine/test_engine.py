"""The engine end to end through the Workspace facade: small real projects with CSV sources,
daily and monthly partitions, real Delta tables and a real metadata store."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import land_csv
from deltalake import DeltaTable

from weir.envs.snapshot import capture
from weir.storage.sources import fingerprint
from weir.workspace import RunRequest, Workspace

DAYS = ["2024-01-29", "2024-01-30", "2024-01-31", "2024-02-01", "2024-02-02"]

HEADER = '''
import pandas as pd
import weir

days = weir.daily(start="2024-01-29", end="2024-02-02")
months = weir.monthly(start="2024-01", end="2024-02")
landing = weir.source("landing", path="landing/{partition}.csv", partitions=days)
'''

CLEANED = '''
@weir.asset(partitions=days)
def cleaned(landing):
    return landing.assign(value=landing["value"] * 2)
'''

CLEANED_EDITED = '''
@weir.asset(partitions=days)
def cleaned(landing):
    return landing.assign(value=landing["value"] * 3)  # tripled now
'''

DOWNSTREAM = '''
@weir.asset(partitions=days)
def enriched(cleaned):
    return cleaned.assign(plus=cleaned["value"] + 1)


@weir.asset(partitions=months)
def monthly_total(cleaned):
    return pd.DataFrame({"rows": [len(cleaned)], "total": [int(cleaned["value"].sum())]})
'''

PIPELINE = HEADER + CLEANED + DOWNSTREAM


def land(project: Path, day: str, values: list[int]) -> Path:
    return land_csv(project, f"landing/{day}.csv", [{"id": i, "value": v} for i, v in enumerate(values)])


def land_all(project: Path, days=DAYS) -> None:
    for n, day in enumerate(days):
        land(project, day, [n + 1, n + 2])


def run(home: Path, project: Path, **request) -> tuple:
    request.setdefault("executor", "inprocess")
    with Workspace(home, project) as ws:
        result = ws.runs.run(RunRequest(**request))
        return result, ws.runs.detail(result.run_id)


def stale_plan(home: Path, project: Path) -> dict[tuple[str, str], str]:
    with Workspace(home, project) as ws:
        plan = ws.runs.plan(RunRequest(stale=True))
    return {(t.asset, t.key): t.reason for t in plan.tasks}


def values(home: Path, project: Path, asset: str, key: str, column: str = "value") -> list:
    with Workspace(home, project) as ws:
        return ws.data.read(asset, key).sort_by("id").column(column).to_pylist()


def tasks_of(detail: dict) -> dict[tuple[str, str], dict]:
    return {(t["asset"], t["partition_key"]): t for t in detail["tasks"]}


@pytest.fixture
def home(workspace_dir, monkeypatch) -> Path:
    monkeypatch.delenv("WEIR_DATABASE_URL", raising=False)
    return workspace_dir


@pytest.fixture
def pipeline(make_project) -> Path:
    project = make_project({"assets.py": PIPELINE})
    land_all(project)
    return project


def test_run_records_state_versions_and_environment_per_task(home, pipeline):
    result, detail = run(home, pipeline)

    assert result.state == "succeeded"
    assert result.counts == {"succeeded": 12}
    assert detail["state"] == "succeeded"
    assert detail["environment_id"] == capture().id
    assert detail["environment"]["packages"]["deltalake"] == capture().packages["deltalake"]
    with Workspace(home, pipeline) as ws:
        code = {name: a.code_version for name, a in ws.project.assets.items()}
    tasks = tasks_of(detail)
    assert set(tasks) == {(a, d) for a in ("cleaned", "enriched") for d in DAYS} | {("monthly_total", "2024-01"), ("monthly_total", "2024-02")}
    for (asset, key), t in tasks.items():
        assert t["state"] == "succeeded"
        assert t["attempt"] == 1
        assert t["code_version"] == code[asset]
        assert t["output_version"] == 0  # every partition of an asset went out in one commit
    day = tasks[("cleaned", "2024-01-30")]
    assert day["input_versions"] == {"landing": {"2024-01-30": fingerprint([str(pipeline / "landing/2024-01-30.csv")])}}
    assert day["row_count"] == 2
    assert tasks[("enriched", "2024-01-30")]["input_versions"] == {"cleaned": {"2024-01-30": 0}}
    assert tasks[("monthly_total", "2024-01")]["input_versions"] == {"cleaned": {d: 0 for d in DAYS[:3]}}
    assert tasks[("monthly_total", "2024-02")]["row_count"] == 1

    assert values(home, pipeline, "cleaned", "2024-01-30") == [4, 6]
    assert values(home, pipeline, "enriched", "2024-01-30", "plus") == [5, 7]
    with Workspace(home, pipeline) as ws:
        jan = ws.data.read("monthly_total", "2024-01").to_pylist()
        history = ws.data.history("cleaned", "2024-01-30")
    assert jan == [{"rows": 6, "total": 2 * (1 + 2 + 2 + 3 + 3 + 4)}]
    assert [(h["version"], h["run_id"]) for h in history] == [(0, result.run_id)]


def test_processes_executor_with_two_workers(home, pipeline):
    result, detail = run(home, pipeline, executor="processes", workers=2)

    assert result.state == "succeeded"
    assert {t["state"] for t in detail["tasks"]} == {"succeeded"}
    assert len(detail["tasks"]) == 12
    assert values(home, pipeline, "enriched", "2024-02-02", "plus") == [11, 13]
    delta = DeltaTable(str(home / "data" / "demo" / "cleaned")).to_pyarrow_table()
    assert delta.num_rows == 10
    assert stale_plan(home, pipeline) == {}


def test_nothing_is_stale_after_a_successful_run(home, pipeline):
    run(home, pipeline)
    with Workspace(home, pipeline) as ws:
        plan = ws.runs.plan(RunRequest(stale=True))
    assert plan.tasks == []
    assert plan.up_to_date == {"cleaned": 5, "enriched": 5, "monthly_total": 2}
    result, _ = run(home, pipeline, stale=True)
    assert result.counts == {}


def test_first_stale_plan_builds_everything_missing(home, pipeline):
    plan = stale_plan(home, pipeline)
    assert len(plan) == 12
    assert set(plan.values()) == {"missing"}


def test_editing_an_asset_function_makes_it_code_changed_and_downstream_upstream_rebuilt(home, pipeline):
    run(home, pipeline)
    (pipeline / "assets.py").write_text(HEADER + CLEANED_EDITED + DOWNSTREAM)

    plan = stale_plan(home, pipeline)

    assert {k: r for k, r in plan.items() if k[0] == "cleaned"} == {("cleaned", d): "code changed" for d in DAYS}
    assert {k: r for k, r in plan.items() if k[0] == "enriched"} == {("enriched", d): "upstream rebuilt" for d in DAYS}
    assert {k: r for k, r in plan.items() if k[0] == "monthly_total"} == {
        ("monthly_total", "2024-01"): "upstream rebuilt",
        ("monthly_total", "2024-02"): "upstream rebuilt",
    }
    result, _ = run(home, pipeline, stale=True)
    assert result.state == "succeeded"
    assert values(home, pipeline, "cleaned", "2024-01-30") == [6, 9]
    assert stale_plan(home, pipeline) == {}


def test_relanding_a_source_file_makes_that_partition_upstream_changed(home, pipeline):
    run(home, pipeline)
    land(pipeline, "2024-01-31", [100, 200, 300])

    plan = stale_plan(home, pipeline)

    assert plan == {
        ("cleaned", "2024-01-31"): "upstream changed",
        ("enriched", "2024-01-31"): "upstream rebuilt",
        ("monthly_total", "2024-01"): "upstream rebuilt",
    }
    result, _ = run(home, pipeline, stale=True)
    assert result.counts == {"succeeded": 3}
    assert values(home, pipeline, "cleaned", "2024-01-31") == [200, 400, 600]
    assert values(home, pipeline, "cleaned", "2024-01-30") == [4, 6]


def test_republishing_an_upstream_partition_makes_downstream_stale(home, pipeline):
    run(home, pipeline)
    _, detail = run(home, pipeline, assets=("cleaned",), partition="2024-01-30")
    assert [(t["asset"], t["partition_key"], t["reason"]) for t in detail["tasks"]] == [("cleaned", "2024-01-30", "requested")]
    assert detail["tasks"][0]["output_version"] == 1

    plan = stale_plan(home, pipeline)

    assert plan == {("enriched", "2024-01-30"): "upstream changed", ("monthly_total", "2024-01"): "upstream changed"}
    _, detail = run(home, pipeline, stale=True)
    assert tasks_of(detail)[("enriched", "2024-01-30")]["input_versions"] == {"cleaned": {"2024-01-30": 1}}
    assert stale_plan(home, pipeline) == {}


def test_missing_source_file_waits_instead_of_failing(home, make_project):
    project = make_project({"assets.py": PIPELINE})
    land_all(project, DAYS[:-1])

    with Workspace(home, project) as ws:
        plan = ws.runs.plan(RunRequest())
    assert plan.waiting["cleaned"] == [("2024-02-02", "source 'landing' partition '2024-02-02' has not arrived")]
    assert [k for k, _ in plan.waiting["enriched"]] == ["2024-02-02"]

    result, detail = run(home, project)
    assert result.state == "succeeded"
    assert result.waiting == {"cleaned": 1, "enriched": 1, "monthly_total": 1}
    assert ("cleaned", "2024-02-02") not in tasks_of(detail)


def test_monthly_asset_waits_until_every_day_of_the_month_is_built(home, make_project):
    project = make_project({"assets.py": PIPELINE})
    land_all(project, DAYS[:-1])

    _, detail = run(home, project)

    tasks = tasks_of(detail)
    assert tasks[("monthly_total", "2024-01")]["state"] == "succeeded"
    assert ("monthly_total", "2024-02") not in tasks
    with Workspace(home, project) as ws:
        plan = ws.runs.plan(RunRequest(stale=True))
    assert plan.tasks == []
    assert plan.waiting["monthly_total"] == [("2024-02", "asset 'cleaned' partition '2024-02-02' is not built")]

    land(project, "2024-02-02", [5, 6])
    plan = stale_plan(home, project)
    assert plan == {
        ("cleaned", "2024-02-02"): "missing",
        ("enriched", "2024-02-02"): "missing",
        ("monthly_total", "2024-02"): "missing",
    }
    run(home, project, stale=True)
    with Workspace(home, project) as ws:
        assert ws.data.read("monthly_total", "2024-02").to_pylist() == [{"rows": 4, "total": 2 * (4 + 5 + 5 + 6)}]


RETRIED = HEADER + '''
from pathlib import Path


@weir.asset(partitions=days, retry=weir.Retry(attempts=2))
def flaky(landing, context):
    counter = Path(__file__).parent / f"attempts-{context.partition_key}"
    seen = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(seen + 1))
    if seen == 0:
        raise RuntimeError("first attempt always fails")
    return landing.assign(attempt=context.attempt)
'''


def test_an_asset_failing_once_succeeds_on_its_second_attempt(home, make_project):
    project = make_project({"assets.py": RETRIED})
    land(project, "2024-01-29", [1])

    result, detail = run(home, project, assets=("flaky",), partition="2024-01-29")

    assert result.state == "succeeded"
    [task] = detail["tasks"]
    assert (task["state"], task["attempt"], task["error"]) == ("succeeded", 2, None)
    assert (project / "attempts-2024-01-29").read_text() == "2"
    assert values(home, project, "flaky", "2024-01-29", "attempt") == [2]


BRANCHES = HEADER + CLEANED + '''

@weir.asset(partitions=days)
def broken(landing, context):
    if context.partition_key == "2024-01-30":
        raise ValueError("bad day")
    return landing


@weir.asset(partitions=days)
def after_broken(broken):
    return broken
'''


def test_a_failing_asset_fails_its_downstream_while_an_independent_branch_succeeds(home, make_project):
    project = make_project({"assets.py": BRANCHES})
    land_all(project, DAYS[:3])

    result, detail = run(home, project)

    assert result.state == "failed"
    assert detail["state"] == "failed"
    tasks = tasks_of(detail)
    failed = tasks[("broken", "2024-01-30")]
    assert (failed["state"], failed["attempt"]) == ("failed", 1)
    assert "ValueError: bad day" in failed["error"]
    assert "bad day" in failed["traceback"]
    assert failed["output_version"] is None
    down = tasks[("after_broken", "2024-01-30")]
    assert down["state"] == "upstream_failed"
    assert "broken" in down["reason"]
    assert {tasks[("cleaned", d)]["state"] for d in DAYS[:3]} == {"succeeded"}
    assert {tasks[(a, d)]["state"] for a in ("broken", "after_broken") for d in ("2024-01-29", "2024-01-31")} == {"succeeded"}
    assert result.failures == [{"asset": "broken", "partition": "2024-01-30", "error": "ValueError: bad day"}]
    with Workspace(home, project) as ws:
        assert "2024-01-30" not in ws.tables.get("broken").files()
        assert ws.data.status("after_broken")[0]["last_run_failed"] == 1
    # the failed partition and what hangs off it are still to do
    assert stale_plan(home, project) == {("broken", "2024-01-30"): "missing", ("after_broken", "2024-01-30"): "missing"}


LOOKBACK = HEADER + CLEANED + '''

@weir.asset(partitions=days, inputs={"yesterday": weir.upstream("cleaned", weir.previous(1))})
def running(cleaned, yesterday):
    before = -1 if yesterday is None else int(yesterday["value"].sum())
    return cleaned.assign(yesterday_total=before)
'''


def test_previous_lookback_gets_none_first_and_yesterdays_data_later(home, make_project):
    project = make_project({"assets.py": LOOKBACK})
    land_all(project, DAYS[:3])  # cleaned values: [2, 4], [4, 6], [6, 8]

    result, detail = run(home, project)

    assert result.state == "succeeded"
    assert values(home, project, "running", "2024-01-29", "yesterday_total") == [-1, -1]
    assert values(home, project, "running", "2024-01-30", "yesterday_total") == [6, 6]
    assert values(home, project, "running", "2024-01-31", "yesterday_total") == [10, 10]
    tasks = tasks_of(detail)
    assert tasks[("running", "2024-01-29")]["input_versions"] == {"cleaned": {"2024-01-29": 0}}
    assert tasks[("running", "2024-01-30")]["input_versions"] == {"cleaned": {"2024-01-29": 0, "2024-01-30": 0}}


def test_the_same_plan_runs_alike_on_either_backend(backend, workspace_dir, pipeline):
    result, _ = run(workspace_dir, pipeline)

    assert result.state == "succeeded"
    assert result.counts == {"succeeded": 12}
    with Workspace(workspace_dir, pipeline) as ws:
        assert ws.store.backend == ("sqlite" if backend == "sqlite" else "postgresql")
        assert [r.id for r in ws.runs.list()] == [result.run_id]
        assert ws.data.status("cleaned")[0]["published"] == 5
    assert (workspace_dir / "weir.db").exists() == (backend == "sqlite")
    assert values(workspace_dir, pipeline, "enriched", "2024-01-31", "plus") == [7, 9]
    assert stale_plan(workspace_dir, pipeline) == {}


def test_widening_a_range_builds_only_the_new_partitions(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "weir.toml").write_text('[project]\nname = "widen"\n')
    (project / "assets.py").write_text(PIPELINE.replace('end="2024-02-02"', 'end="2024-02-01"'))
    land_all(project, DAYS[:-1])
    home = tmp_path / "ws"
    result, _ = run(home, project)
    assert result.ok
    (project / "assets.py").write_text(PIPELINE)  # the daily range now ends a day later
    land(project, DAYS[-1], [7, 8])
    planned = stale_plan(home, project)
    assert {k for _, k in planned} == {"2024-02-02", "2024-02"}, planned
    assert "code changed" not in planned.values()


def test_partitions_built_under_the_former_code_version_are_current_and_adopt_the_new_one(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "weir.toml").write_text('[project]\nname = "legacy"\n')
    (project / "assets.py").write_text(PIPELINE)
    land_all(project)
    home = tmp_path / "ws"
    assert run(home, project)[0].ok
    with Workspace(home, project) as ws:  # as if built before ranges left the code version
        with ws.store.transaction():
            for a in ws.project.assets.values():
                ws.store.partitions.adopt_code_version("legacy", a.name, a.code_version, a.legacy_code_version)
        assert ws.data.status()[0]["outdated_code"] == 0
    assert stale_plan(home, project) == {}
    land(project, DAYS[0], [9, 9, 9])  # one input changes: the run adopts the new code version everywhere
    run(home, project, stale=True)
    with Workspace(home, project) as ws, ws.store.read():
        codes = {r["code_version"] for r in ws.store.partitions.current("legacy").values()}
        assert codes == {a.code_version for a in ws.project.assets.values()}
