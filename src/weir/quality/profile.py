"""Profile metrics: what every partition of every asset and source is measured on, with no
configuration. The aggregates run in the same scan as the checks; this module turns their raw
values into metric points and sketches (histograms on fixed bins, top frequencies).

Exact: row count, null fraction, min, max, mean, standard deviation, distinct count and the
top-20 frequencies. From a systematic sample of at most ``SAMPLE_ROWS`` rows (every k-th row,
so repeatable): p01/p50/p99 and the histogram. Partitions up to ``SAMPLE_ROWS`` rows are
measured exactly.

Histogram bins are fixed per (asset, column) the first time the column is profiled: equal-width
bins over the central 99% of that partition, widened by 5% each side, plus an underflow and an
overflow bin. These base edges define the column's grid: their first edge and width, and every
width a power of two times theirs. A later partition is counted on the base edges while they hold
it; one whose values have moved away (more than ``OUTSIDE`` of its sample beyond them: a summer
day against January's bins) or that is far narrower than they are is counted on a stretch of the
grid covering its own central 99%, so its histogram keeps its resolution. Each histogram carries
the edges it was counted on, all on one grid, so drift re-counts any two on common edges exactly
(``weir.monitoring.drift.align``) without rescanning reference data."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from weir.model.checks import type_family

SAMPLE_ROWS = 100_000
TOP_K = 20
BINS = 30
OUTSIDE = 0.1  # share of a partition's sample beyond its column's base edges that gives it its own
STRETCH_BINS = 45  # most bins of a partition's own edges: a day a little wider than the base keeps its width
FINEST = -20  # a stretch is at most 2**20 times finer than the base (floats keep its edges apart)
NUMERIC = ("int", "float", "decimal")
CATEGORICAL = ("string", "bool")
TEMPORAL = ("timestamp", "date")

TABLE = ""  # column name of table-level metrics (row_count, user metrics)
QUANTILES = {"p01": 0.01, "p50": 0.5, "p99": 0.99}


def column_kind(arrow_type: str) -> str | None:
    """'numeric', 'categorical', 'temporal' or None (profiled for nulls only)."""
    fam = type_family(arrow_type)
    if fam in NUMERIC or arrow_type.startswith("decimal"):
        return "numeric"
    if fam in CATEGORICAL or arrow_type.startswith("dictionary"):
        return "categorical"
    if fam in TEMPORAL:
        return "temporal"
    return None


def sample_step(rows: int | None) -> int:
    """Every k-th row is in the sample; k = 1 up to SAMPLE_ROWS rows."""
    return max(1, math.ceil((rows or 0) / SAMPLE_ROWS))


@dataclass(kw_only=True)
class ColumnProfile:
    column: str
    type: str
    kind: str | None
    metrics: dict[str, float | None] = field(default_factory=dict)
    histogram: dict | None = None  # {"edges": [...], "counts": [under, b1..bn, over], "n": sampled}
    top: list[list] | None = None  # [[value, count], ...] most frequent first
    other: int | None = None  # non-null rows outside the top values

    def sketch(self) -> dict:
        out: dict[str, Any] = {"type": self.type}
        if self.histogram is not None:
            out["histogram"] = self.histogram
        if self.top is not None:
            out["top"], out["other"] = self.top, self.other
        return out


@dataclass(kw_only=True)
class Profile:
    """One partition's measurements."""

    row_count: int
    schema: dict[str, str]
    columns: dict[str, ColumnProfile] = field(default_factory=dict)
    user: dict[str, float | None] = field(default_factory=dict)
    new_bins: dict[str, list[float]] = field(default_factory=dict)  # bins this partition fixed
    sampled: int = 0

    def points(self) -> list[tuple[str, str, float | None]]:
        """(column, metric, value) for every metric; table-level metrics have column ''."""
        out: list[tuple[str, str, float | None]] = [(TABLE, "row_count", float(self.row_count))]
        out += [(TABLE, name, v) for name, v in self.user.items()]
        for col in self.columns.values():
            out += [(col.column, m, v) for m, v in col.metrics.items()]
        return out

    def sketches(self) -> dict:
        return {name: c.sketch() for name, c in self.columns.items()}


def number(v: Any) -> float | None:
    """A metric value as a float; None for missing, NaN or infinite values."""
    if v is None:
        return None
    if hasattr(v, "timestamp"):  # datetime
        if getattr(v, "tzinfo", None) is None:
            import datetime as dt

            v = v.replace(tzinfo=dt.UTC)
        return float(v.timestamp())
    if hasattr(v, "toordinal"):  # date
        import datetime as dt

        return float(dt.datetime(v.year, v.month, v.day, tzinfo=dt.UTC).timestamp())
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def central(sample: np.ndarray) -> tuple[float, float]:
    """The range of the central 99% of a non-empty sample; its whole range when that is a point."""
    lo, hi = (float(x) for x in np.quantile(sample, [0.005, 0.995]))
    if hi <= lo:
        lo, hi = float(sample.min()), float(sample.max())
    return lo, hi


def fix_bins(sample: np.ndarray, is_int: bool) -> list[float]:
    """Edges for a column seen for the first time, from its (non-null) sample."""
    if sample.size == 0:
        return []
    lo, hi = central(sample)
    if is_int and hi - lo <= BINS * 2:
        # small integer ranges (hours, months, codes): one bin per value, centred on it
        lo, hi = math.floor(lo) - 0.5, math.ceil(hi) + 0.5
        return [float(x) for x in np.arange(lo, hi + 0.5, 1.0)]
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    pad = (hi - lo) * 0.05
    return [float(x) for x in np.linspace(lo - pad, hi + pad, BINS + 1)]


def grid(edges: list[float]) -> tuple[float, float] | None:
    """(first edge, width) of equal-width edges; None for edges that are not (or fewer than two)."""
    if len(edges) < 2:
        return None
    e = np.asarray(edges, dtype=float)
    width = float(e[-1] - e[0]) / (e.size - 1)
    if not width > 0 or not np.allclose(np.diff(e), width, rtol=1e-6, atol=1e-9 * float(np.abs(e).max())):
        return None
    return float(e[0]), width


def counting_edges(sample: np.ndarray, base: list[float], is_int: bool,
                   bounds: tuple[float, float] | None = None) -> list[float]:
    """The edges to count a partition's (non-null) sample on, given its column's base edges: the
    base edges while they hold it (at most ``OUTSIDE`` of the sample beyond them, and its central
    99% at least a quarter as wide as they are, or a single value); else the stretch of the base
    grid that covers its central 99% widened by 5% each side, in bins of the base width times the
    power of two that makes them at most ``STRETCH_BINS`` (never finer than the base for integer
    columns; the base width for a single value). ``bounds``: the sample's ``central`` range, when
    already known."""
    found = grid(base)
    if sample.size == 0 or found is None:
        return base
    origin, width = found
    lo, hi = bounds or central(sample)
    pad = (hi - lo) * 0.05
    span = hi - lo + 2 * pad
    narrow = not is_int and 0 < 4 * span < base[-1] - base[0]
    if not narrow and int(((sample < base[0]) | (sample > base[-1])).sum()) <= OUTSIDE * sample.size:
        return base
    level = 0 if span <= 0 else max(FINEST, math.ceil(math.log2(span / (STRETCH_BINS * width))))
    step = width * 2.0 ** (max(level, 0) if is_int else level)
    first = math.floor((lo - pad - origin) / step)
    last = max(math.ceil((hi + pad - origin) / step), first + 1)
    return [origin + step * k for k in range(first, last + 1)]


def histogram(sample: np.ndarray, edges: list[float]) -> dict:
    """Counts on fixed ``edges`` plus underflow (first) and overflow (last)."""
    e = np.asarray(edges, dtype=float)
    inner, _ = np.histogram(sample, bins=e)
    under = int((sample < e[0]).sum())
    over = int((sample > e[-1]).sum())
    return {"edges": [float(x) for x in e], "counts": [under, *(int(c) for c in inner), over], "n": int(sample.size)}


def finish_numeric(col: ColumnProfile, sample: Any, edges: list[float] | None, is_int: bool) -> list[float] | None:
    """Quantiles and histogram from the column's sample, counted on ``counting_edges`` of the
    column's base ``edges``; returns the base edges if they were fixed now (no ``edges`` yet)."""
    arr = np.asarray(sample if sample is not None else [], dtype=float)
    arr = arr[np.isfinite(arr)]
    bounds = None
    if arr.size:
        qs = [float(v) for v in np.quantile(arr, [0.005, *QUANTILES.values(), 0.995])]  # one pass for all
        col.metrics.update(dict(zip(QUANTILES, qs[1:-1])))
        bounds = (qs[0], qs[-1]) if qs[-1] > qs[0] else (float(arr.min()), float(arr.max()))
    else:
        col.metrics.update({name: None for name in QUANTILES})
    fixed = None
    if not edges:
        edges = fixed = fix_bins(arr, is_int) or None
    else:
        edges = counting_edges(arr, edges, is_int, bounds)
    if edges:
        col.histogram = histogram(arr, edges)
    return fixed
