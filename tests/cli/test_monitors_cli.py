"""``weir monitors`` from the command line: signals filtered by partition range and grouped per
asset, partition and column; accepting a new normal; replaying the stored history with today's
settings. A daily source with six weeks in control, then six days of which three have their
values tripled (each a one-day anomaly), ingested for real."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import land_csv, write_project
from conftest import weir_cli as weir

from weir.cli.render import plural
from weir.monitoring.records import group_signals
from weir.workspace import Workspace

START = dt.date(2024, 1, 1)
DAYS = 40  # in control
SHIFTED = 6  # then six more days
SPIKES = (DAYS, DAYS + 2, DAYS + 4)  # whose values triple for one day each
SIGNAL_KEYS = {"asset", "partition", "kind", "column", "metric", "method", "rule", "value", "center", "lower", "upper",
               "severity", "direction", "details", "run_id", "created_at", "group"}
LINE = re.compile(r"^(alert|warn) +(\S+) on (\S+): (.+)$")


def key(i: int) -> str:
    return (START + dt.timedelta(days=i)).isoformat()


def source(monitors: str = "") -> str:
    return ('import weir\ndays = weir.daily(start="2024-01-01", end="2024-03-31")\n'
            f'raw = weir.source("raw", path="landing/{{partition}}.csv", partitions=days{monitors})\n')


def landed(root: Path) -> Path:
    """The project with every day landed: ``value`` ~ N(100, 10), tripled on the SPIKES days, and
    ``temp.c`` (a column with a dot) that stays in control."""
    project = write_project(root, {"assets.py": source()})
    for i in range(DAYS + SHIFTED):
        rng = np.random.default_rng(1000 + i)
        values = rng.normal(100, 10, 200) * (3.0 if i in SPIKES else 1.0)
        temps = rng.normal(20, 2, 200)
        land_csv(project, f"landing/{key(i)}.csv", [
            {"id": j, "value": round(float(values[j]), 4), "temp.c": round(float(temps[j]), 3)} for j in range(200)])
    return project


def ingested(root: Path) -> tuple[Path, Path]:
    project, ws = landed(root / "proj"), root / "ws"
    weir(ws, project, "ingest", "raw")
    return ws, project


def as_json(ws: Path, project: Path, *args: str, expect: int = 0):
    return json.loads(weir(ws, project, *args, "--json", expect=expect).stdout)


def stored(ws: Path, project: Path) -> tuple[list, list, list]:
    """Everything the monitors stored: signals, metric points with their states, resets."""
    with Workspace(ws, project, reading=True) as w:
        return (as_json(ws, project, "monitors", "--signals"), as_json(ws, project, "metrics", "raw"),
                w.monitors.baselines())


def lines(text: str) -> list[tuple[str, str, str, str]]:
    return [m.groups() for m in map(LINE.match, text.splitlines()) if m]


@pytest.fixture(scope="module")
def shifted(tmp_path_factory):
    ws, project = ingested(tmp_path_factory.mktemp("monitors-cli"))
    return {"ws": ws, "project": project, "signals": as_json(ws, project, "monitors", "--signals")}


# -- signals -----------------------------------------------------------------------------------------


def test_each_spike_alerts_on_its_day(shifted):
    alerted = {s["partition"] for s in shifted["signals"] if s["severity"] == "alert"}
    assert alerted == {key(i) for i in SPIKES}
    assert {s["column"] for s in shifted["signals"] if s["severity"] == "alert"} == {"value"}


def test_signals_json_lists_every_signal_flat_with_its_group(shifted):
    rows = shifted["signals"]
    assert rows and all(set(r) == SIGNAL_KEYS for r in rows)
    assert all(r["group"] == f"{r['asset']}|{r['partition']}|{r['column']}" for r in rows)
    with Workspace(shifted["ws"], shifted["project"], reading=True) as ws:
        assert len(rows) == len(ws.monitors.signals())


def test_signals_are_one_line_per_asset_partition_and_column_alerts_first(shifted, monkeypatch):
    monkeypatch.setattr("weir.cli.monitors.WARNINGS_LISTED", 0)  # the quiet fixture has only a warning or two
    rows = shifted["signals"]
    groups = {r["group"] for r in rows}
    alert_groups = {r["group"] for r in rows if r["severity"] == "alert"}
    warn_groups = groups - alert_groups
    assert warn_groups  # enough to collapse
    text = weir(shifted["ws"], shifted["project"], "monitors", "--signals").stdout
    shown = lines(text)
    assert [s for s, *_ in shown] == ["alert"] * len(alert_groups)  # warnings collapsed into one line
    assert [(series, part) for _, series, part, _ in shown] == [
        ("raw.value", key(i)) for i in reversed(SPIKES)]  # ASSET.COLUMN, newest first
    for _, _, part, message in shown:
        metrics = {r["metric"] for r in rows if r["group"] == f"raw|{part}|value"}
        lead = message.removeprefix("value ").split(" ", 1)[0]  # led by one of the column's signals
        assert lead in metrics or (lead == "distribution" and "drift_score" in metrics)
        assert "— also " in message and set(message.split("— also ")[1].split(", ")) <= metrics
    warnings = sum(1 for r in rows if r["group"] in warn_groups)
    assert f"and {plural(warnings, 'warning')} in {plural(len(warn_groups), 'more group')}" in text
    assert "'weir monitors --signals --all' lists them" in text
    every = lines(weir(shifted["ws"], shifted["project"], "monitors", "--signals", "--all").stdout)
    assert len(every) == len(groups)
    severities = [s for s, *_ in every]
    assert severities == sorted(severities)  # alerts, then warnings ("alert" < "warn")
    only_alerts = weir(shifted["ws"], shifted["project"], "monitors", "raw", "--signals", "--alerts").stdout
    assert len(lines(only_alerts)) == len(alert_groups) and "warning" not in only_alerts


def test_signals_from_to_bound_the_partitions(shifted):
    ws, project = shifted["ws"], shifted["project"]
    first, last = key(DAYS + 1), key(DAYS + 3)
    inside = [r for r in shifted["signals"] if first <= r["partition"] <= last]
    assert as_json(ws, project, "monitors", "--signals", "--from", first, "--to", last) == inside
    assert as_json(ws, project, "monitors", "raw", "--signals", "--from", first, "--to", last) == inside
    assert as_json(ws, project, "monitors", "--signals", "--from", first) == [
        r for r in shifted["signals"] if r["partition"] >= first]
    text = weir(ws, project, "monitors", "--signals", "--from", first, "--to", last, "--all").stdout
    assert {part for _, _, part, _ in lines(text)} == {r["partition"] for r in inside} and inside
    none = weir(ws, project, "monitors", "--signals", "--to", key(0)).stdout
    assert none.strip() == f"no signals to {key(0)}"


@pytest.mark.parametrize(("args", "message"), [
    (["--signals", "--from", "2024-13-01"], "'2024-13-01'"),
    (["raw", "--signals", "--to", "2025-06-01"], "'2025-06-01'"),
    (["--from", "2024-02-01"], "--from goes with --signals"),
    (["--all"], "--all goes with --signals"),
])
def test_bad_signal_ranges_exit_2_with_one_line(shifted, args, message):
    proc = weir(shifted["ws"], shifted["project"], "monitors", *args, expect=2)
    assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr


@pytest.mark.parametrize("args", [
    ["metrics", "raw"], ["metrics", "raw", "--metric", "row_count", "--json"], ["monitors", "--signals"],
    ["monitors", "raw", "--signals", "--json"], ["chart", "raw", "--metric", "row_count", "--out", "x.png"],
])
def test_a_range_that_runs_backwards_exits_2_naming_both_keys(shifted, args):
    proc = weir(shifted["ws"], shifted["project"], *args, "--from", key(10), "--to", key(3), expect=2)
    [line] = proc.stderr.strip().splitlines()
    assert f"--from {key(10)} comes after --to {key(3)}" in line and proc.stdout == ""


def test_a_range_partly_outside_what_is_measured_says_which_part_in_one_line(shifted):
    ws, project = shifted["ws"], shifted["project"]
    newest = key(DAYS + SHIFTED - 1)
    args = ["--from", key(DAYS), "--to", "2024-03-10"]  # in the source's range, past its newest delivery
    proc = weir(ws, project, "metrics", "raw", "--metric", "row_count", *args, "--json")
    assert [p["partition"] for p in json.loads(proc.stdout)] == [key(i) for i in range(DAYS, DAYS + SHIFTED)]
    [note] = proc.stderr.strip().splitlines()
    assert note == (f"note: --from {key(DAYS)} --to 2024-03-10: the part after {newest} is outside the partitions "
                    f"measured ({key(0)}..{newest})")
    signals = weir(ws, project, "monitors", "--signals", *args)
    assert signals.stderr == proc.stderr and lines(signals.stdout)
    inside = weir(ws, project, "metrics", "raw", "--from", key(1), "--to", key(5))
    assert inside.stderr == ""


def test_a_group_leads_with_the_monitors_sentence_and_names_the_other_metrics():
    def signal(metric: str, severity: str, value: float, details: dict | None = None) -> dict:
        return {"asset": "weather", "partition_key": "2013-07-04", "kind": "spc", "column_name": "temp_f",
                "metric": metric, "method": "shewhart", "rule": "1 point beyond 5σ", "value": value, "center": 64.5,
                "lower": 54.5, "upper": 74.5, "severity": severity, "direction": "down", "details": details}

    rows = [signal("max", "warn", 60.0), signal("min", "alert", 40.0),
            signal("mean", "alert", 24.4, {"message": "mean 24.4 lower than expected (64.5)"}),
            signal("p50", "warn", 50.0), {**signal("mean", "alert", 1.0), "column_name": "", "metric": "row_count"}]
    temp, table = sorted(group_signals(rows), key=lambda g: g.column, reverse=True)
    assert temp.series == "weather.temp_f" and temp.severity == "alert"
    assert temp.message == "mean 24.4 lower than expected (64.5)"  # furthest past its limit leads
    assert set(temp.also) == {"min", "max", "p50"} and temp.also[0] == "min"  # alerts before warnings
    assert table.series == "weather" and table.message == "row_count 1: 1 point beyond 5σ"


# -- accept ------------------------------------------------------------------------------------------


def test_accept_records_a_reset_and_judges_the_partitions_from_key_again(tmp_path):
    ws, project = ingested(tmp_path)
    before = {(r["partition"], r["metric"], r["method"]): r["created_at"] for r in as_json(ws, project, "monitors", "--signals")}
    row = as_json(ws, project, "monitors", "accept", "raw.temp.c.mean", "--from", key(DAYS + 2), "--note", "new sensor")
    assert row == {**row, "project": "demo", "asset": "raw", "column": "temp.c", "metric": "mean", "from": key(DAYS + 2),
                   "note": "new sensor", "rejudged": [key(i) for i in range(DAYS + 2, DAYS + SHIFTED)]}
    assert set(row) == {"id", "project", "asset", "column", "metric", "from", "note", "created_at", "actor", "rejudged"}
    assert row["actor"]  # who accepted it: the OS user at the CLI
    after = as_json(ws, project, "monitors", "--signals")
    for s in after:  # the partitions before KEY keep what was stored; those from KEY on were judged again
        if s["partition"] < key(DAYS + 2):
            assert s["created_at"] == before[(s["partition"], s["metric"], s["method"])]
        else:
            assert s["created_at"] >= row["created_at"]
    text = weir(ws, project, "monitors", "accept", "raw.row_count", "--from", key(DAYS + 4)).stdout
    assert text.strip() == f"accepted a new normal for series raw.row_count from {key(DAYS + 4)}; judged 2 partitions again"
    everything = weir(ws, project, "monitors", "accept", "raw", "--from", key(3)).stdout
    assert "every series of raw" in everything and f"judged {DAYS + SHIFTED - 3} partitions again" in everything
    with Workspace(ws, project, reading=True) as w:
        resets = w.monitors.baselines("raw")
    assert [(r["column_name"], r["metric"], r["from_key"], r["note"]) for r in resets] == [
        ("temp.c", "mean", key(DAYS + 2), "new sensor"), ("", "row_count", key(DAYS + 4), None), (None, None, key(3), None)]


@pytest.mark.parametrize(("series", "first", "message"), [
    ("raw.valu", key(DAYS), "'valu' (did you mean 'value'?)"),
    ("raw.value.mea", key(DAYS), "no metric 'mea'"),
    ("rawx.value", key(DAYS), "unknown asset 'rawx'"),
    ("raw.", key(DAYS), "'raw.'"),
    ("raw.value", "2024-13-01", "'2024-13-01'"),
    ("raw.value", "2025-01-01", "'2025-01-01'"),
])
def test_accept_of_an_unknown_series_or_a_bad_key_exits_2_and_changes_nothing(shifted, series, first, message):
    ws, project = shifted["ws"], shifted["project"]
    proc = weir(ws, project, "monitors", "accept", series, "--from", first, expect=2)
    assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr
    signals, _, resets = stored(ws, project)
    assert signals == shifted["signals"] and resets == []


# -- replay ------------------------------------------------------------------------------------------


def test_replay_prints_what_would_alert_and_stores_nothing(shifted):
    ws, project = shifted["ws"], shifted["project"]
    before = stored(ws, project)
    alerts = [r for r in shifted["signals"] if r["severity"] == "alert"]
    text = weir(ws, project, "monitors", "replay").stdout
    n = len(SPIKES)
    summary = f"would raise {len(alerts)} alerts on {n} partitions (stored now: {len(alerts)} alerts on {n} partitions)"
    assert f"raw: {summary}" in text
    [report] = as_json(ws, project, "monitors", "replay", "raw")
    assert set(report) == {"asset", "from", "counts", "partitions", "would", "stored"}
    assert report["counts"]["alerts"] == report["counts"]["stored_alerts"] == len(alerts)
    assert [p["partition"] for p in report["partitions"]] == [key(i) for i in reversed(SPIKES)]
    assert {p["mark"] for p in report["partitions"]} == {"unchanged"}
    assert all(set(s) == SIGNAL_KEYS for s in report["would"] + report["stored"])
    assert report["stored"] == shifted["signals"]
    [late] = as_json(ws, project, "monitors", "replay", "raw", "--from", key(DAYS + 4))
    assert late["from"] == key(DAYS + 4) and [p["partition"] for p in late["partitions"]] == [key(DAYS + 4)]
    assert late["stored"] == [r for r in shifted["signals"] if r["partition"] >= key(DAYS + 4)]
    assert stored(ws, project) == before


def test_replay_after_muting_a_column_marks_its_alerts_gone(tmp_path):
    ws, project = ingested(tmp_path)
    before = stored(ws, project)
    (project / "assets.py").write_text(source(', monitors=[weir.mute(column="value")]'))
    [report] = as_json(ws, project, "monitors", "replay")  # every source and asset: here the one source
    assert report["asset"] == "raw" and report["counts"]["alerts"] == 0
    assert {p["mark"] for p in report["partitions"]} == {"gone"} and len(report["partitions"]) == len(SPIKES)
    assert all(p["alerts"] == [] and "value.mean" in p["stored"] for p in report["partitions"])
    text = weir(ws, project, "monitors", "replay", "raw").stdout
    assert "raw: would raise 0 alerts on 0 partitions (stored now:" in text
    assert text.count("gone") == len(SPIKES)
    assert stored(ws, project) == before
    bad = weir(ws, project, "monitors", "replay", "raw", "--from", "2024-02-31", expect=2)
    assert len(bad.stderr.strip().splitlines()) == 1 and "'2024-02-31'" in bad.stderr


def test_signals_of_an_ingest_carry_its_id(shifted):
    """``weir ingest`` records what it checks under one id, as a run does: the source decisions,
    their events and the monitor signals raised on them."""
    ws, project = shifted["ws"], shifted["project"]
    ids = {s["run_id"] for s in shifted["signals"]}
    assert len(ids) == 1 and next(iter(ids)).startswith("ingest-")
    [ingest_id] = ids
    again = as_json(ws, project, "ingest", "raw")  # judged before: each says which ingest judged it
    assert again and {a["run_id"] for a in again} == {ingest_id} and not any(a["checked_now"] for a in again)
    admitted = [e for e in as_json(ws, project, "events", "--kind", "source_admitted", "--limit", "1000")]
    assert len(admitted) == DAYS + SHIFTED and {e["run_id"] for e in admitted} == {ingest_id}
    raised = as_json(ws, project, "events", "--kind", "signal_raised", "--limit", "1000")
    assert raised and {e["run_id"] for e in raised} == {ingest_id}


# -- metrics ---------------------------------------------------------------------------------------

POINT_KEYS = {"asset", "partition", "column", "metric", "value", "quarantined", "run_id", "measured_at", "center",
              "lower", "upper", "signals", "muted", "state", "model"}


def test_metrics_json_is_one_lean_record_per_point(shifted):
    """Every point carries the documented keys and nothing else, one compact record per line:
    the size grows with the number of points, not with what the monitors keep behind them."""
    out = weir(shifted["ws"], shifted["project"], "metrics", "raw", "--json").stdout
    points = json.loads(out)
    assert len(points) > 300
    assert all(set(p) == POINT_KEYS for p in points)
    signals = [s for p in points for s in p["signals"]]
    assert signals and all(set(s) == {"method", "rule", "severity", "direction"} for s in signals)
    assert len(out.splitlines()) == len(points) + 2  # "[", one line per point, "]"
    assert len(out) <= 330 * len(points)
