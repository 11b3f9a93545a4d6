"""The progress bar is an event sink: it counts the run's partition outcomes from the committed
events on the bus, and only its own run's."""

from __future__ import annotations

from pathlib import Path

import pytest

from weir.cli.render import ProgressReporter
from weir.events import Event, EventKind
from weir.workspace import RunRequest, Workspace

ASSETS = '''
import pandas as pd
import weir

days = weir.daily(start="2024-01-01", end="2024-01-03")


@weir.asset(partitions=days)
def raw(context):
    if context.partition_key == "2024-01-02":
        raise ValueError("bad day")
    return pd.DataFrame({"day": [context.partition_key]})


@weir.asset(partitions=days)
def cleaned(raw):
    return raw
'''


@pytest.fixture
def project(make_project, monkeypatch) -> Path:
    monkeypatch.delenv("WEIR_DATABASE_URL", raising=False)
    return make_project({"assets.py": ASSETS})


def test_the_progress_bar_counts_the_runs_partition_events(workspace_dir, project):
    bar = ProgressReporter()
    with Workspace(workspace_dir, project) as ws:
        result = ws.runs.run(RunRequest(executor="inprocess"), reporter=bar)
        ws.store.bus.publish([Event(kind=EventKind.PARTITION_FAILED, project="demo", asset="raw", partition_key="x",
                                    run_id=result.run_id, data={"state": "failed"})])  # after the run: not listening

    assert bar.counts == {"succeeded": 4, "failed": 1, "upstream_failed": 1} == result.counts
    assert bar.progress.tasks[0].completed == 6


def test_the_progress_bar_ignores_other_runs_events():
    bar = ProgressReporter()
    bar.run_id = "mine"
    bar.receive([
        Event(kind=EventKind.PARTITION_PUBLISHED, project="p", asset="a", partition_key="k", run_id="other",
              data={"state": "succeeded"}),
        Event(kind=EventKind.PARTITION_BLOCKED, project="p", asset="a", partition_key="k", run_id="mine"),
        Event(kind=EventKind.PARTITION_PUBLISHED, project="p", asset="a", partition_key="j", run_id="mine",
              data={"state": "failed_check"}),
        Event(kind=EventKind.RUN_FINISHED, project="p", run_id="mine", data={"state": "failed"}),
    ])
    assert bar.counts == {"blocked": 1, "failed_check": 1}
