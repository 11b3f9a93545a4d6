"""Statistical process control over one metric series: is its newest point in control?

A series is a list of metric values, oldest first, one per partition (None where the metric is
missing). Every point is judged against a baseline of points *before* it, never itself, so one
pass draws a whole control chart (``chart``) and judges the newest point (``evaluate``):
``evaluate(s)`` returns exactly the signals of ``chart(s)[-1]``. No I/O here.

Per point t:

1. **Season** (only with ``period``: 7 for weekdays of daily partitions, 24 for hours of hourly
   ones). If an F-test across season groups finds the pattern in the history
   (``seasonality.is_seasonal``), each value becomes its residual from the median of the last
   ``season_window`` same-season points before it, and everything below runs on residuals.
2. **Baseline** (``baseline``): the last ``window`` usable points before t: not None and not
   masked by ``exclude`` (points already out of control or inside an incident). Fewer than
   ``min_points`` means warm-up: no signal is possible.
3. **Standardise**: T = (x − centre) / (σ̂·√(1 + a/m)) is close to Student's t with ν degrees
   of freedom (a and ν depend on the estimator, see ``Baseline``); z = Φ⁻¹(F_t(T)) is then close
   to N(0, 1) whatever the baseline size, so a 14-point baseline does not raise more false
   alarms than a 90-point one. This is a self-starting chart in the sense of Hawkins (1987,
   "Self-starting CUSUM charts for location and scale") and Quesenberry's Q chart (1991).
4. **Rules** on z (``rules``): Western Electric rules 1–4, an EWMA and a two-sided tabular
   CUSUM over the z of the points monitored so far (None and excluded points are skipped, so an
   incident point does not keep firing its neighbours; the EWMA and CUSUM restart after they
   signal).

Severity: ``alert`` opens an incident, ``warn`` is recorded and drawn on the chart. The default
``SpcConfig`` is chosen for the product target of at most one false alarm per 100 clean
partitions of an asset with a few dozen monitored series, i.e. about 3e-4 alerts per point and
series. See ``SpcConfig`` for the choices and the measured rates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import special

from weir.errors import ConfigError
from weir.monitoring.rules import beyond_limit, ewma_limit, four_of_five, run_of_eight, two_of_three
from weir.monitoring.seasonality import SEASON_MIN, is_seasonal, levels_before
from weir.monitoring.windows import as_values, mask, row_median, windows

SEVERITIES = ("warn", "alert")
METHODS = ("shewhart", "ewma", "cusum")
MR_D2 = 2 / math.sqrt(math.pi)  # d2 for ranges of 2: E|X1 − X2| = 1.128σ for normal data
MAD_SCALE = 1.4826  # 1/Φ⁻¹(3/4): MAD × 1.4826 estimates σ for normal data
# Degrees of freedom per baseline point, matched to the variance of each σ estimate by
# simulation (the MR̄ figure is the 0.62 of the SPC literature; MAD's efficiency is 37%).
CLASSIC_DF, ROBUST_DF = 0.62, 0.37


@dataclass(frozen=True, kw_only=True)
class SpcConfig:
    """How points are judged. Defaults are conservative; rates measured with ``chart`` on 2,000
    simulated in-control N(0, 1) series of 365 points (702,000 points after warm-up):

    ======================================  ===========  ===================================
    signal (severity)                        default      false alarms per point
    ======================================  ===========  ===================================
    rule 1 beyond ``alert_sigma`` (alert)    4σ           6.8e-5
    EWMA λ = 0.2 (alert)                     L = 4.0      1.0e-4
    CUSUM k = 0.5σ (alert)                   h = 8.5σ     1.0e-4
    **any alert**                                         **2.4e-4** (one per ~4,100 points)
    rule 1 beyond ``sigma`` (warn)           3σ           2.5e-3
    rules 2, 3, 4 (warn)                                  2.2e-3, 4.7e-3, 7.6e-3
    any signal, warn or alert                             1.6e-2
    ======================================  ===========  ===================================

    A weekly-seasonal series with ``period=7`` measured 3.4e-4 alerts per point (last 200 points
    of 500 series).
    Detection (alerts only, 200 series each): a step of 1σ is caught after a median of 16
    points, 2σ after 5, 3σ after 2.

    Why: with ~36 series per asset, at most one false alarm per 100 partitions needs about
    3e-4 alerts per point and series (1 − (1 − 2.4e-4)³⁶ ≈ 0.9%). Textbook settings are each
    near 2.7e-3: rule 1 at 3σ; EWMA λ = 0.2, L = 2.86 (ARL₀ ≈ 370; Lucas & Saccucci 1990,
    Technometrics 32(1); L = 2.962 gives 500); tabular CUSUM k = 0.5, h = 5 (two-sided
    ARL₀ ≈ 465, one-sided 930; Montgomery, Introduction to Statistical Quality Control, §9.1).
    With the run rules that is a false alarm every ~50 points per series, so rule 1 at 3σ and
    rules 2–4 only warn, and the alerting limits are raised: rule 1 at 4σ (ARL₀ 15,800); EWMA
    L = 4.0 (ARL₀ 19,300 with known parameters; 1σ shift caught in ~26 points) and CUSUM
    h = 8.5 (two-sided ARL₀ 15,600; 1σ shift in ~17 points, 0.5σ in ~93), ARLs from Markov
    chains (Brook & Evans 1972). Estimating the baseline from the data roughly halves the ARL₀
    of EWMA and CUSUM (Jones, Champ & Rigdon 2001), hence ~1e-4 each as measured.

    ``methods`` selects the signals (``shewhart`` covers rules 1–4; ``run_rules=False`` keeps
    rule 1 only). ``window`` bounds the baseline to recent points so a deliberate level change stops
    signalling once it fills the window; ``outlier_cut`` is in robust σ (1.4826·MAD) units.
    The σ floor ``max(floor_absolute, floor_relative·|centre|)`` keeps a constant series
    silent while any change of it alerts (a change of 1 in 10⁹ of the value is 1σ).
    """

    methods: tuple[str, ...] = METHODS
    min_points: int = 14
    window: int = 90
    sigma: float = 3.0
    alert_sigma: float = 4.0
    run_rules: bool = True
    ewma_lambda: float = 0.2
    ewma_limit: float = 4.0
    cusum_k: float = 0.5
    cusum_h: float = 8.5
    outlier_cut: float = 5.0
    season_alpha: float = 1e-3
    season_window: int = 8
    floor_relative: float = 1e-9
    floor_absolute: float = 1e-12

    def __post_init__(self) -> None:
        if not set(self.methods) <= set(METHODS):
            raise ConfigError(f"spc: methods {list(self.methods)} must be among {', '.join(METHODS)}")
        if self.min_points < 3 or self.window < self.min_points:
            raise ConfigError(f"spc: need 3 <= min_points <= window, got {self.min_points} and {self.window}")
        if not 0 < self.sigma <= self.alert_sigma:
            raise ConfigError(f"spc: need 0 < sigma <= alert_sigma, got {self.sigma} and {self.alert_sigma}")
        if not 0 < self.ewma_lambda <= 1:
            raise ConfigError(f"spc: ewma_lambda must be in (0, 1], got {self.ewma_lambda}")
        if min(self.ewma_limit, self.cusum_h, self.outlier_cut) <= 0 or self.cusum_k < 0:
            raise ConfigError("spc: ewma_limit, cusum_h and outlier_cut must be > 0 and cusum_k >= 0")
        if not 0 < self.season_alpha < 1 or self.season_window < SEASON_MIN:
            raise ConfigError(f"spc: need 0 < season_alpha < 1 and season_window >= {SEASON_MIN}")


@dataclass(frozen=True, kw_only=True)
class Signal:
    """One rule firing on one point. ``value``, ``center``, ``lower`` and ``upper`` are in the
    metric's units: for Shewhart rules the point and the zone the rule compares against (3σ,
    2σ, 1σ; rule 4: the centre line); for EWMA and CUSUM the statistic and its limits mapped
    through the point's baseline (centre + scale × statistic). ``points`` are the series
    indices involved (for CUSUM: since the sum last left zero, i.e. the estimated onset)."""

    method: str
    rule: str
    index: int
    value: float
    center: float
    lower: float
    upper: float
    points: tuple[int, ...]
    direction: str
    severity: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class Baseline:
    """Centre and σ of the points a value is judged against.

    Classic (no outliers): mean and σ = MR̄/1.128, the individuals-chart estimate (short-term
    variation, insensitive to slow drifts). Robust (some point lies beyond ``outlier_cut``
    robust σ of the median, p ≈ 6e-7 per normal point, so it is a real outlier): median and
    σ = 1.4826·MAD. ``sigma`` is never below the floor (see ``SpcConfig``)."""

    center: float
    sigma: float
    count: int
    robust: bool

    @property
    def df(self) -> float:
        """Degrees of freedom of the σ estimate."""
        return (ROBUST_DF if self.robust else CLASSIC_DF) * (self.count - 1)

    @property
    def scale(self) -> float:
        """σ of a new point's distance to the centre, including the centre's own error."""
        return self.sigma * math.sqrt(1 + (math.pi / 2 if self.robust else 1.0) / self.count)

    def standardize(self, value: float) -> float:
        """The calibrated z of ``value`` (≈ N(0, 1) when in control)."""
        return float(_calibrate(np.array([(value - self.center) / self.scale]), np.array([self.df]))[0])

    def limits(self, k: float = 3.0) -> tuple[float, float]:
        """Values whose calibrated z is ±k."""
        half = float(_half_width(k, np.array([self.df]))[0]) * self.scale
        return self.center - half, self.center + half


def baseline(history: Sequence[float | None], *, exclude: Sequence[bool] | None = None,
             config: SpcConfig = SpcConfig()) -> Baseline | None:
    """Baseline of the next point after ``history`` (its last ``config.window`` usable points);
    None during warm-up (fewer than ``config.min_points`` usable points)."""
    x = np.append(as_values(history), np.nan)
    usable = np.isfinite(x) & ~np.append(mask(exclude, len(history)), True)
    b = _baselines(x, usable, config)
    if not b["defined"][-1]:
        return None
    return Baseline(center=float(b["center"][-1]), sigma=float(b["sigma"][-1]), count=int(b["count"][-1]),
                    robust=bool(b["robust"][-1]))


# -- the chart -------------------------------------------------------------------------------------

def evaluate(series: Sequence[float | None], *, exclude: Sequence[bool] | None = None, period: int | None = None,
             config: SpcConfig = SpcConfig()) -> list[Signal]:
    """Signals on the last point of ``series`` against the points before it; [] when it is in
    control, None, or in warm-up."""
    if not series:
        return []
    return _trace(series, exclude, period, config, every_point=False)[-1]["signals"]


def chart(series: Sequence[float | None], *, exclude: Sequence[bool] | None = None, period: int | None = None,
          config: SpcConfig = SpcConfig(), season_exclude: Sequence[bool] | None = None) -> list[dict]:
    """Per point: ``index``, ``value``, ``center``, ``lower``/``upper`` (the ``config.sigma``
    limits from the points before it; None in warm-up) and ``signals`` (list of ``Signal``).
    ``season_exclude`` (default ``exclude``) masks the points left out of the seasonality test
    and the seasonal levels. One pass, O(n·window)."""
    return _trace(series, exclude, period, config, every_point=True, season_exclude=season_exclude)


def _trace(series: Sequence[float | None], exclude: Sequence[bool] | None, period: int | None, config: SpcConfig,
           *, every_point: bool, season_exclude: Sequence[bool] | None = None) -> list[dict]:
    """The chart; Shewhart rules are only evaluated on the last point unless ``every_point``
    (EWMA and CUSUM always run: their restarts depend on every point)."""
    x = as_values(series)
    n = x.size
    excl = mask(exclude, n)
    season_excl = excl if season_exclude is None else mask(season_exclude, n)
    level = np.zeros(n)
    if period and is_seasonal(series[:-1], period, exclude=list(season_excl[:-1]), alpha=config.season_alpha):
        # residuals from the first same-season point on: the baseline of residuals is ready
        # (``min_points``) about when the pattern can be found (3 full periods), not 2 weeks later
        level = levels_before(x, np.isfinite(x) & ~season_excl, period, config.season_window, least=1)
    r = x - level
    testable = np.isfinite(r)
    b = _baselines(r, testable & ~excl, config)
    ok = b["defined"]
    a = np.where(b["robust"], math.pi / 2, 1.0)
    scale = b["sigma"] * np.sqrt(1 + a / np.maximum(b["count"], 1))
    df = np.where(b["robust"], ROBUST_DF, CLASSIC_DF) * np.maximum(b["count"] - 1, 1)
    centre = level + b["center"]
    z = np.zeros(n)
    live = ok & testable
    z[live] = _calibrate((r[live] - b["center"][live]) / scale[live], df[live])
    half = {k: np.where(ok, _half_width(k, df) * scale, np.nan) for k in {config.sigma, 2.0, 1.0}}
    run = _Recursions(config)
    lower, upper = (centre - half[config.sigma]).tolist(), (centre + half[config.sigma]).tolist()
    zones = [dict(zip(half, v)) for v in zip(*(h.tolist() for h in half.values()))]
    values, centres, scales, zs = x.tolist(), centre.tolist(), scale.tolist(), z.tolist()
    rows = []
    for t, (value, defined, judged, skipped) in enumerate(zip(values, ok.tolist(), live.tolist(), excl.tolist())):
        row: dict[str, Any] = {"index": t, "value": None if math.isnan(value) else value,
                               "center": None, "lower": None, "upper": None, "signals": []}
        if defined:
            row.update(center=centres[t], lower=lower[t], upper=upper[t])
        if judged:
            row["signals"] = run.step(t, zs[t], value, centres[t], scales[t], zones[t],
                                      commit=not skipped, rules=every_point or t == n - 1)
        rows.append(row)
    return rows


class _Recursions:
    """State carried along the chart: the z of monitored points, the EWMA and the CUSUM."""

    def __init__(self, config: SpcConfig) -> None:
        self.c = config
        self.z: list[float] = []
        self.idx: list[int] = []
        self.ewma, self.steps = 0.0, 0
        self.up, self.down, self.up_from, self.down_from = 0.0, 0.0, 0, 0

    def step(self, t: int, z: float, value: float, centre: float, scale: float, zone: dict[float, float],
             *, commit: bool, rules: bool = True) -> list[Signal]:
        c = self.c
        zs, idx = [*self.z[-7:], z], [*self.idx[-7:], t]
        direction = "up" if z > 0 else "down"
        out = []

        def shewhart(rule: str, hits: tuple[int, ...], k: float | None, severity: str = "warn") -> None:
            if hits:
                h = zone[k] if k is not None else 0.0
                out.append(Signal(method="shewhart", rule=rule, index=t, value=value, center=centre,
                                  lower=centre - h, upper=centre + h, points=tuple(idx[i] for i in hits),
                                  direction=direction, severity=severity))

        rules = rules and "shewhart" in c.methods
        if rules:
            alert = abs(z) > c.alert_sigma
            shewhart(f"1 point beyond {c.alert_sigma if alert else c.sigma:g}σ", beyond_limit(zs, c.sigma), c.sigma,
                     "alert" if alert else "warn")
        if rules and c.run_rules:
            shewhart("2 of 3 beyond 2σ", two_of_three(zs), 2.0)
            shewhart("4 of 5 beyond 1σ", four_of_five(zs), 1.0)
            shewhart("8 in a row on one side", run_of_eight(zs), None)

        lam = c.ewma_lambda
        ewma, steps = lam * z + (1 - lam) * self.ewma, self.steps + 1
        limit = ewma_limit(steps, lam, c.ewma_limit)
        ewma_fired = "ewma" in c.methods and abs(ewma) > limit
        if ewma_fired:
            out.append(Signal(method="ewma", rule="ewma beyond limit", index=t, value=centre + scale * ewma,
                              center=centre, lower=centre - scale * limit, upper=centre + scale * limit,
                              points=(t,), direction="up" if ewma > 0 else "down", severity="alert"))

        up, down = max(0.0, z - c.cusum_k + self.up), max(0.0, -z - c.cusum_k + self.down)
        up_from = self.up_from if self.up > 0 else t
        down_from = self.down_from if self.down > 0 else t
        cusum_fired = False
        for side, s, start in (("upper", up, up_from), ("lower", down, down_from)):
            if "cusum" in c.methods and s > c.cusum_h:
                cusum_fired = True
                sign = 1 if side == "upper" else -1
                out.append(Signal(method="cusum", rule=f"cusum {side}", index=t, value=centre + sign * scale * s,
                                  center=centre, lower=centre - scale * c.cusum_h, upper=centre + scale * c.cusum_h,
                                  points=tuple(i for i in [*self.idx, t] if i >= start),
                                  direction="up" if sign > 0 else "down", severity="alert"))

        if commit:  # excluded points are judged but do not carry into later points
            self.z.append(z)
            self.idx.append(t)
            self.ewma, self.steps = (0.0, 0) if ewma_fired else (ewma, steps)
            self.up, self.down = (0.0, 0.0) if cusum_fired else (up, down)
            self.up_from, self.down_from = up_from, down_from
        return out


# -- vectorised helpers ----------------------------------------------------------------------------

def _baselines(x: np.ndarray, usable: np.ndarray, c: SpcConfig) -> dict[str, np.ndarray]:
    """``Baseline`` fields for every position at once, from the usable points before it."""
    rows, count = windows(x, usable, c.window)
    valid = np.isfinite(rows)
    med = row_median(rows, count)
    dev = np.abs(rows - med[:, None])
    robust_sigma = MAD_SCALE * row_median(dev, count)
    worst = np.where(valid, dev, 0.0).max(axis=1)
    robust = (robust_sigma > 0) & (worst > c.outlier_cut * robust_sigma)
    m = np.maximum(count, 1)
    mean = med + np.where(valid, rows - med[:, None], 0.0).sum(axis=1) / m  # exact for a constant window
    pairs = valid[:, 1:] & valid[:, :-1]
    ranges = np.where(pairs, np.abs(np.diff(np.where(valid, rows, 0.0), axis=1)), 0.0).sum(axis=1)
    classic_sigma = ranges / np.maximum(count - 1, 1) / MR_D2
    center = np.where(robust, med, mean)
    sigma = np.where(robust, robust_sigma, classic_sigma)
    floor = np.maximum(c.floor_absolute, c.floor_relative * np.abs(np.nan_to_num(center)))
    defined = count >= c.min_points
    return {"center": center, "sigma": np.maximum(np.nan_to_num(sigma), floor), "count": count,
            "robust": robust, "defined": defined}


def _calibrate(t: np.ndarray, df: np.ndarray) -> np.ndarray:
    """Student-t values to standard-normal values with the same tail probability (the
    scipy.special kernels behind scipy.stats.t.sf and norm.isf, without their overhead)."""
    p = special.stdtr(df, -np.abs(t))
    z = np.where(p > 0, -special.ndtri(np.maximum(p, 1e-300)), np.abs(t))
    return np.sign(t) * z


def _half_width(k: float, df: np.ndarray) -> np.ndarray:
    """The t-value whose tail probability is that of k on the standard normal."""
    return -special.stdtrit(np.maximum(df, 1e-9), special.ndtr(-k))
