"""No new normal while an incident holds the series: the forecast chart fed held points judges
each against the last good history and keeps it out of its state."""

from __future__ import annotations

import numpy as np
import pytest

from weir.errors import ConfigError
from weir.monitoring import forecast


def in_control(n: int, seed: int = 7) -> list[float]:
    return list(np.random.default_rng(seed).normal(100, 1, n))


def test_held_shifted_points_each_alert_and_the_next_point_is_judged_against_the_level_before():
    values = in_control(60) + list(np.random.default_rng(8).normal(130, 1, 5)) + [100.0]
    rows = forecast.chart(values, held=[False] * 60 + [True] * 5 + [False])
    assert [[(s.method, s.rule, s.severity) for s in r["signals"]] for r in rows[60:65]] == [
        [("shewhart", "outside the expected range", "alert")]] * 5
    assert abs(rows[65]["center"] - 100) < 1.5 and rows[65]["signals"] == []
    # the same points unheld: one alert, then the new normal
    unheld = forecast.chart(values)
    assert [s.rule for r in unheld[60:65] for s in r["signals"] if s.severity == "alert"] == ["outside the expected range"]
    assert any("new normal" in s.rule for r in unheld[60:65] for s in r["signals"])


def test_a_held_point_leaves_the_chart_state_as_it_was():
    """Not in the baseline, the errors, a run or the CUSUM: in range or out, low or high."""
    chart = forecast.Chart(forecast.ForecastConfig(), 7)
    for t, x in enumerate(in_control(80)):
        chart.step(t, x)
    before = chart.to_json()
    for t, x in enumerate([100.5, 160.0, 40.0, 101.0], start=80):
        row = chart.step(t, x, held=True)
        assert row["center"] is not None
        after = chart.to_json()
        assert {k: v for k, v in after.items() if k != "last"} == {k: v for k, v in before.items() if k != "last"}


def test_a_chart_rejects_a_held_mask_of_another_length():
    with pytest.raises(ConfigError, match="held has 2 entries for 3 points"):
        forecast.chart([1.0, 2.0, 3.0], held=[True, False])
