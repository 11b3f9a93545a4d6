"""Profile metrics: what every partition of every asset and source is measured on, with no
configuration. The aggregates run in the same scan as the checks; this module turns their raw
values into metric points and sketches (histograms on fixed bins, top frequencies).

Exact: row count, null fraction, min, max, mean, standard deviation, distinct count and the
top-20 frequencies. From a systematic sample of at most ``SAMPLE_ROWS`` rows (every k-th row,
so repeatable): p01/p50/p99 and the histogram. Partitions up to ``SAMPLE_ROWS`` rows are
measured exactly.

Histogram bins are fixed per (asset, column) the first time the column is profiled: equal-width
bins over the central 99% of that partition, widened by 5% each side, plus an underflow and an
overflow bin. Later partitions are counted on the same bins, so histograms stay comparable
across partitions and drift can be computed from them without rescanning reference data."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from weir.model.checks import type_family

SAMPLE_ROWS = 100_000
TOP_K = 20
BINS = 30
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


def fix_bins(sample: np.ndarray, is_int: bool) -> list[float]:
    """Edges for a column seen for the first time, from its (non-null) sample."""
    if sample.size == 0:
        return []
    lo, hi = (float(x) for x in np.quantile(sample, [0.005, 0.995]))
    if hi <= lo:
        lo, hi = float(sample.min()), float(sample.max())
    if is_int and hi - lo <= BINS * 2:
        # small integer ranges (hours, months, codes): one bin per value, centred on it
        lo, hi = math.floor(lo) - 0.5, math.ceil(hi) + 0.5
        return [float(x) for x in np.arange(lo, hi + 0.5, 1.0)]
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    pad = (hi - lo) * 0.05
    return [float(x) for x in np.linspace(lo - pad, hi + pad, BINS + 1)]


def histogram(sample: np.ndarray, edges: list[float]) -> dict:
    """Counts on fixed ``edges`` plus underflow (first) and overflow (last)."""
    e = np.asarray(edges, dtype=float)
    inner, _ = np.histogram(sample, bins=e)
    under = int((sample < e[0]).sum())
    over = int((sample > e[-1]).sum())
    return {"edges": [float(x) for x in e], "counts": [under, *(int(c) for c in inner), over], "n": int(sample.size)}


def finish_numeric(col: ColumnProfile, sample: Any, edges: list[float] | None, is_int: bool) -> list[float] | None:
    """Quantiles and histogram from the column's sample; returns edges if they were fixed now."""
    arr = np.asarray(sample if sample is not None else [], dtype=float)
    arr = arr[np.isfinite(arr)]
    if arr.size:
        qs = np.quantile(arr, list(QUANTILES.values()))
        col.metrics.update({name: float(v) for name, v in zip(QUANTILES, qs)})
    else:
        col.metrics.update({name: None for name in QUANTILES})
    fixed = None
    if not edges:
        edges = fixed = fix_bins(arr, is_int) or None
    if edges:
        col.histogram = histogram(arr, edges)
    return fixed
