"""The forecast chart: each point of a metric series is judged against where the series was
heading, with limits from the spread of the series' own past forecast errors. weir's default
monitor model (``spc`` keeps the textbook individuals chart, selectable per series).

A series is a list of metric values, oldest first, one per partition (None where missing). One
pass judges every point against points *before* it only, so a chart drawn for a whole history
(a replay) and one point judged the day it arrives give the same verdict. No I/O here.

Per point t:

1. **Baseline**: the last ``window`` usable points of the current regime (not None, not
   quarantined, not flagged as anomalous, not before the regime's start).
2. **Forecast**: a robust local level and trend through the baseline (Theil-Sen slope, median
   intercept), plus the season (day of week of daily partitions, hour of hourly ones) when an
   F-test finds it in the baseline: the expected value at t.
3. **Scale**: σ from the series' own past one-step forecast errors (1.4826·MAD of the last
   ``errors`` in-control errors), so a smooth seasonal drift or a trend is not noise and a
   noisy series is not held to a smooth one's band. Until enough errors exist, the fit's own
   residual spread, widened.
4. **Calibrated limits, per series**: the errors' tail is matched to a Student t (from the
   ratio of their 95th to 50th percentile, anomalies left out), and the limit is the t quantile for ``alert_rate``
   (``warn_rate`` for warnings): a heavy-tailed series gets wider limits than a well-behaved
   one, each alerting at the same low rate on its own in-control history. A point must also lie
   beyond the third-largest in-control error of that history, so a series of counts that is
   usually constant and sometimes off by one does not alert for being off by one again. A bursty
   series (more than 15% of its recent points out of range: rain, fog) keeps its bursts in that
   history, and its limit is at least the level a generalised Pareto tail fit to its largest
   errors puts at ``alert_rate`` (peaks over threshold). Anomalies rarer than that never widen
   the limits the next one is judged against.
5. **New normal**: a flagged point stays out of later baselines, but ``confirm`` flagged points
   in a row on one side make a new normal (a level shift; twice as many on both sides, a change
   of spread): the first raised the alert, the others say the change goes on, and the baseline
   re-forms from its onset. Exclusion can never freeze a
   baseline for longer than that. An operator's ``reset`` (``weir monitors accept``) starts a
   regime at a chosen point the same way. A ``held`` point (an open incident holds its
   partition) is judged but leaves the state as it was: it never joins a baseline, a run toward
   a new normal, the errors or the CUSUM, so each one alerts afresh against the last good
   history until the incident is resolved or the operator accepts the level.
6. **Sustained small shifts**: a CUSUM of the calibrated residuals (clipped, so one outlier
   cannot drive it) warns of a level creeping away from the forecast.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from weir.errors import ConfigError
from weir.monitoring.spc import Signal
from weir.monitoring.tails import limit_for, peaks_over_threshold, quantile, sigma_for_rate, tail_df
from weir.monitoring.trend import Fit, fit, median

MAD_SCALE = 1.4826
BURSTY = 0.15  # share of out-of-range points above which a series' bursts are part of its nature
VERY_BURSTY = 0.15  # ... and above which its limits come from a Pareto fit to its largest errors
MODEL = "level, trend"
METHODS = ("shewhart", "cusum")


@dataclass(frozen=True, kw_only=True)
class ForecastConfig:
    """How points are judged. ``alert_rate`` and ``warn_rate`` are per point and series, in
    control: with ~50 monitored series per asset, 2e-4 keeps clean days quiet (≤ 1 alert-day in
    100) while a change that the series' history has never shown still alerts."""

    methods: tuple[str, ...] = METHODS
    window: int = 28
    min_points: int = 14
    errors: int = 90
    min_errors: int = 10
    alert_rate: float = 2e-4
    warn_rate: float = 2e-3
    confirm: int = 3
    trend: bool = True
    season_alpha: float = 0.01  # the rank F-test's level: a weekly pattern is found in 3 weeks
    season_window: int = 56  # points the season is found in (8 weeks of weekdays)
    season_memory: int = 8  # the latest points of each season its level is the median of
    cusum_k: float = 0.5
    cusum_h: float = 8.5
    cusum_alerts: bool = False
    floor_relative: float = 1e-9
    floor_absolute: float = 1e-12
    # the smallest change worth an alert, whatever the statistics say (a row count off by one
    # hour of 72, a first null in a column): warnings still show it
    bursty: bool = False  # its bursts are its nature (drift scores): limits from the tail of every error
    recurring: int = 4  # a miss the series made this many times lately, anomalies counted, never alerts (0: off)
    material_relative: float = 0.0
    material_absolute: float = 0.0

    def __post_init__(self) -> None:
        if not set(self.methods) <= set(METHODS):
            raise ConfigError(f"forecast: methods {list(self.methods)} must be among {', '.join(METHODS)}")
        if not 3 <= self.min_points <= self.window <= self.season_window:
            raise ConfigError(f"forecast: need 3 <= min_points <= window <= season_window, got {self.min_points}, "
                              f"{self.window} and {self.season_window}")
        if not 0 < self.alert_rate <= self.warn_rate < 0.5:
            raise ConfigError(f"forecast: need 0 < alert_rate <= warn_rate < 0.5, got {self.alert_rate} and {self.warn_rate}")
        if self.confirm < 2 or self.errors < self.min_errors or self.min_errors < 3:
            raise ConfigError("forecast: need confirm >= 2 and errors >= min_errors >= 3")


@dataclass(frozen=True, kw_only=True)
class _Scale:
    """How far a point may miss its forecast: σ, the degrees of freedom of the errors' tail, the
    guard (no alert for a miss the series made lately) and the floor (no change below it);
    ``constant``: no miss and no spread so far."""

    sigma: float
    df: float
    guard: float
    floor: float
    constant: bool


@dataclass(kw_only=True)
class _Point:
    """One point being judged, against its forecast and limits; its signals go into ``row``."""

    t: int
    x: float
    row: dict[str, Any]
    fit: Fit
    sigma: float
    half: float  # half the width between the alert limits
    k_alert: float
    error: float
    z: float
    beyond_alert: bool
    beyond_warn: bool

    @property
    def side(self) -> int:
        return 1 if self.error > 0 else -1

    def signal(self, method: str, rule: str, severity: str, points: tuple[int, ...], value: float | None = None,
               lo: float | None = None, hi: float | None = None, way: str | None = None) -> None:
        """A signal on the point: by default its value, the alert limits and its direction."""
        center = self.fit.expected
        self.row["signals"].append(Signal(
            method=method, rule=rule, index=self.t, value=self.x if value is None else value, center=center,
            lower=center - self.half if lo is None else lo, upper=center + self.half if hi is None else hi,
            points=points, direction=way or ("up" if self.side > 0 else "down"), severity=severity))


def chart(series: Sequence[float | None], *, exclude: Sequence[bool] | None = None, period: int | None = None,
          config: ForecastConfig = ForecastConfig(), resets: Sequence[int] = (),
          held: Sequence[bool] | None = None) -> list[dict]:
    """Per point: ``index``, ``value``, ``center`` (the expected value), ``lower``/``upper`` (the
    alert limits; None in warm-up), ``model``, ``z`` and ``signals`` (list of ``spc.Signal``).
    ``exclude`` marks points never used in a baseline (quarantined); ``resets`` are indices where
    an operator accepted a new normal; ``held`` marks points an open incident holds (see
    ``Chart.step``). Raises ConfigError when a mask's length is not the series'."""
    values = [None if v is None or not math.isfinite(float(v)) else float(v) for v in series]
    excluded = [False] * len(values) if exclude is None else [bool(e) for e in exclude]
    holding = [False] * len(values) if held is None else [bool(h) for h in held]
    for name, mask in (("exclude", excluded), ("held", holding)):
        if len(mask) != len(values):
            raise ConfigError(f"forecast: {name} has {len(mask)} entries for {len(values)} points")
    reset_at = set(resets)
    state = Chart(config, period)
    return [state.step(t, x, excluded=excluded[t], reset=t in reset_at, held=holding[t]) for t, x in enumerate(values)]


class Chart:
    """The forecast chart's state along one series: fed one point at a time (``step``), and
    saved between evaluations (``to_json``/``from_json``), so that judging a new partition costs
    one step, not a redrawn history. Positions are the points' indices in the series."""

    def __init__(self, config: ForecastConfig, period: int | None) -> None:
        self.c, self.period = config, period
        self.values: dict[int, float] = {}  # the values of the points the state refers to
        self.usable: list[int] = []  # in-control points of the current regime
        self.errors: list[float] = []  # one-step forecast errors of judged points (not of confirmed shifts)
        self.error_at: list[int] = []
        self.seasonal: list[bool] = []  # per error: made by a forecast that knew the season
        self.calm: list[bool] = []  # per error: its point was not flagged
        self.run: list[int] = []  # consecutive flagged points, oldest first
        self.run_side = 0
        self.earlier: list[int] = []  # the baseline before the last new normal, while that one is young
        self.seen: list[int] = []  # every point not kept out (flagged ones too): the season is learnt from these
        self.regime_from = 0
        self.regime_known = False  # a regime after a shift or reset can re-form from few points
        self.up = self.down = 0.0
        self.up_from = self.down_from = 0
        self.last = -1  # the last position stepped

    # -- persistence --------------------------------------------------------------------------
    FIELDS = ("usable", "errors", "error_at", "seasonal", "calm", "run", "run_side", "earlier", "seen", "regime_from",
              "regime_known", "up", "down", "up_from", "down_from", "last")

    def to_json(self) -> dict[str, Any]:
        out = {f: (list(v) if isinstance(v := getattr(self, f), list) else v) for f in self.FIELDS}
        out["values"] = [[k, v] for k, v in sorted(self.values.items())]
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any], config: ForecastConfig, period: int | None, shift: int = 0) -> Chart:
        """A saved state, its positions moved by ``shift`` (the series is indexed afresh)."""
        chart = cls(config, period)
        for f in cls.FIELDS:
            setattr(chart, f, data[f])
        chart.values = {int(k) + shift: float(v) for k, v in data["values"]}
        for f in ("usable", "error_at", "run", "earlier", "seen"):
            setattr(chart, f, [int(i) + shift for i in getattr(chart, f)])
        for f in ("regime_from", "up_from", "down_from", "last"):
            setattr(chart, f, int(getattr(chart, f)) + shift)
        return chart

    def _trim(self) -> None:
        """Keep what later points can use: the windows of positions and errors."""
        c = self.c
        self.usable = self.usable[-c.window:]
        self.earlier = self.earlier[-c.window:]
        self.seen = self.seen[-c.season_window:]
        if len(self.errors) > c.errors:
            cut = len(self.errors) - c.errors
            self.errors, self.error_at = self.errors[cut:], self.error_at[cut:]
            self.seasonal, self.calm = self.seasonal[cut:], self.calm[cut:]
        keep = set(self.usable) | set(self.earlier) | set(self.seen) | set(self.run)
        self.values = {k: v for k, v in self.values.items() if k in keep}

    # -- one point ----------------------------------------------------------------------------
    def step(self, t: int, x: float | None, *, excluded: bool = False, reset: bool = False,
             material: float = 0.0, normal: bool = False, held: bool = False) -> dict[str, Any]:
        """Judge the point at position ``t`` (after every earlier one) and take it into the state;
        ``material`` raises the smallest change that alerts for this point; a ``normal`` point (an
        operator resolved its alert as a false alarm) goes into the baseline whatever it shows. A
        ``held`` point (an open incident holds its partition) is judged against the baseline before
        it and leaves the state as it was: never in a baseline, a run toward a new normal, the
        errors or the CUSUM, so out of range it alerts afresh. Returns the point's row."""
        row = self._judge(t, x, excluded, reset, material, held)
        if (normal and not held and x is not None and not excluded and t not in self.usable
                and row["center"] is not None):
            if self.run and self.run[-1] == t:
                self.run = []
            self.usable.append(t)
            if self.calm and self.error_at and self.error_at[-1] == t:
                self.calm[-1] = True
        self.last = t
        self._trim()
        return row

    def _judge(self, t: int, x: float | None, excluded: bool, reset: bool, material_here: float,
               held: bool = False) -> dict[str, Any]:
        """The point's row, its signals found in four steps: the forecast (``_fit``), the scale
        of its misses (``_scale``), the limits (``_limits``) and the rules (``_signals``)."""
        c = self.c
        if reset:
            self.usable, self.run, self.earlier, self.regime_known = [], [], [], bool(self.errors)
            self.up, self.down, self.regime_from = 0.0, 0.0, t
        row: dict[str, Any] = {"index": t, "value": x, "center": None, "lower": None, "upper": None,
                               "model": None, "z": None, "signals": []}
        if x is None:
            return row
        self.values[t] = x
        seen_before = list(self.seen)
        kept_out = excluded or held  # in no baseline, the season's neither
        if not kept_out:
            self.seen.append(t)
        base = self.usable[-c.window:]
        need = c.confirm if self.regime_known else c.min_points
        if len(base) < need:
            if not kept_out:
                self.usable.append(t)
            return row
        f, y = self._fit(t, base, seen_before)
        scale = self._scale(f, y, len(base))
        point = self._limits(t, x, row, f, scale, material_here)
        row.update(center=f.expected, lower=f.expected - point.half, upper=f.expected + point.half, z=point.z,
                   sigma=scale.sigma, df=scale.df, guard=scale.guard, model=MODEL + (", season" if f.seasonal else ""))
        self._signals(point, held=held, kept_out=kept_out)
        return row

    # -- the steps of one point ---------------------------------------------------------------
    def _fit(self, t: int, base: list[int], seen_before: list[int]) -> tuple[Fit, np.ndarray]:
        """The forecast at ``t`` from the baseline ``base``, with the season learnt from the
        points of the regime seen before ``t``; and the baseline's values."""
        c, period, values = self.c, self.period, self.values
        pos = np.array(base, dtype=float)
        y = np.array([values[i] for i in base], dtype=float)
        span = [i for i in seen_before[-c.season_window:] if i >= self.regime_from] if period else []
        f = fit(pos, y, t, period=period, trend=c.trend, alpha=c.season_alpha, memory=c.season_memory,
                season=(np.array(span, dtype=float), np.array([values[i] for i in span], dtype=float)) if span else None)
        return f, y

    def _scale(self, f: Fit, y: np.ndarray, points: int) -> _Scale:
        """σ from the series' own past forecast errors, the t tail they show and the guard
        (see the module's step 4); from the fit's residuals, widened, until there are enough
        errors (``points`` in the baseline)."""
        c = self.c
        floor = max(c.floor_absolute, c.floor_relative * abs(f.expected))
        recent = list(zip(self.errors[-c.errors:], self.seasonal[-c.errors:], self.calm[-c.errors:]))
        if f.seasonal:  # errors made before the season was known are no measure of this forecast
            known = [r for r in recent if r[1]]
            recent = known if len(known) >= c.min_errors else recent
        past = sorted(abs(e) for e, _, _ in recent)
        guard = 0.0
        if len(past) >= c.min_errors:
            sigma = MAD_SCALE * quantile(past, 0.5)
            if sigma <= floor and past[-1] > floor:
                sigma = 1.2533 * sum(past) / len(past)  # mostly exact, sometimes off (counts, rain): the mean error
            # The tail's shape and the largest misses from the points that were not anomalies, so
            # that a holiday does not widen the limits the next anomaly is judged against; but on
            # a bursty series, whose out-of-range points are more than BURSTY of its history (rain,
            # fog), the bursts are its nature and count too.
            flagged = sum(1 for _, _, ok in recent if not ok)
            bursty = c.bursty or flagged > BURSTY * len(recent)
            usual = past if bursty else sorted(abs(e) for e, _, ok in recent if ok)
            df = min(tail_df(usual), 0.37 * (len(usual) - 1))
            # and never an alert for a miss the series made three times lately (a count usually
            # exact and sometimes off by one, fog on a visibility mostly at its maximum)
            guard = usual[-3] if len(usual) >= 30 else 0.0
            if c.recurring and len(past) >= 30:  # nor for one it made ``recurring`` times, anomalies counted (fog)
                guard = max(guard, past[-c.recurring])
            if (c.bursty or flagged > VERY_BURSTY * len(recent)) and len(usual) >= 30:
                guard = max(guard, peaks_over_threshold(usual, c.alert_rate))
        else:
            spread = np.abs(f.residuals)
            sigma = 1.25 * MAD_SCALE * median(spread.tolist()) * math.sqrt(1 + 1 / points)
            if sigma <= floor and spread.size and float(spread.max()) > floor:
                sigma = 1.25 * 1.2533 * float(spread.mean())  # mostly constant in its first weeks, not always
            df = 0.37 * max(points - 1, 1)
        constant = (not past or past[-1] <= floor) and float(y.max() - y.min()) <= floor
        return _Scale(sigma=max(sigma, floor), df=df, guard=guard, floor=floor, constant=constant)

    def _limits(self, t: int, x: float, row: dict[str, Any], f: Fit, scale: _Scale, material_here: float) -> _Point:
        """The alert and warning limits around the forecast, and whether ``x`` lies beyond them
        by a change worth telling (``material_here`` or the config's materiality)."""
        c = self.c
        sigma, guard, floor = scale.sigma, scale.guard, scale.floor
        k_alert, k_warn = limit_for(c.alert_rate, scale.df), limit_for(c.warn_rate, scale.df)
        half = max(k_alert * sigma, guard)
        error = x - f.expected
        material = max(floor, c.material_absolute, material_here, c.material_relative * abs(f.expected))
        beyond_alert = abs(error) > half and abs(error) > material
        if beyond_alert and scale.constant and material <= floor:
            # constant so far: its first move has no history to be judged by; it alerts only when
            # a rule says what is material (row counts, nulls) or it moves by half its level, and
            # is a warning otherwise (the first rain after a dry month, a spread away from 0)
            beyond_alert = abs(f.expected) > floor and abs(error) > 0.5 * abs(f.expected)
        beyond_warn = abs(error) > max(k_warn * sigma, guard) and abs(error) > floor
        return _Point(t=t, x=x, row=row, fit=f, sigma=sigma, half=half, k_alert=k_alert, error=error,
                      z=error / sigma, beyond_alert=beyond_alert, beyond_warn=beyond_warn)

    def _signals(self, p: _Point, *, held: bool, kept_out: bool) -> None:
        """The rules on the point (see the module's steps 5 and 6), and the point taken into
        the state: back at the level before a young new normal, out of range (a run toward a
        new normal), unusual, the CUSUM; then its error and, in control, the baseline."""
        c, t = self.c, p.t
        if p.beyond_alert and self.earlier and len(self.usable) < c.window and self._back_to_before(p, held=held):
            return
        flagged = "shewhart" in c.methods and p.beyond_alert
        if flagged:
            if self._out_of_range(p, held=held):
                return
        else:
            if not held:
                self.run = []
            if "shewhart" in c.methods and p.beyond_warn:
                p.signal("shewhart", "unusual for this series", "warn", (t,))
        fired, up, down = self._cusum(p, flagged=flagged, held=held)
        if kept_out:
            return
        # anomalies too: the spread is robust to them, and a bursty series learns its bursts
        self._keep_error(t, p.error, p.fit.seasonal, calm=not flagged)
        if flagged:
            return
        self.up, self.down = (0.0, 0.0) if fired else (up, down)
        self.usable.append(t)

    def _back_to_before(self, p: _Point, *, held: bool) -> bool:
        """Whether a point out of range of a young new normal is back at the level before it (a
        storm's cancellations, an outage, are over): then that level is the baseline again,
        quietly, unless the point is held."""
        c = self.c
        old = self.earlier[-c.window:]
        before = fit(np.array(old, dtype=float), np.array([self.values[i] for i in old], dtype=float), p.t,
                     period=self.period, trend=c.trend, alpha=c.season_alpha)
        if not abs(p.x - before.expected) <= p.half:
            return False
        p.signal("shift", "back to the level before the last shift", "warn", (p.t,))
        if held:
            return True
        self.usable, self.earlier, self.run = [*self.earlier, p.t], [], []
        self.regime_from = self.usable[0]
        self._keep_error(p.t, p.x - before.expected, before.seasonal, calm=True)
        return True

    def _out_of_range(self, p: _Point, *, held: bool) -> bool:
        """An alert, or a step of the run toward a new normal; whether the run made one (then
        the baseline re-forms from the run's onset and nothing else is judged)."""
        c, t = self.c, p.t
        if held:  # neither joins nor starts a run: a held fault is never a new normal
            p.signal("shewhart", "outside the expected range", "alert", (t,))
        elif self.run:  # flagged again: on one side a level shift, on both a change of spread
            self.run.append(t)
            self.run_side = self.run_side if p.side == self.run_side else 0
            if len(self.run) >= (c.confirm if self.run_side else 2 * c.confirm):
                what = "level shift" if self.run_side else "change of spread"
                p.signal("shift", f"{what}: new normal", "warn", tuple(self.run))
                self.earlier, self.usable, self.regime_known = self.usable, list(self.run), True
                self.regime_from = self.run[0]
                keep = [j for j, i in enumerate(self.error_at) if i not in self.run]  # errors against the old level
                self.errors = [self.errors[j] for j in keep]
                self.error_at = [self.error_at[j] for j in keep]
                self.seasonal = [self.seasonal[j] for j in keep]
                self.calm = [self.calm[j] for j in keep]
                self.run, self.up, self.down = [], 0.0, 0.0
                return True
            p.signal("shift", f"still out of range ({len(self.run)} in a row)", "warn", tuple(self.run))
        else:
            self.run, self.run_side = [t], p.side
            p.signal("shewhart", "outside the expected range", "alert", (t,))
        return False

    def _cusum(self, p: _Point, *, flagged: bool, held: bool) -> tuple[bool, float, float]:
        """The CUSUM of the calibrated residual, clipped so that one outlier cannot drive it:
        whether it fired, and the sums after this point."""
        c, t = self.c, p.t
        z_alert = sigma_for_rate(c.alert_rate)
        u = max(-4.0, min(4.0, p.z * z_alert / p.k_alert)) if not flagged else 0.0
        new_up, new_down = max(0.0, u - c.cusum_k + self.up), max(0.0, -u - c.cusum_k + self.down)
        up_from = self.up_from if self.up > 0 else t
        down_from = self.down_from if self.down > 0 else t
        if not held:
            self.up_from, self.down_from = up_from, down_from
        fired = False
        if "cusum" in c.methods and not flagged:
            expected, sigma = p.fit.expected, p.sigma
            for sum_, start, sgn in ((new_up, up_from, 1), (new_down, down_from, -1)):
                if sum_ > c.cusum_h:
                    fired = True
                    p.signal("cusum", "level creeping away from the forecast", "alert" if c.cusum_alerts else "warn",
                             tuple(i for i in [*self.usable, t] if i >= start), value=expected + sgn * sigma * sum_,
                             lo=expected - sigma * c.cusum_h, hi=expected + sigma * c.cusum_h,
                             way="up" if sgn > 0 else "down")
        return fired, new_up, new_down

    def _keep_error(self, t: int, error: float, seasonal: bool, *, calm: bool) -> None:
        self.errors.append(error)
        self.error_at.append(t)
        self.seasonal.append(seasonal)
        self.calm.append(calm)
