"""Accepting a new normal (``ws.monitors.accept``): which series a name means, the reset it
records on every backend, the partitions it judges again, and what it refuses."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from conftest import land_csv

from weir.errors import PartitionError, UnknownObjectError, UsageError
from weir.monitoring.service import resolve_series, split_series
from weir.workspace import Workspace

START = dt.date(2024, 1, 1)
DAYS = 30


def key(i: int) -> str:
    return (START + dt.timedelta(days=i)).isoformat()


PROJECT = '''\
import weir
days = weir.daily(start="2024-01-01", end="2024-03-31")
raw = weir.source("raw", path="landing/{partition}.csv", partitions=days)
lookup = weir.source("lookup", path="lookup.csv")

@weir.asset(partitions=days)
def never_built(raw):
    return raw
'''


@pytest.fixture
def ingested(backend, make_project, workspace_dir) -> tuple[Path, Path]:
    """A daily source with DAYS in control and four more whose values tripled."""
    project = make_project({"assets.py": PROJECT})
    land_csv(project, "lookup.csv", [{"code": "a", "name": "A"}])
    for i in range(DAYS + 4):
        values = np.random.default_rng(7 + i).normal(100, 10, 100) * (3.0 if i >= DAYS else 1.0)
        land_csv(project, f"landing/{key(i)}.csv", [{"id": j, "value": round(float(values[j]), 3)} for j in range(100)])
    with Workspace(workspace_dir, project) as ws:
        ws.quality.ingest("raw")
        ws.quality.ingest("lookup")
    return workspace_dir, project


def test_a_series_name_resolves_to_the_longest_asset_then_the_longest_column():
    names = ["raw", "raw.eu", "clean"]
    assert split_series("raw", names) == ("raw", None)
    assert split_series("raw.eu.temp", names) == ("raw.eu", "temp")
    assert split_series("raw.temp.c.mean", names) == ("raw", "temp.c.mean")
    measured = {("temp", "mean"), ("temp", "max"), ("temp.c", "mean"), ("temp.c", "c"), ("", "row_count")}
    assert resolve_series("raw", None, measured) == (None, None)
    assert resolve_series("raw", "temp.c", measured) == ("temp.c", None)  # a column before a column's metric
    assert resolve_series("raw", "temp.c.mean", measured) == ("temp.c", "mean")
    assert resolve_series("raw", "temp.max", measured) == ("temp", "max")
    assert resolve_series("raw", "row_count", measured) == ("", "row_count")
    with pytest.raises(UnknownObjectError, match="column 'temp.c' has no metric 'max'; its metrics are: mean"):
        resolve_series("raw", "temp.c.max", {("temp.c", "mean")})
    with pytest.raises(UnknownObjectError, match="did you mean 'temp'"):
        resolve_series("raw", "tmp", measured)
    with pytest.raises(UnknownObjectError, match="unknown asset 'rw'"):
        split_series("rw.temp", names)
    with pytest.raises(UsageError, match="'raw.'"):
        split_series("raw.", names)
    with pytest.raises(UsageError, match="empty"):
        split_series(" ", names)


def test_accept_records_the_reset_and_judges_the_partitions_from_key_again(ingested):
    """The tripled level alerts on its first day and becomes the new normal after the
    confirmation window; accepting it from its first day re-judges those days against the new
    level only, so the alert goes."""
    ws_dir, project = ingested
    with Workspace(ws_dir, project) as ws:
        before = ws.monitors.signals("raw")
        assert {s["partition_key"] for s in before if s["severity"] == "alert" and s["kind"] == "spc"} == {key(DAYS)}
        row = ws.monitors.accept("raw.value", key(DAYS), note="new supplier")
        after = ws.monitors.signals("raw")
        resets = ws.monitors.baselines()
    assert {k: row[k] for k in ("project", "asset", "column_name", "metric", "from_key", "note")} == {
        "project": "demo", "asset": "raw", "column_name": "value", "metric": None, "from_key": key(DAYS),
        "note": "new supplier"}
    assert row["rejudged"] == [key(DAYS + i) for i in range(4)]
    assert resets == [{k: v for k, v in row.items() if k != "rejudged"}]

    def until(rows: list[dict]) -> list[dict]:
        return [s for s in rows if s["partition_key"] < key(DAYS)]

    assert until(after) == until(before)  # the partitions before KEY keep their stored signals
    rejudged = [s for s in after if s["partition_key"] >= key(DAYS)]
    assert all(s["created_at"] >= row["created_at"] for s in rejudged)  # judged again with the reset
    assert [s for s in rejudged if s["column_name"] == "value" and s["kind"] == "spc"] == []


def test_accept_of_a_table_level_metric_and_of_a_whole_source(ingested):
    ws_dir, project = ingested
    with Workspace(ws_dir, project) as ws:
        rows = ws.monitors.accept("raw.row_count", key(5)), ws.monitors.accept("raw", key(DAYS + 3))
        assert [(r["column_name"], r["metric"], len(r["rejudged"])) for r in rows] == [
            ("", "row_count", DAYS + 4 - 5), (None, None, 1)]
        assert [r["from_key"] for r in ws.monitors.baselines("raw")] == [key(5), key(DAYS + 3)]


@pytest.mark.parametrize(("series", "first", "error", "message"), [
    ("raw.valu", key(DAYS), UnknownObjectError, "did you mean 'value'"),
    ("raw.value.mea", key(DAYS), UnknownObjectError, "no metric 'mea'"),
    ("nope", key(DAYS), UnknownObjectError, "unknown asset 'nope'"),
    ("never_built", key(DAYS), UnknownObjectError, "nothing is measured on 'never_built'"),
    ("raw.value", "2024-02-30", PartitionError, "'2024-02-30'"),
    ("raw.value", "2023-12-31", PartitionError, "'2023-12-31'"),
    ("lookup", key(DAYS), PartitionError, "unpartitioned"),
])
def test_accept_refuses_what_it_cannot_reset_and_records_nothing(ingested, series, first, error, message):
    ws_dir, project = ingested
    with Workspace(ws_dir, project) as ws:
        before = ws.monitors.signals()
        with pytest.raises(error, match=message):
            ws.monitors.accept(series, first)
        assert ws.monitors.baselines() == [] and ws.monitors.signals() == before
