"""Monitor settings: every metric series and every column's distribution is monitored with no
configuration; these objects tune, add or mute monitors per asset, column and metric. Later
settings win over earlier ones when several match a series."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import ClassVar

from weir.errors import ConfigError

METHODS = ("shewhart", "ewma", "cusum")
MODELS = ("forecast", "classic")  # the level-and-trend forecast chart; the textbook individuals chart


@dataclass(frozen=True, kw_only=True)
class Monitor:
    """Statistical process control on metric series. ``metric`` and ``column`` select the series
    ('*' or None: all; column '' is the table-level series such as row_count)."""

    kind: ClassVar[str] = "monitor"
    metric: str = "*"
    column: str | None = None
    methods: tuple[str, ...] | None = None
    sigma: float | None = None  # width of the individuals chart limits, in sigmas
    min_points: int | None = None  # warm-up: points needed before the series can signal
    seasonality: str | int | None = "auto"  # "auto", None (off), or a period in partitions
    model: str | None = None  # "forecast" (default) or "classic"
    mute: bool = False
    where: str = ""  # file:line of a checks.yml entry, for load errors

    def __post_init__(self) -> None:
        for m in self.methods or ():
            if m not in METHODS:
                raise ConfigError(f"monitor: method {m!r} must be one of {', '.join(METHODS)}")
        if self.sigma is not None and not (isinstance(self.sigma, (int, float)) and self.sigma > 0):
            raise ConfigError(f"monitor: sigma={self.sigma!r} must be a positive number")
        if self.min_points is not None and not (isinstance(self.min_points, int) and self.min_points >= 3):
            raise ConfigError(f"monitor: min_points={self.min_points!r} must be an integer >= 3")
        if self.model is not None and self.model not in MODELS:
            raise ConfigError(f"monitor: model={self.model!r} must be one of {', '.join(MODELS)}")
        if self.model == "forecast" and "ewma" in (self.methods or ()):
            raise ConfigError("monitor: method 'ewma' needs model='classic' (the forecast model has shewhart and cusum)")
        if not (self.seasonality in ("auto", None) or (isinstance(self.seasonality, int) and self.seasonality >= 2)):
            raise ConfigError(f"monitor: seasonality={self.seasonality!r} must be 'auto', None or a period >= 2")

    def matches(self, column: str, metric: str) -> bool:
        return (self.metric in ("*", metric)) and (self.column in (None, "*", column))


@dataclass(frozen=True, kw_only=True)
class Drift:
    """Distribution drift of columns against a reference: the previous ``window`` partitions, or
    a pinned range ``first``..``last``."""

    kind: ClassVar[str] = "drift"
    column: str | None = None
    window: int = 7
    first: str | None = None
    last: str | None = None
    mute: bool = False
    where: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.window, int) or self.window < 1:
            raise ConfigError(f"drift: window={self.window!r} must be a positive integer")
        if (self.first is None) != (self.last is None):
            raise ConfigError("drift: a pinned reference needs both first and last")

    def matches(self, column: str) -> bool:
        return self.column in (None, "*", column)

    @property
    def pinned(self) -> tuple[str, str] | None:
        """The pinned reference (first, last), or None for the previous ``window`` partitions."""
        if self.first is None or self.last is None:
            return None
        return self.first, self.last


def monitor(metric: str = "*", column: str | None = None, *, methods: Iterable[str] | None = None, sigma: float | None = None,
            min_points: int | None = None, seasonality: str | int | None = "auto", model: str | None = None) -> Monitor:
    return Monitor(metric=metric, column=column, methods=tuple(methods) if methods else None, sigma=sigma,
                   min_points=min_points, seasonality=seasonality, model=model)


def mute(metric: str = "*", column: str | None = None) -> Monitor:
    """Stop monitoring the matching series (e.g. ``weir.mute("max", column="air_time")``)."""
    return Monitor(metric=metric, column=column, mute=True)


def drift(column: str | None = None, *, window: int = 7, first: str | None = None, last: str | None = None,
          mute: bool = False) -> Drift:
    return Drift(column=column, window=window, first=first, last=last, mute=mute)


def settle_monitor(settings: Iterable[object], column: str, metric: str) -> Monitor:
    """The effective settings of one series: defaults overridden by every matching setting in order."""
    merged = Monitor()
    for s in settings:
        if isinstance(s, Monitor) and s.matches(column, metric):
            merged = Monitor(
                metric=metric, column=column, methods=s.methods or merged.methods,
                sigma=s.sigma if s.sigma is not None else merged.sigma,
                min_points=s.min_points if s.min_points is not None else merged.min_points,
                seasonality=s.seasonality if s.seasonality != "auto" else merged.seasonality,
                model=s.model or merged.model, mute=s.mute,
            )
    return merged


def settle_drift(settings: Iterable[object], column: str) -> Drift:
    merged = Drift()
    for s in settings:
        if isinstance(s, Drift) and s.matches(column):
            merged = s
    return merged


CONSTRUCTORS: dict[str, Callable[..., Monitor | Drift]] = {"monitor": monitor, "mute": mute, "drift": drift}

# every metric weir measures; user metrics of the asset or source come on top
PROFILE_METRICS = (
    "row_count", "null_fraction", "min", "max", "mean", "std", "p01", "p50", "p99", "distinct_count",
    "min_offset_s", "max_offset_s", "drift_score", "training_drift",
)


def setting_problem(setting: Monitor | Drift, user_metrics: Collection[str], columns: Collection[str]) -> str | None:
    """Why a monitor setting can never match a series of its asset or source (a misspelled
    metric, or a column a source's contract does not declare); None when it can."""
    import difflib

    if isinstance(setting, Monitor) and setting.metric not in ("*", *PROFILE_METRICS, *user_metrics):
        known = [*PROFILE_METRICS, *user_metrics]
        close = difflib.get_close_matches(setting.metric, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f"; metrics are: {', '.join(known)}"
        return f"monitor setting names unknown metric {setting.metric!r}{hint}"
    column = setting.column
    if columns and column not in (None, "*", "") and column not in columns:
        close = difflib.get_close_matches(column, list(columns), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"monitor setting names column {column!r}, which the contract does not declare{hint}"
    return None
