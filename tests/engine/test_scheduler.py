"""The scheduler across the whole graph: independent branches overlap, a downstream partition
starts as soon as the partitions it reads are published, a failure stops exactly what reads it.
Real projects, real Delta tables, a real SQLite store and, where overlap is the subject, a real
pool of two worker processes. Ordering is asserted through marks the asset functions leave on
disk, never through durations."""

from __future__ import annotations

from pathlib import Path

import pytest

from weir.engine.inputs import InputResolver
from weir.engine.runner import Run
from weir.storage.catalog import TableCatalog
from weir.workspace import RunRequest, Workspace

# ``started(prefix)`` waits, at most 30 s, for another partition to leave its start mark: it
# returns True as soon as that partition is running at the same time, False if it never was.
MARKS = '''
import time
from pathlib import Path

import pandas as pd
import weir

HERE = Path(__file__).parent
MARKS = HERE / "marks"
days = weir.daily(start="2024-01-01", end="2024-01-03")
months = weir.monthly(start="2024-01", end="2024-01")


def mark(what):
    MARKS.mkdir(exist_ok=True)
    (MARKS / what).write_text("")


def started(prefix, seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(MARKS.glob(prefix + "*")):
            return True
        time.sleep(0.02)
    return False
'''

BRANCHES = MARKS + '''

@weir.asset(partitions=days)
def branch_a(context):
    mark(f"start-branch_a-{context.partition_key}")
    if context.partition_key == "2024-01-03":
        (HERE / "a-last-saw-b").write_text(str(started("start-branch_b-")))
    return pd.DataFrame({"day": [context.partition_key]})


@weir.asset(partitions=days)
def branch_b(context):
    mark(f"start-branch_b-{context.partition_key}")
    return pd.DataFrame({"day": [context.partition_key]})
'''

CHAIN = MARKS + '''

@weir.asset(partitions=days)
def upstream(context):
    mark(f"start-upstream-{context.partition_key}")
    if context.partition_key == "2024-01-03":
        (HERE / "upstream-last-saw-downstream").write_text(str(started("start-downstream-")))
    return pd.DataFrame({"day": [context.partition_key], "n": [int(context.partition_key[-2:])]})


@weir.asset(partitions=days)
def downstream(upstream, context):
    mark(f"start-downstream-{context.partition_key}")
    return upstream.assign(doubled=upstream["n"] * 2)
'''

FAILING = MARKS + '''

@weir.asset(partitions=days)
def raw(context):
    if context.partition_key == "2024-01-02":
        raise ValueError("bad day")
    return pd.DataFrame({"day": [context.partition_key], "n": [1]})


@weir.asset(partitions=days)
def same_day(raw):
    return raw


@weir.asset(partitions=days)
def after_same_day(same_day):
    return same_day


@weir.asset(partitions=days, inputs={"yesterday": weir.upstream("raw", weir.previous(1))})
def day_after(yesterday, context):
    return pd.DataFrame({"day": [context.partition_key], "had_yesterday": [yesterday is not None]})


@weir.asset(partitions=months)
def month(raw):
    return pd.DataFrame({"rows": [len(raw)]})


@weir.asset(partitions=days)
def independent(context):
    return pd.DataFrame({"day": [context.partition_key]})
'''


@pytest.fixture
def home(workspace_dir, monkeypatch) -> Path:
    monkeypatch.delenv("WEIR_DATABASE_URL", raising=False)
    return workspace_dir


def build(home: Path, project: Path, **request):
    with Workspace(home, project) as ws:
        result = ws.runs.run(RunRequest(**request))
        return result, {(t["asset"], t["partition_key"]): t for t in ws.runs.detail(result.run_id)["tasks"]}


def make_run(ws: Workspace, **options) -> Run:
    """A Run of everything in ``ws``'s project, built from its parts (options the facade does not pass)."""
    with ws.store.read():
        current = ws.store.partitions.current(ws.project.name)
    resolver = InputResolver(ws.project, current)
    plan = ws.runs.plan(RunRequest(), resolver)
    return Run(project=ws.project, store=ws.store, catalog=TableCatalog(ws.tables.root), plan=plan, resolver=resolver, **options)


def test_independent_branches_overlap(home, make_project):
    project = make_project({"assets.py": BRANCHES})

    result, tasks = build(home, project, executor="processes", workers=2)

    assert result.state == "succeeded", result.failures
    assert {t["state"] for t in tasks.values()} == {"succeeded"}
    # branch_b had started before branch_a's last partition finished
    assert (project / "a-last-saw-b").read_text() == "True"


def test_a_downstream_partition_starts_before_its_upstream_asset_is_done(home, make_project):
    project = make_project({"assets.py": CHAIN})

    result, tasks = build(home, project, executor="processes", workers=2)

    assert result.state == "succeeded", result.failures
    assert (project / "upstream-last-saw-downstream").read_text() == "True"
    # upstream's first publish came before its last day was built, and downstream read what was published
    versions = {k: t["output_version"] for (a, k), t in tasks.items() if a == "upstream"}
    assert min(versions.values()) < versions["2024-01-03"]
    for day, version in versions.items():
        assert tasks[("downstream", day)]["input_versions"] == {"upstream": {day: version}}
    with Workspace(home, project) as ws:
        assert ws.data.read("downstream", "2024-01-03").column("doubled").to_pylist() == [6]


def test_a_failed_partition_fails_exactly_the_partitions_that_read_it(home, make_project):
    project = make_project({"assets.py": FAILING})

    result, tasks = build(home, project, executor="processes", workers=2)

    assert result.state == "failed"
    states = {node: t["state"] for node, t in tasks.items() if t["state"] != "succeeded"}
    assert states == {
        ("raw", "2024-01-02"): "failed",
        ("same_day", "2024-01-02"): "upstream_failed",
        ("after_same_day", "2024-01-02"): "upstream_failed",
        ("day_after", "2024-01-03"): "upstream_failed",  # reads raw's 2024-01-02
        ("month", "2024-01"): "upstream_failed",
    }
    assert tasks[("same_day", "2024-01-02")]["reason"] == "raw '2024-01-02' failed"
    assert tasks[("after_same_day", "2024-01-02")]["reason"] == "same_day '2024-01-02' failed"
    assert tasks[("day_after", "2024-01-03")]["reason"] == "raw '2024-01-02' failed"
    assert len(tasks) == 3 * 5 + 1
    assert result.failures == [{"asset": "raw", "partition": "2024-01-02", "error": "ValueError: bad day"}]
    with Workspace(home, project) as ws:
        failed = ws.events.list(kinds=("partition_failed",))
        assert ws.data.read("day_after", "2024-01-02").column("had_yesterday").to_pylist() == [True]
    assert sorted((e.asset, e.partition_key, e.data["state"]) for e in failed) == sorted(
        (a, k, s) for (a, k), s in states.items()
    )


def test_publish_every_bounds_how_long_a_built_partition_waits_for_its_batch(home, make_project):
    project = make_project({"assets.py": BRANCHES.replace('str(started("start-branch_b-"))', '"not waited for"')})
    with Workspace(home, project) as ws:
        slow = make_run(ws, executor="inprocess", publish_every=0.0).execute()
        with ws.store.read():
            every_partition = {t.partition_key: t.output_version for t in ws.store.runs.tasks(slow.run_id)
                               if t.asset == "branch_b"}
    assert sorted(every_partition.values()) == [0, 1, 2]  # a commit per partition

    with Workspace(home, project) as ws:
        batched = make_run(ws, executor="inprocess", publish_every=3600.0).execute()
        with ws.store.read():
            one_commit = {t.output_version for t in ws.store.runs.tasks(batched.run_id) if t.asset == "branch_b"}
    assert one_commit == {3}


def test_auto_builds_a_small_plan_in_process_and_honours_an_explicit_choice(home, make_project):
    project = make_project({"assets.py": CHAIN.replace("started(\"start-downstream-\")", "True")})
    with Workspace(home, project) as ws:
        run = make_run(ws)  # 6 tasks, executor left to auto
        assert (run.executor_name, len(run.plan.tasks)) == ("inprocess", 6)
        assert make_run(ws, executor="processes").executor_name == "processes"
        result = run.execute()
        [started] = ws.events.list(kinds=("run_started",))
    assert result.state == "succeeded"
    assert started.data["executor"] == "inprocess"


def test_auto_uses_the_process_pool_beyond_a_handful_of_tasks(home, make_project):
    big = CHAIN.replace('end="2024-01-03"', 'end="2024-01-05"')
    project = make_project({"assets.py": big})
    with Workspace(home, project) as ws:
        run = make_run(ws)
    assert (run.executor_name, len(run.plan.tasks)) == ("processes", 10)


DST = '''
import pandas as pd
import weir

hours = weir.hourly(start="2024-10-27T00", end="2024-10-27T04", tz="Europe/Paris")


@weir.asset(partitions=hours)
def readings(context):
    return pd.DataFrame({"utc_start": [context.start.timestamp()]})


@weir.asset(partitions=weir.daily(start="2024-10-27", end="2024-10-27", tz="Europe/Paris"))
def daily_count(readings):
    return pd.DataFrame({"hours": [len(readings)], "distinct_starts": [readings["utc_start"].nunique()]})
'''


def test_an_hourly_asset_across_the_autumn_clock_change_keeps_both_repeated_hours(home, make_project):
    project = make_project({"assets.py": DST})

    result, tasks = build(home, project, executor="inprocess")

    assert result.state == "succeeded", result.failures
    assert ("readings", "2024-10-27T02+0100") in tasks
    with Workspace(home, project) as ws:
        first = ws.data.read("readings", "2024-10-27T02").column("utc_start").to_pylist()
        second = ws.data.read("readings", "2024-10-27T02+0100").column("utc_start").to_pylist()
        assert second[0] - first[0] == 3600
        # the day reads the 6 real hours built (00, 01, 02, 02 again, 03, 04), none merged
        assert ws.data.read("daily_count", "2024-10-27").to_pylist() == [{"hours": 6, "distinct_starts": 6}]
