"""The forecast chart: trends and seasons are normal, a level shift raises one alert and becomes
the new normal, exclusion cannot freeze a baseline, and the calibrated limits alert at the stated
low rate on simulated in-control series; plus the partition rules (a repeated delivery, a stuck
column)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from weir.errors import ConfigError
from weir.monitoring import forecast, patterns, spc
from weir.monitoring.policy import CLASSIC


def alerts(rows: list[dict]) -> list[int]:
    return [r["index"] for r in rows if any(s.severity == "alert" for s in r["signals"])]


def signals(rows: list[dict], severity: str | None = None) -> list[tuple[int, str]]:
    return [(r["index"], s.rule) for r in rows for s in r["signals"] if severity in (None, s.severity)]


def seasonal_year(seed: int) -> list[float]:
    """A daily mean temperature: 50 ± 20 over the year, noise 0.5."""
    t = np.arange(365)
    rng = np.random.default_rng(seed)
    return list(50 - 20 * np.cos(2 * np.pi * t / 365) + rng.normal(0, 0.5, t.size))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_smooth_seasonal_trend_with_small_noise_raises_no_alert_over_a_year(seed):
    values = seasonal_year(seed)
    assert alerts(forecast.chart(values, period=7)) == []
    # the individuals chart with moving-range limits alerts on most of the year: the trend leaves its band
    assert len(alerts(spc.chart(values, period=7, config=CLASSIC))) > 30


def test_a_level_shift_raises_one_alert_and_becomes_the_new_normal():
    rng = np.random.default_rng(7)
    values = list(rng.normal(100, 1, 60)) + list(rng.normal(130, 1, 60))
    rows = forecast.chart(values, period=7)
    assert alerts(rows) == [60]
    confirm = forecast.ForecastConfig().confirm
    assert [i for i, _ in signals(rows, "warn") if i < 60 + confirm] == list(range(61, 60 + confirm))
    assert signals(rows)[confirm - 1] == (60 + confirm - 1, "level shift: new normal")
    for r in rows[60 + confirm:]:
        assert abs(r["center"] - 130) < 3  # the baseline re-formed on the new level
    assert alerts(rows[60 + confirm:]) == []


def test_exclusion_cannot_freeze_the_baseline():
    """A level that moves away step by step (each step beyond the limits): flagged points stay out
    of the baseline only until ``confirm`` of them in a row say it is the new normal, so the
    centre line follows within the window instead of staying where it was."""
    rng = np.random.default_rng(11)
    values = list(rng.normal(0, 1, 50)) + [20.0 * (1 + i // 10) + rng.normal(0, 1) for i in range(100)]
    rows = forecast.chart(values, period=None)
    confirm = forecast.ForecastConfig().confirm
    for r in rows[50:]:
        level = 20.0 * (1 + (r["index"] - 50) // 10)
        since_step = (r["index"] - 50) % 10
        if since_step >= confirm:
            assert abs(r["center"] - level) < 5, (r["index"], r["center"], level)
    assert len(alerts(rows)) <= 10  # one per step at most


def test_a_change_of_spread_also_becomes_the_new_normal():
    rng = np.random.default_rng(3)
    values = list(rng.normal(0, 1, 60)) + list(rng.normal(0, 25, 120))
    rows = forecast.chart(values, period=None)
    late = alerts(rows[120:])
    assert len(late) <= 2, late  # the wider spread is learnt, not alerted on for months


def test_an_accepted_reset_starts_the_baseline_again():
    rng = np.random.default_rng(5)
    values = list(rng.normal(100, 1, 60)) + list(rng.normal(50, 1, 30))
    assert alerts(forecast.chart(values, period=7)) == [60]
    assert alerts(forecast.chart(values, period=7, resets=[60])) == []


@pytest.mark.parametrize(("name", "draw", "most"), [
    ("normal", lambda rng, n: rng.normal(0, 1, n), 2.0),
    ("student t, 5 df", lambda rng, n: rng.standard_t(5, n), 5.0),
    ("poisson counts", lambda rng, n: rng.poisson(5, n).astype(float), 2.0),
])
def test_calibrated_limits_alert_at_about_the_stated_rate_in_control(name, draw, most):
    """200 simulated in-control years per shape: alerts per point after warm-up stay within a
    small factor of ``alert_rate`` (2e-4), light tails below it and heavy tails above."""
    rng = np.random.default_rng(2024)
    config = forecast.ForecastConfig()
    points = flagged = 0
    for _ in range(200):
        rows = forecast.chart(list(draw(rng, 365)), period=7, config=config)[60:]
        points += len(rows)
        flagged += len(alerts(rows))
    rate = flagged / points
    assert rate <= most * config.alert_rate, (name, rate)


def test_a_day_is_judged_as_it_is_in_a_replay_of_the_whole_history():
    values = seasonal_year(4)
    values[200] += 15
    whole = forecast.chart(values, period=7)
    for k in (30, 120, 200, 201, 364):
        alone = forecast.chart(values[: k + 1], period=7)[-1]
        assert (alone["center"], alone["upper"], signals([alone])) == (whole[k]["center"], whole[k]["upper"],
                                                                        signals([whole[k]]))


def test_constant_series_are_silent_until_they_change_materially():
    config = forecast.ForecastConfig(material_relative=0.05)
    rows = forecast.chart([72.0] * 40 + [71.0] + [72.0] * 5 + [50.0], config=config)
    assert alerts(rows) == [46]  # one hour short is not worth an alert; 30% of the rows gone is
    assert [i for i, _ in signals(rows, "warn")] == [40]


def test_limits_come_with_the_model_that_drew_them():
    rows = forecast.chart(seasonal_year(1)[:40], period=7)
    assert rows[0]["center"] is None and rows[0]["model"] is None  # warming up
    assert rows[-1]["model"].startswith("level, trend") and rows[-1]["lower"] < rows[-1]["center"] < rows[-1]["upper"]


def test_invalid_configuration_is_refused():
    with pytest.raises(ConfigError, match="alert_rate"):
        forecast.ForecastConfig(alert_rate=0.1, warn_rate=0.01)
    with pytest.raises(ConfigError, match="methods"):
        forecast.ForecastConfig(methods=("ewma",))


# -- partition rules ------------------------------------------------------------------------------


def history(days: int, *, repeat_at: int | None = None, stuck_at: int | None = None) -> tuple[list[str], dict]:
    rng = np.random.default_rng(1)
    order = [f"2024-01-{i + 1:02d}" for i in range(days)]
    series: dict = {("", "row_count"): {}, ("temp", "mean"): {}, ("temp", "std"): {}, ("temp", "min_offset_s"): {}}
    for i, key in enumerate(order):
        series[("", "row_count")][key] = 72.0
        series[("temp", "mean")][key] = float(rng.normal(50, 3))
        series[("temp", "std")][key] = float(abs(rng.normal(4, 1)))
        series[("temp", "min_offset_s")][key] = 0.0 if i != repeat_at else -86400.0
    if repeat_at is not None:
        for (col, m), by_key in series.items():
            if m != "min_offset_s":
                by_key[order[repeat_at]] = by_key[order[repeat_at - 1]]
    if stuck_at is not None:
        series[("temp", "std")][order[stuck_at]] = 0.0
    return order, series


def test_a_delivery_identical_to_the_one_before_is_a_repeat():
    order, series = history(20, repeat_at=15)
    assert patterns.repeats(order, series, set(), order[10:]) == {order[15]: order[14]}


def test_data_that_is_the_same_every_day_is_no_repeat():
    order = [f"2024-01-{i + 1:02d}" for i in range(20)]
    series = {("", "row_count"): dict.fromkeys(order, 72.0), ("x", "mean"): dict.fromkeys(order, 1.5)}
    assert patterns.repeats(order, series, set(), order) == {}


def test_a_column_with_one_value_on_every_row_is_stuck_when_it_usually_varies():
    order, series = history(20, stuck_at=16)
    assert patterns.stuck(order, series, set(), order[10:]) == {order[16]: [("temp", series[("temp", "mean")][order[16]])]}
    order, series = history(5, stuck_at=4)
    assert patterns.stuck(order, series, set(), order) == {}  # too little history to know what is usual


def test_messages_say_how_far_and_which_way_in_the_datas_units():
    assert patterns.message("temp_f", "mean", 24.4, 64.5) == "temp_f mean 40.1 lower than expected (24.4 vs 64.5, ×0.378)"
    assert patterns.message("", "row_count", 1440.0, 720.0) == "row_count 720 higher than expected (1440 vs 720, ×2)"
    assert patterns.message("x", "mean", 101.0, 100.0) == "x mean 1 higher than expected (101 vs 100)"


def test_a_saved_state_resumes_exactly_where_the_chart_left_off():
    values = seasonal_year(6)
    values[150] += 20
    whole = forecast.chart(values, period=7)
    chart = forecast.Chart(forecast.ForecastConfig(), 7)
    for t in range(120):
        chart.step(t, values[t])
    saved = json.loads(json.dumps(chart.to_json()))  # as stored: JSON
    resumed = forecast.Chart.from_json(saved, forecast.ForecastConfig(), 7, shift=1000)  # positions indexed afresh
    for t in range(120, 365):
        row = resumed.step(t + 1000, values[t])
        assert row["center"] == pytest.approx(whole[t]["center"], rel=1e-12)
        assert row["upper"] == pytest.approx(whole[t]["upper"], rel=1e-12)
        assert [s.rule for s in row["signals"]] == [s.rule for s in whole[t]["signals"]]


def test_partitions_judged_one_by_one_are_judged_as_a_replay_judges_them(tmp_path):
    """Ingested day by day, each day resumes the saved chart states: what was stored (expected
    values, limits, alerts) is what a replay of the whole history finds."""
    from conftest import land_csv, write_project

    from weir.workspace import Workspace

    text = ('import weir\ndays = weir.daily(start="2024-01-01", end="2024-12-31")\n'
            'raw = weir.source("raw", path="landing/{partition}.csv", partitions=days)\n')
    project = write_project(tmp_path / "p", {"assets.py": text})
    keys = [f"2024-{m:02d}-{d:02d}" for m in (1, 2, 3) for d in range(1, 29)][:70]
    with Workspace(tmp_path / "ws", project) as ws:
        for i, key in enumerate(keys):
            rng = np.random.default_rng(i)
            values = rng.normal(100 + 0.3 * i, 5, 60) * (3 if i == 55 else 1)
            land_csv(project, f"landing/{key}.csv", [{"v": round(float(v), 3)} for v in values])
            ws.quality.ingest("raw", [key])
        stored = {(p["partition_key"], p["metric"]): p for p in ws.monitors.metrics("raw", column="v")}
        alerts = {(s["partition_key"], s["column_name"], s["metric"]) for s in ws.monitors.signals("raw", alerts_only=True)}
        replayed = {(s["partition_key"], s["column_name"], s["metric"]) for s in ws.monitors.replay("raw")
                    if s["severity"] == "alert"}
        runner = ws.monitors.runner()
        history = runner.history("raw")
        charts = {(c, m): rows for c, m, _, rows in runner.charts("raw", history) if rows is not None and c == "v"}
    assert ("2024-02-28", "v", "mean") in alerts
    assert alerts == replayed
    for (col, metric), rows in charts.items():
        for key, row in zip(history.order, rows):
            point = stored.get((key, metric))
            if point is None or row is None or row["center"] is None:
                continue
            assert point["center"] == pytest.approx(row["center"], rel=1e-9), (key, metric)
            assert point["upper"] == pytest.approx(row["upper"], rel=1e-9), (key, metric)


def test_a_column_with_no_value_on_one_day_is_no_schema_change(tmp_path):
    """An all-null column (a gust sensor with no gusts all day) has no type that day; the days
    around it do not read as retyped."""
    from conftest import land_csv, write_project

    from weir.workspace import Workspace

    text = ('import weir\ndays = weir.daily(start="2024-01-01", end="2024-12-31")\n'
            'raw = weir.source("raw", path="landing/{partition}.csv", partitions=days)\n')
    project = write_project(tmp_path / "p", {"assets.py": text})
    with Workspace(tmp_path / "ws", project) as ws:
        for i in range(1, 5):
            gust = "" if i == 3 else 20.5 + i
            land_csv(project, f"landing/2024-01-0{i}.csv", [{"v": float(j), "gust": gust} for j in range(5)])
            ws.quality.ingest("raw", [f"2024-01-0{i}"])
        schema = [s for s in ws.monitors.signals("raw") if s["kind"] == "schema"]
    assert schema == []


def test_a_point_resolved_as_a_false_alarm_goes_back_into_the_baseline():
    rng = np.random.default_rng(9)
    values = list(rng.normal(100, 1, 60)) + [130.0]
    kept, freed = forecast.Chart(forecast.ForecastConfig(), 7), forecast.Chart(forecast.ForecastConfig(), 7)
    for t, v in enumerate(values):
        row = kept.step(t, v)
        freed.step(t, v, normal=t == 60)
    assert alerts([row]) == [60]  # it alerted when it came
    assert 60 not in kept.usable and 60 in freed.usable
    assert freed.calm[-1] is True and kept.calm[-1] is False
