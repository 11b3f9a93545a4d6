"""Drift of a column between a partition and a reference, from stored sketches only (the raw
data is never read again). No I/O here.

Sketches are what the profiler stores (``weir.quality.profile``):

- numeric: ``{"edges": [e0..en], "counts": [under, c1..cn, over], "n": sample size}``; inner
  bins are [e_i, e_i+1) as ``numpy.histogram`` counts them, on equal-width edges. Partitions of a
  column are counted on stretches of one grid (the column's base edges, or a stretch that
  follows values that moved away from them, at the base width times a power of two), so
  ``align`` re-counts any of them on common edges exactly; sketches stored before stretches
  existed are all on the base edges;
- categorical: ``{"top": [[value, count], ...], "other": rows outside the top values}``.

Either may also be passed as the whole column sketch (``{"type": ..., "histogram": {...}}`` or
``{"type": ..., "top": [...], "other": n}``).

A column has drifted when the change is both **significant** (two-sample KS or chi-square
p < ``alpha``, so small samples do not drift on noise) and **large** (an effect size at or above
its threshold, so huge samples do not drift on trivia). See ``DriftThresholds``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import special

from weir.errors import ConfigError, DataError

SMOOTHING = 0.5  # pseudo-count added to every bin for PSI (add-half, the Jeffreys prior)
COMMON_BINS = 4096  # most inner bins of common edges; ranges further apart are re-counted on wider ones


@dataclass(frozen=True, kw_only=True)
class DriftThresholds:
    """Effect sizes at which a significant change warns or drifts.

    - ``psi``: population stability index; 0.1 / 0.2 are the credit-scoring conventions
      ("slight" / "significant shift", Siddiqi 2006, Credit Risk Scorecards).
    - ``wasserstein``: W1 divided by the reference's σ (numeric). A mean shift of dσ gives d;
      a scale change by factor s gives |s − 1|·0.80 for a normal. 0.05 catches a 10% change of
      scale (0.08) and a 0.1σ shift (0.1); PSI alone would not (0.018 and 0.01).
    - ``js``: Jensen–Shannon distance, base 2, in [0, 1] (categorical). For small changes
      JS² ≈ PSI/(8 ln 2), so 0.1 ≈ PSI 0.055: a category losing half of a 10% share.
    - ``alpha``: significance of the two-sample test required on top of any effect.

    Measured on 40 pairs of independent 1,000,000-row samples of one distribution (normal on
    profiler bins; 20 categories): 0 drifted, 0 warned.
    """

    psi_warn: float = 0.1
    psi_drift: float = 0.2
    wasserstein_warn: float = 0.025
    wasserstein_drift: float = 0.05
    js_warn: float = 0.05
    js_drift: float = 0.1
    alpha: float = 1e-3
    vanished_share: float = 0.01  # smallest reference share of a vanished category worth reporting

    def __post_init__(self) -> None:
        pairs = [(self.psi_warn, self.psi_drift), (self.wasserstein_warn, self.wasserstein_drift),
                 (self.js_warn, self.js_drift)]
        if any(not 0 < warn <= drift for warn, drift in pairs) or not 0 < self.alpha < 1:
            raise ConfigError("drift: thresholds need 0 < warn <= drift and 0 < alpha < 1")


@dataclass(frozen=True, kw_only=True)
class Drift:
    """The verdict on one column. ``severity`` is ``alert`` when drifted, ``warn`` when the
    change is significant and above a warn threshold, else None. ``statistic``, ``value`` and
    ``threshold`` name the effect size closest to (or furthest past) its drift threshold."""

    column: str
    kind: str  # "numeric" or "categorical"
    statistics: dict[str, Any] = field(default_factory=dict)
    drifted: bool = False
    severity: str | None = None
    reason: str = ""
    statistic: str = ""
    value: float = 0.0
    threshold: float = 0.0


# -- numeric ---------------------------------------------------------------------------------------

def psi(ref_counts: npt.ArrayLike, cur_counts: npt.ArrayLike, *, smoothing: float = SMOOTHING) -> float:
    """PSI = Σ (q_i − p_i)·ln(q_i / p_i) over bins, with p_i = (r_i/R + ε)/(1 + εK) and
    q_i = (c_i/C + ε)/(1 + εK), ε = α/min(R, C): the smaller side gets α = ``smoothing`` added
    to each of its K bins, the larger the same share of its total, so equal shares give exactly 0
    however many more rows one side has (a reference of seven identical days against one).
    Bins empty on both sides are dropped first, so they add nothing; ε keeps a bin empty on one
    side finite."""
    r, c = np.asarray(ref_counts, dtype=float), np.asarray(cur_counts, dtype=float)
    if r.shape != c.shape:
        raise DataError(f"psi: {r.size} reference bins against {c.size} current bins")
    keep = (r > 0) | (c > 0)
    r, c = r[keep], c[keep]
    if r.size == 0 or r.sum() == 0 or c.sum() == 0:
        return 0.0
    eps = smoothing / min(r.sum(), c.sum())
    p = (r / r.sum() + eps) / (1 + eps * r.size)
    q = (c / c.sum() + eps) / (1 + eps * c.size)
    return float(np.sum((q - p) * np.log(q / p)))


def ks_from_histograms(ref: dict, cur: dict) -> tuple[float, float]:
    """Two-sample Kolmogorov–Smirnov (D, p-value) from binned CDFs: D = max over edges of
    |F_ref(e) − F_cur(e)|, p from the Kolmogorov distribution at (√n + 0.12 + 0.11/√n)·D
    (Stephens' small-sample correction) with n_eff = n_ref·n_cur/(n_ref + n_cur), as
    ``scipy.stats.ks_2samp`` does asymptotically: within 3% of ``scipy.stats.kstwo.sf(D, n_eff)``
    from n = 3 on, without importing scipy.stats (half a second of every run's start-up).
    Binning can only hide differences, so D ≤ the raw-data D and the p-value is conservative."""
    r, c = _counts(ref, cur)
    nr, nc = r.sum(), c.sum()
    if nr == 0 or nc == 0:
        return 0.0, 1.0
    d = float(np.max(np.abs(np.cumsum(r)[:-1] / nr - np.cumsum(c)[:-1] / nc)))
    n_eff = round(nr * nc / (nr + nc))
    root = math.sqrt(max(n_eff, 1))
    return d, float(special.kolmogorov((root + 0.12 + 0.11 / root) * d))


def wasserstein_from_histograms(ref: dict, cur: dict) -> tuple[float, float]:
    """(W1, W1/σ_ref): the 1-Wasserstein (earth mover's) distance with each bin's mass at its
    midpoint and the under/overflow mass at the outer edges (``scipy.stats.wasserstein_distance``
    with weights), and the same divided by the reference's σ on those points (at least a bin
    width/√12, the σ of one uniform bin), so thresholds are unit-free."""
    r, c = _counts(ref, cur)
    if r.sum() == 0 or c.sum() == 0:
        return 0.0, 0.0
    edges = np.asarray(ref["edges"], dtype=float)
    support = np.concatenate([[edges[0]], (edges[:-1] + edges[1:]) / 2, [edges[-1]]])
    # scipy.stats.wasserstein_distance on this sorted support: the area between the two CDFs
    w = float(np.sum(np.abs(np.cumsum(r)[:-1] / r.sum() - np.cumsum(c)[:-1] / c.sum()) * np.diff(support)))
    mean = np.average(support, weights=r)
    sigma = math.sqrt(float(np.average((support - mean) ** 2, weights=r)))
    floor = float(np.min(np.diff(edges))) / math.sqrt(12) if edges.size > 1 else 0.0
    sigma = max(sigma, floor)
    return w, (w / sigma if sigma > 0 else (0.0 if w == 0 else math.inf))


def numeric_drift(ref: dict, cur: dict) -> dict[str, Any]:
    """Statistics of two histograms: ``psi``, ``ks``, ``p_value`` (KS), ``wasserstein``,
    ``wasserstein_norm``, ``n_ref``, ``n_cur``."""
    ref, cur = _histogram(ref), _histogram(cur)
    r, c = _counts(ref, cur)
    d, p = ks_from_histograms(ref, cur)
    w, w_norm = wasserstein_from_histograms(ref, cur)
    return {"psi": psi(r, c), "ks": d, "p_value": p, "wasserstein": w, "wasserstein_norm": w_norm,
            "n_ref": int(r.sum()), "n_cur": int(c.sum())}


def _histogram(sketch: dict) -> dict:
    sketch = sketch.get("histogram", sketch)
    if not isinstance(sketch, dict) or "edges" not in sketch or "counts" not in sketch:
        raise DataError("drift: not a histogram sketch (needs 'edges' and 'counts')")
    if len(sketch["counts"]) != len(sketch["edges"]) + 1:
        raise DataError(f"drift: {len(sketch['edges'])} edges need {len(sketch['edges']) + 1} counts "
                        f"(under, bins, over), got {len(sketch['counts'])}")
    return sketch


def align(sketches: Sequence[dict]) -> list[dict]:
    """The histograms of ``sketches`` counted on common edges: the widest bins among them (the
    first such histogram's edges, extended at their width), over the union of their ranges; each
    bin's count goes to the common bin holding its midpoint, and an underflow (overflow) to the
    common bin just below its first (above its last) edge, or to the common underflow (overflow)
    at the union's end: mass beyond a narrower range lies next to it more often than not.
    Exact for histograms on one grid (the profiler's, ``weir.quality.profile``), whose finer bins
    nest in coarser ones. Histograms already on one set of edges are returned as they are.
    Raises ``DataError`` for a histogram whose edges are not equal-width."""
    hists = [_histogram(s) for s in sketches]
    if _same_edges(hists):
        return hists
    edges, counts = _common(hists)
    return [{"edges": edges, "counts": [int(c) for c in row], "n": int(h.get("n", sum(h["counts"])))}
            for h, row in zip(hists, counts)]


def _same_edges(hists: list[dict]) -> bool:
    first = list(hists[0]["edges"])
    return all(list(h["edges"]) == first for h in hists[1:])


def _common(hists: list[dict]) -> tuple[list[float], np.ndarray]:
    """Common edges of ``hists`` and their counts on them, one row each (see ``align``)."""
    sizes = np.array([len(h["edges"]) for h in hists])
    if sizes.min() < 2:
        raise DataError("drift: a histogram needs at least two edges")
    edges = np.fromiter(chain.from_iterable(h["edges"] for h in hists), dtype=float, count=int(sizes.sum()))
    ends = np.cumsum(sizes)
    lows, highs = edges[ends - sizes], edges[ends - 1]
    widths = (highs - lows) / (sizes - 1)
    # each edge where equal-width edges put it (all histograms at once: this runs per comparison)
    k = np.arange(edges.size) - np.repeat(ends - sizes, sizes)
    off = np.abs(edges - np.repeat(lows, sizes) - k * np.repeat(widths, sizes))
    if not np.all(widths > 0) or np.any(off > np.repeat(1e-6 * widths + 1e-9 * np.maximum(abs(lows), abs(highs)), sizes)):
        raise DataError("drift: histogram edges are not equal-width, so they cannot be re-counted on common edges")
    widest = int(np.argmax(widths))
    origin, step = float(lows[widest]), float(widths[widest])
    lo, hi = float(lows.min()), float(highs.max())
    while (hi - lo) / step > COMMON_BINS:
        step *= 2
    first = math.floor((lo - origin) / step + 1e-6)
    last = max(math.ceil((hi - origin) / step - 1e-6), first + 1)
    slots = last - first + 2  # underflow, inner bins, overflow
    # each bin's midpoint, the underflow and overflow taken as one more bin of the same width
    counted = sizes + 1
    j = np.arange(int(counted.sum())) - np.repeat(np.cumsum(counted) - counted, counted)
    mids = np.repeat(lows, counted) + (j - 0.5) * np.repeat(widths, counted)
    at = np.minimum(np.maximum(np.floor((mids - origin) / step).astype(np.int64) - first + 1, 0), slots - 1)
    row = np.repeat(np.arange(len(hists)), counted)
    weights = np.fromiter(chain.from_iterable(h["counts"] for h in hists), dtype=float, count=j.size)
    counts = np.bincount(row * slots + at, weights=weights, minlength=len(hists) * slots)
    common = [origin + step * i for i in range(first, last + 1)]
    return common, np.rint(counts).astype(np.int64).reshape(len(hists), slots)


def _counts(ref: dict, cur: dict) -> tuple[np.ndarray, np.ndarray]:
    ref, cur = _histogram(ref), _histogram(cur)
    if not np.array_equal(np.asarray(ref["edges"], dtype=float), np.asarray(cur["edges"], dtype=float)):
        raise DataError("drift: histograms have different bin edges")
    return np.asarray(ref["counts"], dtype=float), np.asarray(cur["counts"], dtype=float)


# -- categorical -----------------------------------------------------------------------------------

def categorical_drift(ref: dict, cur: dict, *, vanished_share: float = 0.01) -> dict[str, Any]:
    """Statistics of two top-value sketches: ``psi``, ``js_distance`` (Jensen–Shannon, base 2),
    ``chi2``/``p_value``/``dof`` (two-sample chi-square test of homogeneity,
    ``scipy.stats.chi2_contingency`` on the 2×k table of reference and current counts),
    ``new`` ([value, current share] for values in the current top but not the reference's),
    ``vanished`` ([value, reference share] for reference top values with a share of at least
    ``vanished_share`` missing from the current top), ``n_ref``, ``n_cur``.

    Table columns: values in both tops; values in one top that the other side provably lacks
    (its ``other`` is 0); and one ``other`` column. A value in one top that may hide in the
    other side's ``other`` is folded into ``other`` on its side too, so each column counts the
    same set of values on both sides and the test stays a true two-sample test."""
    (rt, ro), (ct, co) = _categories(ref), _categories(cur)
    nr, nc = sum(rt.values()) + ro, sum(ct.values()) + co
    columns = [v for v in rt if v in ct]
    columns += [v for v in ct if v not in rt and ro == 0] + [v for v in rt if v not in ct and co == 0]
    r = [rt.get(v, 0) for v in columns] + [nr - sum(rt.get(v, 0) for v in columns)]
    c = [ct.get(v, 0) for v in columns] + [nc - sum(ct.get(v, 0) for v in columns)]
    table = np.array([r, c], dtype=float)
    table = table[:, table.sum(axis=0) > 0]
    out: dict[str, Any] = {"psi": 0.0, "js_distance": 0.0, "chi2": 0.0, "p_value": 1.0, "dof": 0,
                           "n_ref": int(nr), "n_cur": int(nc)}
    if nr > 0 and nc > 0 and table.shape[1] > 1:
        chi2, p_value, dof = _chi2_homogeneity(table)
        out.update(psi=psi(table[0], table[1]), chi2=chi2, p_value=p_value, dof=dof,
                   js_distance=js_distance(table[0] / nr, table[1] / nc))
    out["new"] = [[v, n / nc] for v, n in ct.items() if v not in rt] if nc else []
    out["vanished"] = [[v, n / nr] for v, n in rt.items() if v not in ct and n / nr >= vanished_share] if nr else []
    return out


def _chi2_homogeneity(table: np.ndarray) -> tuple[float, float, int]:
    """(statistic, p-value, dof) of ``scipy.stats.chi2_contingency(table)`` for a 2×k table,
    Yates' correction included when dof is 1, computed directly: the scipy.stats call costs
    more than the arithmetic when every column of every partition is judged."""
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    dof = table.shape[1] - 1
    diff = np.abs(table - expected)
    if dof == 1:
        diff = np.maximum(diff - 0.5, 0.0)
    chi2 = float(np.sum(diff**2 / expected))
    return chi2, float(special.chdtrc(dof, chi2)), dof


def js_distance(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen–Shannon distance (base 2) of two distributions, as ``scipy.spatial.distance.jensenshannon``."""
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log2(a[mask] / m[mask])))

    return math.sqrt(max((kl(p) + kl(q)) / 2, 0.0))


def _categories(sketch: dict) -> tuple[dict, int]:
    """({value: count}, other) of a categorical sketch; list values become tuples (hashable)."""
    if "top" not in sketch:
        raise DataError("drift: not a categorical sketch (needs 'top')")
    top = {(tuple(v) if isinstance(v, list) else v): int(n) for v, n in sketch["top"] or []}
    return top, int(sketch.get("other") or 0)


# -- references ------------------------------------------------------------------------------------

def merge(sketches: Sequence[dict]) -> dict:
    """One reference sketch from several partitions' sketches of a column (e.g. the previous N):
    histograms sum their counts on common edges (``align``); top values are united and summed,
    most frequent first. A value that was outside some partition's top is counted in ``other``
    for that partition, so the merged total is exact and that value's count is a lower bound."""
    if not sketches:
        raise DataError("drift: no sketches to merge")
    if all(_kind(s) == "numeric" for s in sketches):
        hists = [_histogram(s) for s in sketches]
        n = int(sum(h.get("n", 0) for h in hists))
        if _same_edges(hists):
            edges, counts = list(hists[0]["edges"]), np.array([h["counts"] for h in hists], dtype=np.int64)
        else:
            edges, counts = _common(hists)
        return {"edges": edges, "counts": [int(v) for v in counts.sum(axis=0)], "n": n}
    totals: dict = {}
    other = 0
    for s in sketches:
        top, o = _categories(s)
        other += o
        for v, n in top.items():
            totals[v] = totals.get(v, 0) + n
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])
    return {"top": [[list(v) if isinstance(v, tuple) else v, n] for v, n in ranked], "other": other}


# -- the verdict -----------------------------------------------------------------------------------

def judge(column: str, ref: dict, cur: dict, *, thresholds: DriftThresholds = DriftThresholds()) -> Drift:
    """Whether ``column`` drifted from ``ref`` (one sketch, see ``merge``) to ``cur``; histograms
    on different edges are compared on common ones (``align``). Raises ``DataError`` when the
    sketches cannot be compared."""
    th = thresholds
    numeric = _kind(cur) == "numeric"
    if numeric:
        ref, cur = align([ref, cur])
    s = numeric_drift(ref, cur) if numeric else categorical_drift(ref, cur, vanished_share=th.vanished_share)
    effects = [("psi", "PSI", th.psi_warn, th.psi_drift)]
    effects.append(("wasserstein_norm", "W1/σ", th.wasserstein_warn, th.wasserstein_drift) if numeric
                   else ("js_distance", "JS distance", th.js_warn, th.js_drift))
    sized = [(key, label, s[key], warn, drift) for key, label, warn, drift in effects]
    test = "KS" if numeric else "chi-square"
    significant = s["p_value"] < th.alpha
    big = [f"{label} {v:.3g} ≥ {drift:g}" for _, label, v, _, drift in sized if v >= drift]
    notable = [f"{label} {v:.3g} ≥ {warn:g}" for _, label, v, warn, _ in sized if v >= warn]
    drifted = significant and bool(big)
    severity = "alert" if drifted else ("warn" if significant and notable else None)
    if severity:
        reason = "; ".join(big or notable) + f"; {test} {_p(s['p_value'])}"
    elif significant:
        sizes = ", ".join(f"{label} {v:.3g}" for _, label, v, _, _ in sized)
        reason = f"significant ({test} {_p(s['p_value'])}) but small: {sizes}"
    else:
        reason = f"no significant change ({test} {_p(s['p_value'])})"
    if not numeric:
        reason += "".join(f"; new {v!r} ({share:.1%})" for v, share in s["new"][:3])
        reason += "".join(f"; vanished {v!r} (was {share:.1%})" for v, share in s["vanished"][:3])
    key, _, value, _, drift = max(sized, key=lambda e: e[2] / e[4])
    return Drift(column=column, kind="numeric" if numeric else "categorical", statistics=s, drifted=drifted,
                 severity=severity, reason=reason, statistic=key, value=float(value), threshold=drift)


def compare(references: Sequence[dict | None], current: dict, *, column: str,
            thresholds: DriftThresholds = DriftThresholds()) -> Drift | None:
    """``judge`` of ``current`` against the merged ``references`` (e.g. the previous N partitions'
    sketches of the column); None when there is nothing to compare: no reference sketch, a
    sketch with neither histogram nor top values, kinds that differ, or histograms on
    edges that cannot be aligned (not equal-width)."""
    refs = [r for r in references if r]
    kind = _kind(current)
    if not refs or kind is None or any(_kind(r) != kind for r in refs):
        return None
    try:
        if kind == "numeric":  # one re-count of all of them, not one for the merge and one for the judge
            refs, current = _merged_on_common_edges(refs, current)
        return judge(column, merge(refs), current, thresholds=thresholds)
    except DataError:
        return None


def _merged_on_common_edges(refs: list[dict], current: dict) -> tuple[list[dict], dict]:
    """([the merged reference], current), both on common edges (``align``) if theirs differ."""
    hists = [_histogram(s) for s in (*refs, current)]
    if _same_edges(hists):
        return refs, current
    edges, counts = _common(hists)
    ref = {"edges": edges, "counts": [int(c) for c in counts[:-1].sum(axis=0)],
           "n": int(sum(h.get("n", 0) for h in hists[:-1]))}
    return [ref], {"edges": edges, "counts": [int(c) for c in counts[-1]], "n": int(hists[-1].get("n", 0))}


def _kind(sketch: dict) -> str | None:
    if sketch.get("histogram") is not None or "edges" in sketch:
        return "numeric"
    if sketch.get("top") is not None:
        return "categorical"
    return None


def _p(p: float) -> str:
    return "p < 1e-300" if p == 0 else f"p = {p:.2g}"
