"""The tails of a series' forecast errors, for limits calibrated per series: normal limits and
rates, the Student t whose shape the errors show (its degrees of freedom from the ratio of
their quantiles, and from how many lie beyond 3σ), the t quantile in σ units for an alert rate,
and a generalised Pareto tail for bursty series (peaks over threshold). No I/O here."""

from __future__ import annotations

import math

import numpy as np
from scipy import special


def sigma_for_rate(rate: float) -> float:
    """The normal two-sided limit whose tail probability is ``rate`` (2e-4 → 3.72σ)."""
    return float(-special.ndtri(rate / 2))


def rate_for_sigma(sigma: float) -> float:
    """The two-sided normal tail probability beyond ``sigma`` (3.72σ → 2e-4)."""
    return float(2 * special.ndtr(-sigma))


# Student-t shapes: the ratio of the 97.5% to the 75% quantile falls from 4.2 (3 df) to 2.91
# (normal); an observed ratio of |errors|' 95th to 50th percentile picks the df.
_DF = np.array([5.0, 7, 10, 15, 25, 50, 1e4])
_RATIO = special.stdtrit(_DF, 0.975) / special.stdtrit(_DF, 0.75)


# ...and the share of |t| beyond 3σ (σ from the MAD) falls from 4.2% (3 df) to 0.27% (normal)
_BEYOND3 = 2 * special.stdtr(_DF, -3 * special.stdtrit(_DF, 0.75) / special.ndtri(0.75))


def tail_df(ordered: list[float]) -> float:
    """Degrees of freedom of the Student t whose |t| has the 95%/50% quantile ratio of the
    sorted absolute errors ``ordered``."""
    n = len(ordered)
    if n < 20:
        return math.inf
    q50, q95 = quantile(ordered, 0.5), quantile(ordered, 0.95)
    if q50 <= 0:  # mostly exact: counts that are usually right, or zero-inflated (rain)
        return float(_DF[0]) if q95 > 0 else math.inf
    # the body (the 95/50 ratio), and the far tail: how many errors lie beyond 3σ (a t fit on
    # the body alone misses a few big ones); the heavier of the two
    beyond = (sum(1 for v in ordered if v > 3 * q50 / special.ndtri(0.75)) + 0.5) / n
    return min(_df_for(q95 / q50, _RATIO), _df_for(beyond, _BEYOND3))


def _df_for(value: float, table: np.ndarray) -> float:
    """The df whose entry in ``table`` (falling as df grows, one per ``_DF``) is ``value``:
    inf at or below the normal's entry, the heaviest df at or above its entry."""
    if value <= table[-1]:
        return math.inf
    if value >= table[0]:
        return float(_DF[0])
    return float(np.interp(-value, -table, _DF))


def peaks_over_threshold(ordered: list[float], rate: float, share: float = 0.2) -> float:
    """The level a bursty series' errors exceed with probability ``rate``: a generalised Pareto
    tail fit (by moments, shape between 0 and 0.5) to the excesses of the top ``share`` of the
    sorted absolute errors ``ordered`` (peaks over threshold): rain totals, fog."""
    u = quantile(ordered, 1 - share)
    excess = [v - u for v in ordered if v > u]
    if len(excess) < 2:
        return u
    m = sum(excess) / len(excess)
    var = sum((e - m) ** 2 for e in excess) / (len(excess) - 1)
    if m <= 0:
        return u
    xi = 0.5 * (1 - m * m / var) if var > 0 else 0.0
    xi = min(max(xi, 0.0), 0.5)
    scale = 0.5 * m * (m * m / var + 1) if var > 0 else m
    if xi < 1e-6:
        return u + scale * math.log(share / rate)
    return u + scale / xi * ((share / rate) ** xi - 1)


def quantile(ordered: list[float], q: float) -> float:
    """Linear-interpolation quantile of a sorted list (numpy's default)."""
    at = q * (len(ordered) - 1)
    lo = int(at)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (at - lo)


_LIMITS: dict[tuple[float, float], float] = {}


def limit_for(rate: float, df: float) -> float:
    """The limit in σ units (σ = 1.4826·MAD) beyond which a Student-t(df) error lies with
    probability ``rate`` (df rounded to a tenth, and cached: it is asked for every point)."""
    key = (rate, math.inf if math.isinf(df) else round(df, 1))
    if key not in _LIMITS:
        _LIMITS[key] = _limit(rate, key[1])
    return _LIMITS[key]


def _limit(rate: float, df: float) -> float:
    """The limit in σ units (σ = 1.4826·MAD) beyond which a Student-t(df) error lies with
    probability ``rate``."""
    if math.isinf(df):
        return sigma_for_rate(rate)
    return float(special.stdtrit(df, 1 - rate / 2) * special.ndtri(0.75) / special.stdtrit(df, 0.75))
