"""Seasons of a metric series (weekdays of daily partitions, hours of hourly ones): whether the
values differ between season groups (a one-way ANOVA F-test), and each point's seasonal level,
the median of the same season's points before it. The classic chart (``spc``) judges residuals
from these levels when the history is seasonal. No I/O here."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import special

from weir.monitoring.windows import as_values, mask, row_median, windows

SEASON_MIN = 3  # same-season points needed for a seasonal level, and per group for the F-test


def is_seasonal(series: Sequence[float | None], period: int, *, exclude: Sequence[bool] | None = None,
                alpha: float = 1e-3) -> bool:
    """Whether the values differ between season groups (position modulo ``period``): one-way
    ANOVA F-test p < ``alpha``, with at least 3 usable points in every group (3 full periods).
    A pattern with no noise at all (each group constant, groups different) is seasonal."""
    if period < 2:
        return False
    x = as_values(series)
    usable = np.isfinite(x) & ~mask(exclude, len(series))
    groups = [x[g::period][usable[g::period]] for g in range(period)]
    if min(len(g) for g in groups) < SEASON_MIN:
        return False
    within = sum(float(((g - g.mean()) ** 2).sum()) for g in groups)
    if within == 0:
        return len({float(g[0]) for g in groups}) > 1
    # the one-way ANOVA F-test, computed directly (scipy.stats.f_oneway gives the same p-value
    # at several times the cost, which adds up over every series of every asset)
    n = sum(len(g) for g in groups)
    grand = sum(float(g.sum()) for g in groups) / n
    between = sum(len(g) * (float(g.mean()) - grand) ** 2 for g in groups)
    f = (between / (period - 1)) / (within / (n - period))
    return bool(special.fdtrc(period - 1, n - period, f) < alpha)


def seasonal_levels(series: Sequence[float | None], period: int, *, exclude: Sequence[bool] | None = None,
                    window: int = 8) -> list[float | None]:
    """Per point, the median of the last ``window`` usable same-season points before it (never
    the point itself); None until its season has 3 such points."""
    x = as_values(series)
    level = levels_before(x, np.isfinite(x) & ~mask(exclude, len(series)), period, window)
    return [None if math.isnan(v) else float(v) for v in level]


def seasonal_residuals(series: Sequence[float | None], period: int, *, exclude: Sequence[bool] | None = None,
                       alpha: float = 1e-3, window: int = 8) -> list[float | None] | None:
    """Value minus its seasonal level (see ``seasonal_levels``) when the history before the last
    point is seasonal (``is_seasonal``); None when it is not."""
    if not is_seasonal(series[:-1], period, exclude=None if exclude is None else exclude[:-1], alpha=alpha):
        return None
    levels = seasonal_levels(series, period, exclude=exclude, window=window)
    return [None if v is None or lv is None else float(v) - lv for v, lv in zip(series, levels)]


def levels_before(x: np.ndarray, usable: np.ndarray, period: int, window: int, least: int = SEASON_MIN) -> np.ndarray:
    """Per position, the median of the last ``window`` usable points of its season before it;
    NaN until there are ``least`` of them."""
    level = np.full(x.size, np.nan)
    for g in range(period):
        rows, count = windows(x[g::period], usable[g::period], window)
        level[g::period] = np.where(count >= least, row_median(rows, count), np.nan)
    return level
