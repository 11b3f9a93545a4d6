"""weir's monitoring policy, in one place: which series are judged and how (baseline window,
alert limit, season), the severity of each signal, and the state of each judged point. The
evaluator applies it when it judges new points and stores the result; every view reads what was
stored."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from weir.model.partitions import Daily, Hourly, PartitionScheme
from weir.monitoring import forecast, spc
from weir.monitoring.tails import rate_for_sigma

if TYPE_CHECKING:
    from weir.model.monitors import Monitor
    from weir.monitoring.history import History

ALERT = "alert"


def season_of(scheme: PartitionScheme) -> int | None:
    """The season to compare like with like: day of week for daily partitions, hour of day for hourly."""
    if isinstance(scheme, Daily):
        return 7
    if isinstance(scheme, Hourly):
        return 24
    return None


# The classic individuals chart (``model="classic"``): a 28-partition baseline and 5σ alerts.
CLASSIC = spc.SpcConfig(window=28, alert_sigma=5.0)
# weir's default model, the forecast chart, with its defaults (see ``forecast.ForecastConfig``).
DEFAULTS = forecast.ForecastConfig()
# The smallest change that alerts, per metric (relative to the expected value, absolute): a day
# one hour short of 72 readings, a first null in a column, a spread 10% wider, is shown as a
# warning, not paged. A mean must move by 0.3 of the column's spread within a partition
# (``MEAN_EFFECT``, a small effect in Cohen's terms): the mean of a 15-row summary moving with
# which carriers flew that day is not worth a page, a unit change or a 30-minute shift is.
MATERIAL: dict[str, tuple[float, float]] = {
    "row_count": (0.05, 0.0), "distinct_count": (0.05, 0.0), "null_fraction": (0.0, 0.05), "std": (0.3, 0.0),
    # timestamps measured from the partition's start move by an hour on the days clocks change
    "min_offset_s": (0.0, 7200.0), "max_offset_s": (0.0, 7200.0),
    # a drift score is the effect size over its threshold: below 1 the distribution did not move enough
    "drift_score": (0.0, 1.0), "training_drift": (0.0, 1.0),
}
MEAN_EFFECT = 0.3


def model_of(settings: Monitor) -> str:
    """The chart a series is judged with: ``forecast`` unless a setting asks for ``classic``
    (or for the EWMA, which only the classic chart has)."""
    if settings.model:
        return settings.model
    return "classic" if "ewma" in (settings.methods or ()) else "forecast"


def spc_config(settings: Monitor) -> spc.SpcConfig:
    """The classic chart's SpcConfig from a series' settings: ``sigma`` sets the alerting limit."""
    config = CLASSIC
    if settings.methods:
        config = dataclasses.replace(config, methods=tuple(settings.methods))
    if settings.sigma is not None:
        config = dataclasses.replace(config, alert_sigma=float(settings.sigma), sigma=min(config.sigma, float(settings.sigma)))
    if settings.min_points is not None:
        config = dataclasses.replace(config, min_points=settings.min_points, window=max(config.window, settings.min_points))
    return config


def forecast_config(settings: Monitor, metric: str) -> forecast.ForecastConfig:
    """The forecast chart's settings for one series: ``sigma`` sets the alert limit as the
    normal-tail rate it stands for (5σ: 5.7e-7 per point), ``min_points`` the warm-up."""
    config = DEFAULTS
    relative, absolute = MATERIAL.get(metric, (0.0, 0.0))
    config = dataclasses.replace(config, material_relative=relative, material_absolute=absolute)
    if settings.methods:
        config = dataclasses.replace(config, methods=tuple(m for m in settings.methods if m in forecast.METHODS))
    if settings.sigma is not None:
        rate = rate_for_sigma(float(settings.sigma))
        config = dataclasses.replace(config, alert_rate=rate, warn_rate=max(rate, config.warn_rate))
    if settings.min_points is not None:
        config = dataclasses.replace(config, min_points=settings.min_points, window=max(config.window, settings.min_points))
    if settings.methods and "cusum" in settings.methods:
        config = dataclasses.replace(config, cusum_alerts=True)
    return config


LEVEL_METRICS = ("min", "max", "mean", "p01", "p50", "p99")
# Extremes and the median are measured and charted but not monitored unless a setting names
# them: one odd row moves an extreme, and the median of discrete values (schedule times,
# distances) jumps between neighbours on ordinary days. Drift watches the whole distribution.
TAIL_METRICS = ("min", "max", "p01", "p50", "p99")
# partitions of history charted before the first new one: the forecast's window and the errors
# its limits are drawn from (56 + 90)
TAIL = DEFAULTS.season_window + DEFAULTS.errors
DRIFT_SCORE = "drift_score"
TRAINING_DRIFT = "training_drift"  # per model feature: drift vs the model's training data  # per column: the drift effect size over its threshold, vs the reference
ALERTING = ("shewhart",)  # methods whose signals alert by default; EWMA and CUSUM warn unless named
FAMILY = {"shift": "shewhart"}  # the forecast chart's level-shift notes belong to its point rule


def policy_severity(sig: spc.Signal, settled: Monitor, metric: str) -> str | None:
    """weir's severity for one chart signal, as stored and shown: None when it is dropped (its
    method not selected; a drift score lower than usual), ``warn`` for EWMA and CUSUM unless a
    setting names their method. A drift score's alert also needs the drift verdict, which only
    the evaluation has: views take it from the stored signals."""
    method = FAMILY.get(sig.method, sig.method)
    if settled.methods and method not in settled.methods:
        return None
    if metric in (DRIFT_SCORE, TRAINING_DRIFT) and sig.direction != "up":
        return None  # less drift than usual is no problem
    if sig.severity == ALERT and method not in (settled.methods or ALERTING):
        return "warn"
    return sig.severity


def partition_constant(history: History, share: float = 0.9) -> set[str]:
    """Columns holding one value per partition (year, month, a load date...): their level
    changes with the partition by design, so only their nulls and spread are monitored unless a
    setting names them."""
    out = set()
    for (col, metric), by_key in history.series.items():
        if metric != "std" or not by_key:
            continue
        spreads = [v for v in by_key.values() if v is not None]
        if spreads and sum(1 for v in spreads if abs(v) <= 1e-12) >= share * len(spreads):
            out.add(col)
    return out


def point_state(point: dict | None, signals: list[dict]) -> str:
    """How one point was judged, as stored and shown: muted, warming up, alert, warn or in control."""
    if point is None:
        return "muted"
    if point["center"] is None:
        return "warming up"
    severities = {s["severity"] for s in signals}
    return ALERT if ALERT in severities else "warn" if severities else "in control"
