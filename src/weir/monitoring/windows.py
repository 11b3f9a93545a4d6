"""A series as arrays, and the windows of usable points before each of its positions, built for
every position at once: what the classic chart's baselines and seasonal levels are computed on."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from weir.errors import ConfigError


def as_values(series: Sequence[float | None]) -> np.ndarray:
    """Floats with NaN for None and non-finite values."""
    x = np.array([np.nan if v is None else float(v) for v in series], dtype=float)
    x[~np.isfinite(x)] = np.nan
    return x


def mask(exclude: Sequence[bool] | None, n: int) -> np.ndarray:
    """``exclude`` as a boolean array of ``n`` points (none excluded when None)."""
    if exclude is None:
        return np.zeros(n, dtype=bool)
    if len(exclude) != n:
        raise ConfigError(f"spc: exclude has {len(exclude)} entries for {n} points")
    return np.asarray(exclude, dtype=bool)


def windows(x: np.ndarray, usable: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """For every position t, the last ``size`` usable values before t as a row (NaN-padded on
    the right) and how many there are."""
    values = x[usable]
    ends = np.cumsum(usable) - usable  # usable points strictly before t
    starts = np.maximum(ends - size, 0)
    count = ends - starts
    idx = starts[:, None] + np.arange(size)[None, :]
    valid = np.arange(size)[None, :] < count[:, None]
    rows = np.full(idx.shape, np.nan)
    if values.size:
        rows[valid] = values[idx[valid]]
    return rows, count


def row_median(rows: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Median of the first ``count`` entries of each NaN-padded row (NaN sorts last)."""
    s = np.sort(rows, axis=1)
    lo = np.maximum(count - 1, 0) // 2
    hi = np.maximum(count, 1) // 2
    r = np.arange(len(rows))
    med = 0.5 * (s[r, lo] + s[r, np.minimum(hi, rows.shape[1] - 1)])
    return np.where(count > 0, med, np.nan)
