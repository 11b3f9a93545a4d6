"""Statistical process control: each rule on hand-made values, warm-up, exclusions, seasonality,
and the false-alarm rate of the default configuration on simulated in-control series."""

from __future__ import annotations

import math

import numpy as np
import pytest

from weir.errors import ConfigError
from weir.monitoring.rules import (
    beyond_limit,
    cusum_statistics,
    ewma_limit,
    ewma_statistics,
    four_of_five,
    run_of_eight,
    two_of_three,
)
from weir.monitoring.seasonality import is_seasonal, seasonal_levels, seasonal_residuals
from weir.monitoring.spc import SpcConfig, baseline, chart, evaluate

# 30 points alternating 101, 99: centre 100, every moving range 2, ends on 99 (below centre)
STEADY = [101.0, 99.0] * 15


def at(history: list[float], z: float) -> float:
    """The value whose calibrated z is ``z`` against the baseline of ``history``."""
    b = baseline(history)
    assert b is not None
    return b.limits(abs(z))[z > 0] if z else b.center


def extend(history: list[float], zs: list[float]) -> list[float]:
    """``history`` followed by points at the given z, each against the points before it."""
    out = list(history)
    for z in zs:
        out.append(at(out, z))
    return out


def rules(signals) -> set[str]:
    return {s.rule for s in signals}


def noise(seed: int, n: int, mean: float = 0.0) -> list[float]:
    return list(mean + np.random.default_rng(seed).standard_normal(n))


# -- the rules on standardized values --------------------------------------------------------------

def test_rule_1_fires_on_the_last_point_beyond_3_sigma_only():
    assert beyond_limit([0.0, 3.1]) == (1,)
    assert beyond_limit([0.0, -3.1]) == (1,)
    assert beyond_limit([3.5, 2.9]) == ()
    assert beyond_limit([]) == ()


def test_rule_2_needs_two_of_three_beyond_2_sigma_on_one_side_including_the_last():
    assert two_of_three([2.5, 0.0, 2.1]) == (0, 2)
    assert two_of_three([0.0, 2.5, 2.1]) == (1, 2)
    assert two_of_three([2.5, 0.0, -2.1]) == ()  # opposite sides
    assert two_of_three([2.5, 2.5, 0.0]) == ()  # the last point is not among them
    assert two_of_three([2.5, 0.0, 0.0, 2.1]) == ()  # 2 of the last 4, not of 3


def test_rule_3_needs_four_of_five_beyond_1_sigma_on_one_side_including_the_last():
    assert four_of_five([1.5, 1.2, 0.0, 1.1, 1.3]) == (0, 1, 3, 4)
    assert four_of_five([-1.5, -1.2, -1.1, -1.3, -1.01]) == (0, 1, 2, 3, 4)
    assert four_of_five([1.5, 0.0, 0.0, 1.1, 1.3]) == ()
    assert four_of_five([1.5, 1.2, 1.1, 1.3, 0.5]) == ()


def test_rule_4_needs_eight_in_a_row_on_one_side():
    assert run_of_eight([0.1] * 8) == tuple(range(8))
    assert run_of_eight([-5.0] + [0.1] * 8) == tuple(range(1, 9))
    assert run_of_eight([0.1] * 7) == ()
    assert run_of_eight([0.1] * 7 + [-0.1]) == ()
    assert run_of_eight([0.1] * 3 + [0.0] + [0.1] * 4) == ()  # on the centre line breaks the run


def test_ewma_matches_hand_computation():
    # E1 = .2·1 = .2; E2 = .2·2 + .8·.2 = .56; E3 = .2·(−1) + .8·.56 = .248; E4 = .1 + .8·.248
    assert ewma_statistics([1.0, 2.0, -1.0, 0.5], 0.2) == pytest.approx([0.2, 0.56, 0.248, 0.2984])
    # L·√(λ/(2−λ)·(1 − (1−λ)^2i)): i=1 → 3·√(0.2/1.8·0.36) = 0.6; i=2 → 3·√(0.2/1.8·0.5904)
    assert ewma_limit(1, 0.2, 3.0) == pytest.approx(0.6)
    assert ewma_limit(2, 0.2, 3.0) == pytest.approx(3 * math.sqrt(0.2 / 1.8 * 0.5904))
    assert ewma_limit(10_000, 0.2, 3.0) == pytest.approx(1.0)  # asymptote L·√(λ/(2−λ))


def test_cusum_matches_hand_computation():
    z = [1.0, 2.0, -1.0, -3.0, 0.2]
    upper = [0.5, 2.0, 0.5, 0.0, 0.0]  # max(0, z − .5 + C⁺)
    lower = [0.0, 0.0, 0.5, 3.0, 2.3]  # max(0, −z − .5 + C⁻)
    assert cusum_statistics(z, 0.5) == [pytest.approx(p) for p in zip(upper, lower)]


# -- the rules on a series -------------------------------------------------------------------------

def test_a_steady_series_raises_nothing():
    assert all(row["signals"] == [] for row in chart(STEADY))


def test_rule_1_warns_beyond_3_sigma_and_alerts_beyond_4():
    warn, alert = evaluate(extend(STEADY, [3.5])), evaluate(extend(STEADY, [-5.0]))
    assert [(s.rule, s.severity, s.direction, s.index, s.points) for s in warn] == [
        ("1 point beyond 3σ", "warn", "up", 30, (30,))]
    assert ("1 point beyond 4σ", "alert", "down") in {(s.rule, s.severity, s.direction) for s in alert}
    assert evaluate(extend(STEADY, [2.9])) == []


def test_rule_1_reports_the_point_and_its_limits():
    series = extend(STEADY, [3.5])
    b = baseline(STEADY)
    (signal,) = evaluate(series)
    assert signal.value == series[-1]
    assert (signal.lower, signal.center, signal.upper) == pytest.approx((*b.limits(3.0)[:1], b.center, b.limits(3.0)[1]))


def test_rule_2_is_caught_at_the_second_point_beyond_2_sigma():
    series = extend(STEADY, [2.5, 0.0, 2.5])
    (signal,) = evaluate(series)
    assert (signal.rule, signal.points, signal.direction, signal.severity) == ("2 of 3 beyond 2σ", (30, 32), "up", "warn")
    assert evaluate(series[:-1]) == []


def test_rule_3_is_caught_at_the_fourth_point_beyond_1_sigma():
    series = extend(STEADY, [-1.5, -1.5, 0.0, -1.5, -1.5])
    (signal,) = evaluate(series)
    assert (signal.rule, signal.points, signal.direction) == ("4 of 5 beyond 1σ", (30, 31, 33, 34), "down")
    assert all(row["signals"] == [] for row in chart(series)[:-1])


def test_rule_4_is_caught_at_the_eighth_point_on_one_side():
    series = extend(STEADY, [0.5] * 9)
    fired = [row["index"] for row in chart(series) if "8 in a row on one side" in rules(row["signals"])]
    assert fired[0] == 37
    assert evaluate(series[:38])[0].points == tuple(range(30, 38))


def test_a_sustained_small_shift_alerts_through_ewma_or_cusum():
    series = noise(7, 60) + noise(8, 40, mean=1.5)
    rows = chart(series)
    assert not any(s.severity == "alert" for row in rows[:60] for s in row["signals"])
    first = next(row for row in rows[60:] if any(s.severity == "alert" for s in row["signals"]))
    assert 60 < first["index"] < 85
    assert {s.method for s in first["signals"] if s.severity == "alert"} <= {"cusum", "ewma"}


def test_cusum_fires_when_the_sum_passes_h_and_points_back_to_the_onset():
    # each point at z = 1.5 adds 1.5 − k = 1 to C⁺, which is 0 after the last 99 (z ≈ −0.55)
    series = extend(STEADY, [1.5] * 9)
    fired = [s for s in evaluate(series) if s.method == "cusum"]
    assert [(s.rule, s.points, s.direction, s.severity) for s in fired] == [
        ("cusum upper", tuple(range(30, 39)), "up", "alert")]
    assert not [s for s in evaluate(series[:-1]) if s.method == "cusum"]
    assert fired[0].upper > fired[0].center > fired[0].lower


def test_ewma_fires_when_it_passes_its_limit():
    # from E₀ ≈ −0.06 (after the last 99), E_k = 1.5 − (1.5 − E₀)·0.8^k passes the limit 4·√(0.2/1.8) = 4/3
    # at the 11th point (0.8^k < 0.107); the CUSUM fired at the 9th and restarted
    series = extend(STEADY, [1.5] * 11)
    assert [(s.method, s.direction) for s in evaluate(series) if s.severity == "alert"] == [("ewma", "up")]
    assert not [s for s in evaluate(series[:-1]) if s.method == "ewma"]


def test_evaluate_is_the_last_row_of_the_chart():
    series = noise(3, 120) + [4.5]
    series[50] = None
    exclude = [i == 70 for i in range(len(series))]
    series[70] = 9.0
    assert evaluate(series, exclude=exclude) == chart(series, exclude=exclude)[-1]["signals"]
    assert evaluate(series, exclude=exclude)


# -- baseline --------------------------------------------------------------------------------------

def test_no_signal_during_warm_up():
    assert evaluate(noise(1, 13) + [100.0]) == []
    assert evaluate(noise(1, 14) + [100.0]) != []
    rows = chart(noise(1, 20))
    assert [row["center"] is None for row in rows] == [True] * 14 + [False] * 6


def test_the_point_under_test_is_not_in_its_own_baseline():
    series = noise(2, 30) + [50.0]
    assert chart(series)[-1]["center"] == pytest.approx(baseline(series[:-1]).center)
    assert baseline(series[:-1]).count == 30


def test_an_excluded_outlier_does_not_widen_the_limits():
    history = noise(4, 40)
    history[20] = 4.5  # large, but below the robust cut: it would widen MR̄
    mask = [i == 20 for i in range(40)]
    without = baseline(history[:20] + history[21:])
    assert baseline(history, exclude=mask) == without
    assert baseline(history).sigma > 1.15 * without.sigma
    probe = without.limits(3.3)[1]
    assert "1 point beyond 3σ" in rules(evaluate(history + [probe], exclude=[*mask, False]))
    assert evaluate(history + [probe]) == []


def test_a_gross_outlier_switches_to_median_and_mad():
    history = noise(5, 40, mean=100.0)
    clean = baseline(history)
    history[10] = 1e6
    robust = baseline(history)
    assert robust.robust and not clean.robust
    assert robust.center == pytest.approx(float(np.median(history)))
    assert robust.sigma < 1.5 * clean.sigma


def test_none_values_are_skipped():
    series = [None if i % 5 == 0 else v for i, v in enumerate(noise(6, 60))]
    assert evaluate(series) == []
    assert evaluate([*series, None]) == []
    assert "1 point beyond 4σ" in rules(evaluate([*series, None, 25.0]))


def test_a_constant_series_is_silent_until_it_changes():
    assert all(row["signals"] == [] for row in chart([5.0] * 40))
    assert all(row["signals"] == [] for row in chart([0.1] * 40 + [0.1]))
    assert all(row["signals"] == [] for row in chart([0.0] * 40))
    changed = evaluate([5.0] * 40 + [5.0001])
    assert ("1 point beyond 4σ", "alert", "up") in {(s.rule, s.severity, s.direction) for s in changed}
    assert evaluate([0.0] * 40 + [-1.0])[0].direction == "down"


def test_methods_can_be_switched_off():
    series = extend(STEADY, [1.5] * 11)
    assert {s.method for s in evaluate(series)} == {"shewhart", "ewma"}
    assert {s.method for s in evaluate(series, config=SpcConfig(methods=("cusum", "ewma")))} == {"ewma"}
    assert evaluate(extend(STEADY, [3.5]), config=SpcConfig(methods=("ewma",))) == []
    assert rules(evaluate(extend(STEADY, [2.5, 0.0, 3.5]), config=SpcConfig(run_rules=False))) == {"1 point beyond 3σ"}


def test_invalid_configuration_is_refused():
    with pytest.raises(ConfigError):
        SpcConfig(min_points=2)
    with pytest.raises(ConfigError):
        SpcConfig(sigma=3.0, alert_sigma=2.0)
    with pytest.raises(ConfigError):
        SpcConfig(methods=("shewhart", "kalman"))
    with pytest.raises(ConfigError):
        evaluate([1.0, 2.0], exclude=[False])


# -- seasonality -----------------------------------------------------------------------------------

WEEK = np.array([30.0, 0.0, 2.0, 1.0, 0.0, -15.0, -20.0])  # position 0 is a Monday


def weekly(weeks: int, seed: int = 11) -> list[float]:
    n = 7 * weeks
    return list(200 + np.tile(WEEK, weeks) + np.random.default_rng(seed).normal(0, 2, n))


def test_a_weekly_pattern_is_recognised_after_three_full_weeks():
    assert is_seasonal(weekly(12), 7)
    assert not is_seasonal(weekly(2), 7)
    assert not is_seasonal(noise(12, 84), 7)
    assert is_seasonal(list(np.tile(WEEK, 4)), 7)  # no noise at all
    assert not is_seasonal([3.0] * 40, 7)
    assert not is_seasonal(weekly(12), 1)


def test_a_weekly_pattern_alone_raises_nothing():
    series = weekly(12)
    assert not any(s.severity == "alert" for row in chart(series, period=7) for s in row["signals"])
    assert evaluate(series, period=7) == []


def test_a_shift_on_a_monday_is_caught_once_the_week_is_removed():
    series = weekly(12) + [200.0 + 30.0 - 15.0]  # a Monday 15 below its usual level, within the weekly range
    assert "1 point beyond 4σ" in rules(evaluate(series, period=7))
    assert evaluate(series) == []  # without the season the weekly swing hides it


def test_seasonal_levels_use_earlier_same_season_points_only():
    series = weekly(12)
    levels = seasonal_levels(series, 7, window=8)
    assert levels[20] is None  # only two earlier Sundays
    assert levels[77] == pytest.approx(float(np.median(series[21:77:7])))  # the 8 Mondays before, not itself
    residuals = seasonal_residuals(series, 7)
    assert residuals is not None and residuals[77] == pytest.approx(series[77] - levels[77])
    assert seasonal_residuals(noise(12, 84), 7) is None


# -- the false-alarm rate of the defaults ----------------------------------------------------------

def test_default_alert_rate_on_in_control_series_is_about_one_in_4000_points():
    points = alerts = 0
    for seed in range(100):
        for row in chart(noise(1000 + seed, 365)):
            if row["center"] is not None:
                points += 1
                alerts += any(s.severity == "alert" for s in row["signals"])
    # 2.4e-4 measured on 2,000 series; textbook limits (rule 1 at 3σ alone) would give ~90 here
    assert alerts / points < 6e-4
