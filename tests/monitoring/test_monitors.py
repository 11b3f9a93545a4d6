"""Monitors end to end: a small daily source (and an asset reading it) with six weeks of seeded
deliveries, ingested and built for real; anomalies injected on the newest day. Alerts on the
right series, drift, schema changes, warm-up, muting and tuning in Python and checks.yml,
baselines that leave out quarantined and alerted points, seasonality, and the CLI views
(``weir metrics``, ``weir monitors``, ``weir chart``)."""

from __future__ import annotations

import datetime as dt
import importlib
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import land_csv, write_project
from conftest import weir_cli as weir

from weir.monitoring import forecast
from weir.project.loader import load_project
from weir.workspace import RunRequest, Workspace

START = dt.date(2024, 1, 1)  # a Monday
DAYS = 40  # days of in-control history: well past the 14-point warm-up and 3 weeks of weekdays
STATES = {"in control", "warn", "alert", "warming up", "muted", "not judged"}
METRIC_KEYS = {"asset", "partition", "column", "metric", "value", "quarantined", "run_id", "measured_at", "center", "lower",
               "upper", "signals", "muted", "state", "model"}
MONITOR_KEYS = {"asset", "kind", "column", "metric", "state", "points", "last_partition", "last_value", "center", "lower",
                "upper", "model", "methods", "sigma", "muted"}
SIGNAL_KEYS = {"asset", "partition", "kind", "column", "metric", "method", "rule", "value", "center", "lower", "upper",
               "severity", "direction", "details", "run_id", "created_at", "group"}
POINT_SIGNAL_KEYS = {"method", "rule", "severity", "direction"}


def daily_project(source: str = "", asset: str = "", with_asset: bool = True) -> str:
    """A daily source ``raw`` and (optionally) an asset ``clean`` that passes it through;
    ``source``/``asset`` are extra keyword arguments (``', monitors=[...]'``)."""
    text = (
        "import weir\n"
        'days = weir.daily(start="2024-01-01", end="2024-03-31")\n'
        'raw = weir.source("raw", path="landing/{partition}.csv", partitions=days' + source + ")\n"
    )
    if with_asset:
        text += "\n@weir.asset(partitions=days" + asset + ")\ndef clean(raw):\n    return raw\n"
    return text


def key(i: int) -> str:
    return (START + dt.timedelta(days=i)).isoformat()


def land_day(project: Path, i: int, *, n: int = 200, scale: float = 1.0, categories=("a", "b", "c"),
             category_column: str = "category", first_value: float | None = None) -> None:
    """Day ``i``: ``n`` rows of an id (0..n-1), a value ~ N(100, 10) from a seed per day (times
    ``scale``), a category cycling through ``categories`` and a timestamp spread over the day."""
    values = np.random.default_rng(1000 + i).normal(100, 10, n) * scale
    if first_value is not None:
        values[0] = first_value
    day = dt.datetime.combine(START + dt.timedelta(days=i), dt.time())
    rows = [
        {"id": j, "value": round(float(values[j]), 4), category_column: categories[j % len(categories)],
         "ts": (day + dt.timedelta(seconds=60 + j * 86400 // n)).isoformat()}
        for j in range(n)
    ]
    land_csv(project, f"landing/{key(i)}.csv", rows)


def land_history(project: Path, days: int = DAYS) -> None:
    for i in range(days):
        land_day(project, i)


def alerts_of(rows: list[dict], asset: str | None = None) -> set[tuple]:
    """(asset, partition, kind, column, metric) of the alert rows (store rows or CLI JSON)."""
    out = set()
    for r in rows:
        if r["severity"] != "alert" or (asset and r["asset"] != asset):
            continue
        out.add((r["asset"], r.get("partition_key", r.get("partition")), r["kind"], r.get("column_name", r.get("column")),
                 r["metric"]))
    return out


def count_alerts(rows: list[dict]) -> dict[str, dict[str, int]]:
    """The ``signals`` summary of ``weir run --json``: alerts per asset and partition."""
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        if r["severity"] == "alert":
            per = out.setdefault(r["asset"], {})
            per[r["partition_key"]] = per.get(r["partition_key"], 0) + 1
    return out




def weir_json(ws: Path, project: Path, *args: str, expect: int = 0):
    return json.loads(weir(ws, project, *args, "--json", expect=expect).stdout)


def build(project: Path, ws_dir: Path, days: int = DAYS) -> None:
    """``days`` days of history, built in-process (SQLite unless WEIR_DATABASE_URL is set)."""
    land_history(project, days)
    with Workspace(ws_dir, project) as ws:
        result = ws.runs.run(RunRequest(executor="inprocess"))
        assert result.state == "succeeded", result.failures


# -- six weeks in control, built once through the CLI -----------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Six weeks in control, built through the CLI, with its views taken once."""
    base = tmp_path_factory.mktemp("monitors-cli")
    project = write_project(base / "proj", {"assets.py": daily_project()})
    land_history(project)
    ws = base / "ws"
    return {
        "ws": ws, "project": project,
        "run": weir_json(ws, project, "run", "--executor", "inprocess"),
        "monitors": weir_json(ws, project, "monitors"),
        "signals": weir_json(ws, project, "monitors", "--signals"),
        "alerts": weir_json(ws, project, "monitors", "--signals", "--alerts"),
        "metrics": weir_json(ws, project, "metrics", "raw"),
    }


def test_an_in_control_history_raises_no_alerts(built):
    assert built["run"]["state"] == "succeeded"
    assert built["run"]["signals"] == {}
    assert built["alerts"] == []
    assert all(s["severity"] == "warn" for s in built["signals"])  # warnings may be recorded; nothing alerts
    with Workspace(built["ws"], built["project"]) as ws:
        assert ws.monitors.signals(alerts_only=True) == []


def test_metrics_json_has_limits_after_warm_up_and_signals_per_point(built):
    points = weir_json(built["ws"], built["project"], "metrics", "raw", "--column", "value", "--metric", "mean")
    assert [p["partition"] for p in points] == [key(i) for i in range(DAYS)]
    assert all(set(p) == METRIC_KEYS for p in points)
    for p in points[:14]:  # warm-up: fewer than 14 earlier points
        assert (p["center"], p["lower"], p["upper"]) == (None, None, None), p
    for p in points[14:]:
        assert all(isinstance(p[k], float) for k in ("center", "lower", "upper")), p
        assert p["lower"] < p["center"] < p["upper"]
        assert 95 < p["center"] < 105  # the mean of N(100, 10) values
    for p in points:
        assert p["muted"] is False and p["quarantined"] is False
        assert isinstance(p["signals"], list) and all(set(s) == POINT_SIGNAL_KEYS for s in p["signals"])
    every = built["metrics"]
    assert all(set(p) == METRIC_KEYS for p in every)
    assert [p for p in every if (p["column"], p["metric"]) == ("value", "mean")] == points
    # the default extremes are measured and listed, but muted
    p99 = [p for p in every if (p["column"], p["metric"]) == ("value", "p99")]
    assert len(p99) == DAYS and all(p["muted"] is True and p["signals"] == [] for p in p99)


def test_monitors_json_has_the_documented_keys_and_states(built):
    rows = built["monitors"]
    assert rows and all(set(r) == MONITOR_KEYS for r in rows)
    assert {(r["asset"], r["kind"]) for r in rows} == {("raw", "source"), ("clean", "asset")}
    assert {r["state"] for r in rows} <= STATES
    by = {(r["asset"], r["column"], r["metric"]): r for r in rows}
    assert len(by) == len(rows)
    rc = by[("raw", "", "row_count")]
    assert rc["state"] == "in control" and rc["points"] == DAYS and rc["last_partition"] == key(DAYS - 1)
    assert rc["last_value"] == 200.0 and rc["muted"] is False
    assert rc["methods"] == ["shewhart", "cusum"] and rc["sigma"] is None and rc["model"] == "forecast"
    mean = by[("clean", "value", "mean")]
    assert mean["state"] in ("in control", "warn") and mean["lower"] < mean["center"] < mean["upper"]
    for extreme in ("min", "max", "p01", "p50", "p99"):  # not monitored unless a setting names them
        assert by[("raw", "value", extreme)]["state"] == "muted" and by[("raw", "value", extreme)]["muted"] is True
        assert by[("raw", "value", extreme)]["points"] == DAYS
    assert ("raw", "category", "drift_score") in by and ("clean", "value", "drift_score") in by
    signals = built["signals"]  # a clean history may raise none at all
    assert all(set(s) == SIGNAL_KEYS for s in signals)
    assert {s["kind"] for s in signals} <= {"spc", "drift", "schema"}
    assert {s["severity"] for s in signals} <= {"alert", "warn"}
    assert {s["direction"] for s in signals} <= {"up", "down", None}
    assert all(s["created_at"].endswith(("Z", "+00:00")) for s in signals)


def test_metrics_and_monitors_show_the_severity_that_was_stored(built):
    """docs/monitoring.md: EWMA and CUSUM are warnings unless a setting names their method, and a drift
    score alerts only when the distribution really changed. ``weir metrics`` (and the chart
    drawn from it) and the state in ``weir monitors`` must show what the monitors stored:
    on an in-control history nothing they show is an alert."""
    assert alerts_of(built["alerts"]) == set()
    shown = {
        (p["asset"], p["partition"], p["column"], p["metric"], s["method"], s["rule"])
        for p in built["metrics"] for s in p["signals"] if s["severity"] == "alert"
    }
    assert shown == set()
    assert [(r["asset"], r["column"], r["metric"]) for r in built["monitors"] if r["state"] == "alert"] == []


def test_chart_writes_png_and_svg_and_refuses_bad_names(built):
    ws, project = built["ws"], built["project"]
    png = project.parent / "charts" / "rows.png"
    shown = weir(ws, project, "chart", "raw", "--metric", "row_count", "--out", str(png)).stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"{DAYS} partitions" in shown
    svg = project.parent / "charts" / "mean.svg"
    weir(ws, project, "chart", "clean", "--column", "value", "--metric", "mean", "--out", str(svg))
    text = svg.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    bad = weir(ws, project, "chart", "raw", "--metric", "row_count", "--out", str(project.parent / "x.jpg"), expect=2)
    assert "x.jpg" in bad.stderr and ".png" in bad.stderr
    assert not (project.parent / "x.jpg").exists()
    unknown = weir(ws, project, "chart", "raw", "--metric", "median", "--out", str(project.parent / "m.png"), expect=2)
    assert "'median'" in unknown.stderr
    assert not (project.parent / "m.png").exists()


# -- anomalies on the newest day --------------------------------------------------------------------


def test_a_sudden_change_alerts_on_its_series(backend, make_project, workspace_dir):
    project = make_project({"assets.py": daily_project()})
    land_history(project)
    with Workspace(workspace_dir, project) as ws:
        first = ws.runs.run(RunRequest(executor="inprocess"))
        assert first.state == "succeeded" and first.signals == {}
        assert ws.monitors.signals(alerts_only=True) == []
        land_day(project, DAYS, scale=60)  # every value x60
        second = ws.runs.run(RunRequest(executor="inprocess", stale=True))
        assert second.state == "succeeded" and second.per_asset == {"clean": {"succeeded": 1}}
        stored = ws.monitors.signals(alerts_only=True)
        assert {s["partition_key"] for s in stored} == {key(DAYS)}
        found = alerts_of(stored)
        for asset in ("raw", "clean"):
            assert (asset, key(DAYS), "spc", "value", "mean") in found
            [mean] = [s for s in stored if (s["asset"], s["column_name"], s["metric"], s["kind"]) == (asset, "value", "mean", "spc")]
            assert mean["method"] == "shewhart" and mean["direction"] == "up" and mean["run_id"] == second.run_id
            assert mean["value"] > mean["upper"] > mean["center"] > mean["lower"]
            assert 95 < mean["center"] < 105
        assert ("raw", key(DAYS), "spc", "", "row_count") not in found  # the row count did not change
        assert second.signals == count_alerts(stored)


def test_a_halved_row_count_alerts_and_ingest_and_run_json_count_it(make_project, workspace_dir):
    project = make_project({"assets.py": daily_project()})
    build(project, workspace_dir)
    land_day(project, DAYS, n=100)
    with Workspace(workspace_dir, project) as ws:  # what ``weir ingest raw --json`` prints
        [row] = ws.quality.ingest("raw", [key(DAYS)])
        raw_alerts = ws.monitors.signals("raw", alerts_only=True)
    assert row["state"] == "accepted" and row["checked_now"] is True and row["rows"] == 100
    assert ("raw", key(DAYS), "spc", "", "row_count") in alerts_of(raw_alerts)
    assert row["signals"] == len(raw_alerts) >= 1
    # the build reads the partition already judged: only the asset's new points are counted
    run = weir_json(workspace_dir, project, "run", "--stale", "--executor", "inprocess")
    assert run["state"] == "succeeded" and run["sources"] == {}
    listed = weir_json(workspace_dir, project, "monitors", "--signals", "--alerts")
    clean_alerts = [s for s in listed if s["asset"] == "clean"]
    assert ("clean", key(DAYS), "spc", "", "row_count") in alerts_of(clean_alerts)
    assert run["signals"] == {"clean": {key(DAYS): len(clean_alerts)}}
    assert {s["run_id"] for s in clean_alerts} == {run["run_id"]}
    assert len(listed) - len(clean_alerts) == row["signals"]  # the source's alerts are not judged again
    [rc] = [s for s in listed if (s["asset"], s["metric"]) == ("raw", "row_count")]
    assert rc["kind"] == "spc" and rc["method"] == "shewhart" and rc["direction"] == "down"
    assert rc["value"] == 100.0 and rc["value"] < rc["lower"] and rc["center"] == pytest.approx(200.0)
    # the point carries its signal and the limits it was judged against
    points = weir_json(workspace_dir, project, "metrics", "raw", "--metric", "row_count")
    last = points[-1]
    assert last["partition"] == key(DAYS) and last["value"] == 100.0
    assert last["center"] == pytest.approx(200.0) and last["value"] < last["lower"]
    assert {"method": "shewhart", "rule": rc["rule"], "severity": "alert", "direction": "down"} in last["signals"]
    assert all(p["signals"] == [] for p in points[:-1])


def test_a_vanished_category_drifts_and_a_renamed_column_is_a_schema_change(make_project, workspace_dir):
    project = make_project({"assets.py": daily_project(with_asset=False)})
    land_history(project)
    with Workspace(workspace_dir, project) as ws:
        assert len(ws.quality.ingest("raw")) == DAYS
        assert ws.monitors.signals(alerts_only=True) == []
        land_day(project, DAYS, categories=("a", "b"))  # 'c' (a third of the rows) is gone
        [row] = ws.quality.ingest("raw", [key(DAYS)])
        stored = ws.monitors.signals("raw", key(DAYS), alerts_only=True)
        assert row["signals"] == len(stored)
        drift = [s for s in stored if s["kind"] == "drift"]
        assert [(s["column_name"], s["metric"], s["severity"], s["direction"]) for s in drift] == [
            ("category", "drift_score", "alert", "up")]
        assert "vanished 'c'" in drift[0]["rule"]
        assert drift[0]["details"]["statistics"]["vanished"] == [["c", pytest.approx(1 / 3, abs=0.01)]]
        assert drift[0]["details"]["statistic"] in ("psi", "js_distance")
        assert drift[0]["details"]["effect"] >= drift[0]["details"]["threshold"]
        assert not any(s["column_name"] in ("value", "id", "ts") for s in stored)
        # the next day the column is renamed
        land_day(project, DAYS + 1, category_column="kind")
        [row] = ws.quality.ingest("raw", [key(DAYS + 1)])
        assert row["state"] == "accepted"
        [schema] = [s for s in ws.monitors.signals("raw", key(DAYS + 1)) if s["kind"] == "schema"]
        assert schema["severity"] == "alert" and schema["column_name"] == "category"
        assert schema["details"]["added"] == ["kind"] and schema["details"]["removed"] == ["category"]
        assert schema["details"]["retyped"] == {}
        assert "added kind" in schema["rule"] and "removed category" in schema["rule"]
        assert row["signals"] >= 1
        listed = ws.monitors.signals("raw", alerts_only=True)
    assert {(s["partition_key"], s["kind"], s["column_name"]) for s in listed} >= {
        (key(DAYS), "drift", "category"), (key(DAYS + 1), "schema", "category")}
    assert [s["partition_key"] for s in listed] == sorted((s["partition_key"] for s in listed), reverse=True)  # newest first


@pytest.mark.parametrize("history, alerts", [(13, False), (14, True)])
def test_no_alert_during_warm_up(make_project, workspace_dir, history, alerts):
    """The baseline needs 14 earlier points: a 60-fold jump on the 14th day passes unflagged,
    on the 15th it alerts."""
    project = make_project({"assets.py": daily_project(with_asset=False)})
    land_history(project, history)
    land_day(project, history, scale=60)
    with Workspace(workspace_dir, project) as ws:
        rows = ws.quality.ingest("raw")
        assert len(rows) == history + 1
        found = alerts_of(ws.monitors.signals(alerts_only=True))
        assert (("raw", key(history), "spc", "value", "mean") in found) is alerts
        if not alerts:
            assert found == set() and all(r["signals"] == 0 for r in rows)
            mean = ws.monitors.metrics("raw", column="value", metric="mean")
            assert all(p["center"] is None and p["lower"] is None and p["signals"] == [] for p in mean)
            states = {(m["column"], m["metric"]): m["state"] for m in ws.monitors.states("raw")}
            assert states[("value", "mean")] == "warming up" and states[("", "row_count")] == "warming up"


# -- settings ---------------------------------------------------------------------------------------

def test_muted_series_stay_silent_and_named_extremes_are_monitored(make_project, workspace_dir):
    """``weir.mute`` in Python on the source and ``mute`` in checks.yml on the asset silence
    (value, mean) while the column's other series still alert; naming an extreme (``p99``)
    makes it monitored, not muted, on that asset only."""
    checks = "clean:\n  monitors:\n    - mute: {metric: mean, column: value}\n    - monitor: {metric: p99, column: value}\n"
    source = ', monitors=[weir.mute("mean", column="value")]'
    project = make_project({"assets.py": daily_project(source=source), "checks.yml": checks})
    build(project, workspace_dir)
    land_day(project, DAYS, scale=60)
    with Workspace(workspace_dir, project) as ws:
        assert [(m.metric, m.column, m.mute) for m in ws.project.assets["clean"].monitors] == [
            ("mean", "value", True), ("p99", "value", False)]
        run = ws.runs.run(RunRequest(executor="inprocess", stale=True))
        assert set(run.signals) == {"raw", "clean"}
        signals = ws.monitors.signals()
        mean = ws.monitors.metrics("raw", column="value", metric="mean")
    states = {(r["asset"], r["column"], r["metric"]): r for r in weir_json(workspace_dir, project, "monitors")}
    for asset in ("raw", "clean"):
        assert states[(asset, "value", "mean")]["state"] == "muted" and states[(asset, "value", "mean")]["muted"] is True
        assert states[(asset, "value", "std")]["state"] == "alert"
    assert states[("clean", "value", "p99")]["state"] == "alert" and states[("clean", "value", "p99")]["muted"] is False
    assert states[("raw", "value", "p99")]["state"] == "muted"  # extremes stay muted where nothing names them
    assert not [s for s in signals if (s["column_name"], s["metric"]) == ("value", "mean")]
    found = alerts_of(signals)
    assert {("raw", key(DAYS), "spc", "value", "std"), ("clean", key(DAYS), "spc", "value", "std"),
            ("clean", key(DAYS), "spc", "value", "p99")} <= found
    assert not any(a[0] == "raw" and a[4] == "p99" for a in found)
    assert run.signals == count_alerts(signals)
    assert all(p["muted"] is True and p["signals"] == [] and p["center"] is None for p in mean)


def test_weir_monitor_in_a_project_survives_the_monitor_engine_being_imported(tmp_path):
    """``weir.monitor(...)`` is the documented setting. Importing the monitor engine (every
    build, ``weir chart``, any long-lived process) must not replace it with a package of the
    same name, or projects using it fail to load: in-process, and in ``weir chart``."""
    importlib.import_module("weir.monitoring.evaluator")  # what a build or ``weir chart`` imports

    source = ', monitors=[weir.mute("mean", column="value"), weir.monitor("p99", column="value", sigma=6)]'
    project = write_project(tmp_path / "proj", {"assets.py": daily_project(source=source, with_asset=False)})
    settings = load_project(project).sources["raw"].monitors
    assert [(s.metric, s.column, s.mute, s.sigma) for s in settings] == [("mean", "value", True, None),
                                                                         ("p99", "value", False, 6)]
    land_day(project, 0)
    weir(tmp_path / "ws", project, "ingest", "raw")
    out = tmp_path / "p99.png"
    weir(tmp_path / "ws", project, "chart", "raw", "--column", "value", "--metric", "p99", "--out", str(out))
    assert out.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("clean:\n  monitors:\n    - silence: {metric: std}\n", 3, "unknown monitor setting 'silence'"),
        ("clean:\n  monitors:\n    - mute: {metric: std}\n    - monitor: {metric: mean, sigma: -1}\n", 4,
         "sigma=-1 must be a positive number"),
        ("clean:\n  monitors:\n    - monitor: {metric: mean, sigma: wide}\n", 3, "sigma='wide'"),
        ("clean:\n  monitors:\n    - monitor: {metric: mean, methods: [shewart]}\n", 3, "'shewart'"),
        ("clean:\n  monitors:\n    - mute: {metric: std, sigma: 3}\n", 3, "sigma"),
        ("raw:\n  monitors:\n    - drift: {column: category, first: '2024-01-01'}\n", 3, "needs both first and last"),
        ("clean:\n  monitors:\n    mute: {metric: std}\n", 3, "monitors must be a list"),
    ],
)
def test_bad_monitor_settings_in_checks_yml_exit_2_naming_the_line(tmp_path, text, line, message):
    project = write_project(tmp_path / "proj", {"assets.py": daily_project(), "checks.yml": text})
    bad = weir(tmp_path / "ws", project, "monitors", expect=2)
    assert f"checks.yml:{line}" in bad.stderr and message in bad.stderr, bad.stderr
    assert not (tmp_path / "ws").exists()  # nothing written


# -- what later baselines are made of ---------------------------------------------------------------

QUARANTINING = ', checks=[weir.checks.in_range("value", max=150, severity="block")]'


def test_quarantined_and_alerted_points_stay_out_of_later_baselines(backend, make_project, workspace_dir):
    """Day 40 has one value of 151: the asset blocks it (quarantined) while the source accepts
    it; nothing alerts. Day 41 is x60: it alerts. Day 42 is normal and must not alert, and its
    centre line must be the one day 40 was judged against on the asset (both days left out)
    and on the source the one day 41 was judged against (day 41 left out, day 40 in)."""
    project = make_project({"assets.py": daily_project(asset=QUARANTINING)})
    build(project, workspace_dir)
    land_day(project, DAYS, first_value=151.0)
    land_day(project, DAYS + 1, scale=60)
    land_day(project, DAYS + 2)
    with Workspace(workspace_dir, project) as ws:
        blocked = ws.runs.run(RunRequest(executor="inprocess", partition=key(DAYS)))
        assert blocked.per_asset == {"clean": {"blocked": 1}} and blocked.signals == {}
        measured = ws.monitors.metrics("clean", first=key(DAYS), last=key(DAYS))
        assert {p["quarantined"] for p in measured if p["metric"] != "drift_score"} == {True}
        assert {p["quarantined"] for p in ws.monitors.metrics("raw", first=key(DAYS), last=key(DAYS))} == {False}
        anomaly = ws.runs.run(RunRequest(executor="inprocess", partition=key(DAYS + 1)))
        assert set(anomaly.signals) == {"raw", "clean"}
        assert ("raw", key(DAYS + 1), "spc", "value", "mean") in alerts_of(ws.monitors.signals(alerts_only=True))
        normal = ws.runs.run(RunRequest(executor="inprocess", partition=key(DAYS + 2)))
        assert normal.state == "succeeded" and normal.signals == {}
        assert [s for s in ws.monitors.signals(alerts_only=True) if s["partition_key"] == key(DAYS + 2)] == []

        def centres(asset):
            points = {p["partition_key"]: p for p in ws.monitors.metrics(asset, column="value", metric="mean")}
            return [points[key(i)]["center"] for i in (DAYS, DAYS + 1, DAYS + 2)]

        def expected(asset, skipped):
            """The forecast for day 42 from the stored values with the ``skipped`` days left out."""
            points = {p["partition_key"]: p["value"] for p in ws.monitors.metrics(asset, column="value", metric="mean")}
            values = [None if i in skipped else points.get(key(i)) for i in range(DAYS + 3)]
            return forecast.chart(values, period=7)[-1]["center"]

        _, _, c42 = centres("clean")
        assert c42 == pytest.approx(expected("clean", {DAYS, DAYS + 1}), rel=1e-12)  # both days left out
        s40, _, s42 = centres("raw")
        assert s42 == pytest.approx(expected("raw", {DAYS + 1}), rel=1e-12)  # the source's day 40 did count
        assert s42 != pytest.approx(expected("raw", {DAYS, DAYS + 1}), rel=1e-9)
        assert abs(s42 - s40) < 1 and 95 < s42 < 105  # x60 would have pulled it by about 200
        limits = {p["partition_key"]: p for p in ws.monitors.metrics("raw", column="value", metric="mean")}[key(DAYS + 2)]
        assert limits["upper"] - limits["lower"] < 20 and limits["signals"] == []
        # every point measured on the blocked data is marked, the derived drift scores too, with its run
        drift = [p for p in measured if p["metric"] == "drift_score"]
        assert {p["column_name"] for p in drift} == {"id", "value", "category"}
        assert [(p["quarantined"], p["run_id"]) for p in drift] == [(True, blocked.run_id)] * 3


# -- seasonality ------------------------------------------------------------------------------------


def volume(i: int) -> int:
    """About 200 rows on weekdays, 100 on weekends."""
    weekend = (START + dt.timedelta(days=i)).weekday() >= 5
    return int(np.random.default_rng(5000 + i).normal(100 if weekend else 200, 4))


def test_weekends_at_half_volume_do_not_alert_once_weeks_of_history_show_the_pattern(make_project, workspace_dir):
    """Daily partitions are compared with the same weekday once the history shows the pattern.
    Delivered one day at a time (as they land), weekends at half volume must stop alerting
    once three weeks of history show them, while a weekday at weekend volume alerts."""
    project = make_project({"assets.py": daily_project(with_asset=False)})
    weeks = 8
    with Workspace(workspace_dir, project) as ws:
        for i in range(7 * weeks):
            land_day(project, i, n=volume(i))
            [row] = ws.quality.ingest("raw", [key(i)])
            assert row["state"] == "accepted"
        rows = {a[1] for a in alerts_of(ws.monitors.signals(alerts_only=True)) if a[4] == "row_count"}
        late_weekends = {key(i) for i in range(21, 7 * weeks) if (START + dt.timedelta(days=i)).weekday() >= 5}
        assert rows & late_weekends == set(), sorted(rows)
        monday = 7 * weeks
        land_day(project, monday, n=100)
        ws.quality.ingest("raw", [key(monday)])
        assert ("raw", key(monday), "spc", "", "row_count") in alerts_of(ws.monitors.signals(alerts_only=True))


@pytest.mark.parametrize(
    "yml, message",
    [
        ("raw:\n  monitors:\n    - mute: {metric: stdev}\n", "unknown metric 'stdev' (did you mean 'std'?)"),
        ("raw:\n  monitors:\n    - monitor: {metric: mean, column: amuont}\n", "column 'amuont', which the contract does not declare"),
    ],
)
def test_a_monitor_setting_that_can_never_match_fails_the_load_naming_checks_yml(tmp_path, yml, message):
    from conftest import write_project

    from weir.errors import ProjectError
    from weir.project.loader import load_project

    project = write_project(tmp_path / "p", {
        "assets.py": """
            import weir
            days = weir.daily(start="2024-01-01", end="2024-01-05")
            raw = weir.source("raw", path="l/{partition}.csv", partitions=days, columns={"amount": "float"})
        """,
        "checks.yml": yml,
    })
    with pytest.raises(ProjectError) as err:
        load_project(project)
    assert message in str(err.value) and "checks.yml:3" in str(err.value)


def test_a_user_metric_can_be_named_by_a_monitor_setting(tmp_path):
    from conftest import write_project

    from weir.project.loader import load_project

    project = write_project(tmp_path / "p", {
        "assets.py": """
            import weir
            days = weir.daily(start="2024-01-01", end="2024-01-05")
            raw = weir.source("raw", path="l/{partition}.csv", partitions=days, metrics={"big": "avg(amount)"},
                              monitors=[weir.monitor("big", sigma=6)])
        """,
    })
    assert load_project(project).sources["raw"].monitors[0].metric == "big"
