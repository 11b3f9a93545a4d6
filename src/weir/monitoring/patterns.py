"""Rules over a whole partition rather than one series, from the stored metrics only:

- **repeat**: a partition identical, in every measured statistic, to the one before it (the
  same file delivered again), on data whose partitions usually differ;
- **stuck**: a numeric column holding one value on every row (a stuck sensor, a default filled
  in), when it usually varies within a partition.

And the plain-words message of a series signal, in the data's own units."""

from __future__ import annotations

import itertools
import math

# statistics that differ between two deliveries of the same rows: time offsets are measured from
# the partition's start, and drift scores compare with neighbours
NOT_CONTENT = ("min_offset_s", "max_offset_s", "drift_score", "training_drift")
LOOKBACK = 28  # partitions whose behaviour says what is usual
USUAL = 0.9  # share of those partitions that must show the usual behaviour
STUCK_ROWS = 10  # fewer rows than this may well hold one value by chance (three airports' daily maxima)


def _fingerprint(series: dict[tuple[str, str], dict[str, float | None]], key: str) -> tuple | None:
    items = tuple(sorted((col, m, by_key.get(key)) for (col, m), by_key in series.items() if m not in NOT_CONTENT))
    present = [v for _, _, v in items if v is not None]
    return items if present else None


def _same(a: tuple, b: tuple) -> bool:
    if len(a) != len(b):
        return False
    for (c1, m1, v1), (c2, m2, v2) in zip(a, b):
        if (c1, m1) != (c2, m2) or (v1 is None) != (v2 is None):
            return False
        if v1 is not None and not math.isclose(v1, v2, rel_tol=1e-12, abs_tol=1e-12):
            return False
    return True


def repeats(order: list[str], series: dict, skip: set[str], new: list[str]) -> dict[str, str]:
    """New key -> the earlier key it repeats, when partitions of this data usually differ."""
    usable = [k for k in order if k not in skip]
    rows = series.get(("", "row_count"), {})
    out = {}
    for key in new:
        before = [k for k in usable if k < key]
        if not before or (rows.get(key) or 0) < 2:
            continue
        mine, previous = _fingerprint(series, key), _fingerprint(series, before[-1])
        if mine is None or previous is None or not _same(mine, previous):
            continue
        recent = before[-LOOKBACK:]
        pairs = list(itertools.pairwise(recent))
        if len(pairs) < 7:
            continue
        prints = {k: _fingerprint(series, k) for k in recent}
        alike = 0
        for a, b in pairs:
            pa, pb = prints[a], prints[b]
            alike += pa is not None and pb is not None and _same(pa, pb)
        if alike <= (1 - USUAL) * len(pairs):
            out[key] = before[-1]
    return out


def stuck(order: list[str], series: dict, skip: set[str], new: list[str]) -> dict[str, list[tuple[str, float]]]:
    """New key -> [(column, its one value)] for numeric columns with one value on every row of
    that partition, when they usually vary within a partition."""
    usable = [k for k in order if k not in skip]
    rows = series.get(("", "row_count"), {})
    out: dict[str, list[tuple[str, float]]] = {}
    for (col, m), spreads in series.items():
        if m != "std" or not col:
            continue
        means = series.get((col, "mean"), {})
        for key in new:
            spread, mean = spreads.get(key), means.get(key)
            if spread is None or mean is None or (rows.get(key) or 0) < STUCK_ROWS or spread > 1e-9 * max(1.0, abs(mean)):
                continue
            recent = [spreads.get(k) for k in usable if k < key][-LOOKBACK:]
            recent = [v for v in recent if v is not None]
            if len(recent) >= 7 and sum(1 for v in recent if v > 1e-9 * max(1.0, abs(mean))) >= USUAL * len(recent):
                out.setdefault(key, []).append((col, float(mean)))
    return out


def number(v: float) -> str:
    """A value as people read it: 4 significant digits, no exponent for everyday sizes."""
    if v == 0 or 1e-3 <= abs(v) < 1e7:
        text = f"{v:.4g}" if abs(v) < 1e4 else f"{v:,.0f}"
        return text
    return f"{v:.3g}"


def message(column: str, metric: str, value: float | None, expected: float | None) -> str:
    """"temp mean 40.1 lower than expected (24.4 vs 64.5, ×0.38)": how far and which way a
    point moved from its forecast, in the data's units."""
    series = f"{column} {metric}" if column else metric
    if value is None or expected is None:
        return f"{series} moved"
    diff = value - expected
    way = "higher" if diff > 0 else "lower"
    ratio = ""
    if expected != 0 and value / expected > 0 and not 0.9 < value / expected < 1.1:
        ratio = f", ×{value / expected:.3g}"
    return f"{series} {number(abs(diff))} {way} than expected ({number(value)} vs {number(expected)}{ratio})"
