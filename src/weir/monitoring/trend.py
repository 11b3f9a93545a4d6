"""Where a metric series is heading: the forecast chart's expected value for a point, from a
robust level and trend through its baseline (Theil-Sen slope, median intercept) plus the
season (day of week, hour of day) when a rank F-test finds one. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special


@dataclass
class Fit:
    """The expected value at a position, the baseline's residuals from the fit, and whether the
    season was found (and taken into the forecast)."""

    expected: float
    residuals: np.ndarray
    seasonal: bool


def median(values: list[float]) -> float:
    """The median of ``values``."""
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def _theil_sen(pos: np.ndarray, y: np.ndarray) -> float:
    """The median of the slopes between every pair of points."""
    dp = pos[None, :] - pos[:, None]
    upper = dp > 0
    slopes = (y[None, :] - y[:, None])[upper] / dp[upper]
    if not slopes.size:
        return 0.0
    k = slopes.size // 2
    part = np.partition(slopes, [k - 1, k] if slopes.size % 2 == 0 else k)
    return float(part[k]) if slopes.size % 2 else float(0.5 * (part[k - 1] + part[k]))


def fit(pos: np.ndarray, y: np.ndarray, at: int, *, period: int | None, trend: bool, alpha: float,
        season: tuple[np.ndarray, np.ndarray] | None = None, memory: int = 8) -> Fit:
    """The expected value at position ``at`` from baseline points (``pos``, ``y``): a level and
    trend through them, plus the season (when ``period`` is given and a rank F-test finds it)
    from the medians per season of the last ``memory`` detrended ``season`` points of each season
    (a schedule that changes on Saturdays is learnt in a few weeks) (default: the baseline's;
    flagged points belong there, a season must not be mistaken for anomalies while it is learnt)."""
    seasonal = False
    effect = 0.0
    sp, sy = season if season is not None else (pos, y)
    if period and len(sy) >= 3 * period:
        slope = _theil_sen(sp, sy) if trend else 0.0
        res = sy - slope * sp
        groups = sp.astype(int) % period
        if _seasonal(_ranks(res), groups, period, alpha):
            by_group: list[list[float]] = [[] for _ in range(period)]
            for g, r in zip(groups.tolist(), res.tolist()):
                by_group[g].append(r)
            effects = np.array([median(v[-memory:]) if v else 0.0 for v in by_group])
            effects -= median(effects.tolist())
            effect = float(effects[at % period])
            y = y - effects[pos.astype(int) % period]
            seasonal = True
    slope = _theil_sen(pos, y) if trend and len(y) >= 6 else 0.0
    level = median((y - slope * pos).tolist())
    res = y - (level + slope * pos)
    return Fit(expected=level + slope * at + effect, residuals=res, seasonal=seasonal)


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 0..n-1 (ties broken by position): the season test on ranks is not swayed by a
    holiday or a storm."""
    r = np.empty(x.size)
    r[np.argsort(x, kind="stable")] = np.arange(x.size)
    return r


def _seasonal(res: np.ndarray, groups: np.ndarray, period: int, alpha: float) -> bool:
    """One-way ANOVA F-test across season groups (each needs 2 points), p < ``alpha``."""
    counts = np.bincount(groups, minlength=period)
    if counts.min() < 2:
        return False
    sums = np.bincount(groups, weights=res, minlength=period)
    means = sums / counts
    within = float(((res - means[groups]) ** 2).sum())
    grand = float(res.mean())
    between = float((counts * (means - grand) ** 2).sum())
    if within <= 0:
        return between > 0
    f = (between / (period - 1)) / (within / (res.size - period))
    return bool(special.fdtrc(period - 1, res.size - period, f) < alpha)
