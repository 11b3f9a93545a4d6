"""Drift from stored sketches: each statistic against SciPy on the same data, references merged
from several partitions, and the verdict calibrated on 1,000,000-row samples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from weir.errors import ConfigError, DataError
from weir.monitoring.drift import (
    DriftThresholds,
    align,
    categorical_drift,
    compare,
    judge,
    ks_from_histograms,
    merge,
    numeric_drift,
    psi,
    wasserstein_from_histograms,
)
from weir.quality.profile import fix_bins, histogram

MILLION = 1_000_000


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def fine(a: np.ndarray, b: np.ndarray, bins: int = 2000) -> tuple[dict, dict]:
    """Histograms of two samples on shared, fine edges covering both."""
    edges = list(np.linspace(min(a.min(), b.min()), max(a.max(), b.max()), bins + 1))
    return histogram(a, edges), histogram(b, edges)


def categories(counts, other: int = 0) -> dict:
    return {"top": [[f"v{i}", int(n)] for i, n in enumerate(counts) if n], "other": other}


# -- statistics against their formulas and SciPy ---------------------------------------------------

def test_psi_follows_the_formula_with_add_half_smoothing():
    ref, cur = [10, 20, 0, 0, 70], [20, 20, 0, 5, 55]
    # the bin empty on both sides is dropped; 0.5 is added to the 4 others
    p = (np.array([10, 20, 0, 70]) + 0.5) / (100 + 2)
    q = (np.array([20, 20, 5, 55]) + 0.5) / (100 + 2)
    assert psi(ref, cur) == pytest.approx(float(np.sum((q - p) * np.log(q / p))))
    assert psi(ref, ref) == 0.0


def test_psi_of_equal_shares_is_zero_whatever_the_sizes():
    """A reference of seven identical days against one more: no change, so no score."""
    day = [0, 1, 0, 1, 2, 3, 6, 2, 7, 3]
    assert psi([7 * v for v in day], day) == 0.0
    assert psi(day, [3 * v for v in day]) == 0.0
    # the smaller side gets add-half, the larger the same share of its total
    ref, cur = np.array([70, 140, 0, 35]), np.array([20, 20, 5, 5])
    eps = 0.5 / 50
    p, q = (ref / 245 + eps) / (1 + 4 * eps), (cur / 50 + eps) / (1 + 4 * eps)
    assert psi(ref, cur) == pytest.approx(float(np.sum((q - p) * np.log(q / p))))


def test_ks_from_fine_histograms_is_close_to_ks_2samp():
    a, b = rng(1).standard_normal(20_000), rng(2).normal(0.1, 1.1, 30_000)
    d, p = ks_from_histograms(*fine(a, b))
    exact = stats.ks_2samp(a, b)
    assert d == pytest.approx(exact.statistic, abs=2e-3)
    assert d <= exact.statistic + 1e-12  # binning can only hide differences
    assert p < 1e-10 and exact.pvalue < 1e-10
    _, same_p = ks_from_histograms(*fine(a, rng(3).standard_normal(20_000)))
    assert same_p > 1e-3


def test_ks_p_value_uses_the_effective_sample_size():
    ref = {"edges": [0.0, 1.0], "counts": [0, 600, 400], "n": 1000}
    cur = {"edges": [0.0, 1.0], "counts": [0, 500, 500], "n": 1000}
    d, p = ks_from_histograms(ref, cur)
    assert d == pytest.approx(0.1)
    assert p == pytest.approx(float(stats.kstwo.sf(0.1, 500)), rel=0.03)


def test_wasserstein_from_histograms_is_close_to_scipy_on_raw_values():
    a, b = rng(4).standard_normal(50_000), rng(5).normal(0.3, 1.2, 50_000)
    w, w_norm = wasserstein_from_histograms(*fine(a, b))
    exact = stats.wasserstein_distance(a, b)
    assert w == pytest.approx(exact, rel=0.02)
    assert w_norm == pytest.approx(exact / a.std(), rel=0.03)


def test_normalised_wasserstein_is_unit_free():
    a, b = rng(6).standard_normal(20_000), rng(7).normal(0.2, 1.0, 20_000)
    _, in_units = wasserstein_from_histograms(*fine(a, b, 300))
    _, in_thousands = wasserstein_from_histograms(*fine(1000 * a + 5, 1000 * b + 5, 300))
    assert in_units == pytest.approx(in_thousands, rel=1e-6)
    assert in_units == pytest.approx(0.2, abs=0.03)


def test_chi_square_is_the_two_sample_test_of_homogeneity_on_the_table():
    ref = {"top": [["a", 500], ["b", 300], ["c", 150]], "other": 50}
    cur = {"top": [["a", 420], ["b", 330], ["c", 200]], "other": 70}
    s = categorical_drift(ref, cur)
    table = np.array([[500, 300, 150, 50], [420, 330, 200, 70]])
    expected = stats.chi2_contingency(table)
    assert (s["chi2"], s["p_value"], s["dof"]) == pytest.approx((expected.statistic, expected.pvalue, 3))
    assert s["js_distance"] == pytest.approx(float(jensenshannon(table[0] / 1000, table[1] / 1020, base=2)))
    assert s["psi"] == pytest.approx(psi(table[0], table[1]))


def test_categories_missing_from_one_top_are_compared_only_when_provably_absent():
    # "d" is in the current top; the reference has other rows, so "d" may hide there: it is folded into other
    ref = {"top": [["a", 500], ["b", 300]], "other": 200}
    cur = {"top": [["a", 480], ["d", 320]], "other": 200}
    s = categorical_drift(ref, cur)
    assert s["dof"] == 1  # columns: a, other (b and d folded on both sides)
    table = np.array([[500, 500], [480, 520]])
    assert s["chi2"] == pytest.approx(stats.chi2_contingency(table).statistic)
    # with a complete reference top, "d" provably did not exist before
    complete = categorical_drift({"top": [["a", 600], ["b", 400]], "other": 0}, cur)
    assert complete["dof"] == 2  # a, d, other ("b" may hide in the current other, so it is folded)
    assert complete["chi2"] == pytest.approx(stats.chi2_contingency(np.array([[600, 0, 400], [480, 320, 200]])).statistic)
    assert complete["new"] == [["d", pytest.approx(320 / 1000)]]


def test_new_and_vanished_categories_are_reported_with_their_shares():
    ref = {"top": [["a", 900], ["b", 95], ["c", 5]], "other": 0}
    cur = {"top": [["a", 950], ["z", 50]], "other": 0}
    s = categorical_drift(ref, cur)
    assert s["new"] == [["z", pytest.approx(0.05)]]
    assert s["vanished"] == [["b", pytest.approx(0.095)]]  # "c" (0.5%) is below the 1% floor


# -- references ------------------------------------------------------------------------------------

def test_a_reference_merges_histograms_by_summing_counts():
    edges = [0.0, 1.0, 2.0]
    parts = [{"edges": edges, "counts": [1, 2, 3, 4], "n": 10}, {"edges": edges, "counts": [0, 5, 5, 0], "n": 10}]
    assert merge(parts) == {"edges": edges, "counts": [1, 7, 8, 4], "n": 20}
    assert merge([{"type": "double", "histogram": p} for p in parts])["counts"] == [1, 7, 8, 4]
    with pytest.raises(DataError):
        merge([parts[0], {"edges": [0.0, 1.0, 3.0], "counts": [0, 1, 1, 0], "n": 2}])


def test_a_reference_unites_top_values_keeping_the_total():
    parts = [{"top": [["a", 10], ["b", 5]], "other": 2}, {"top": [["b", 9], ["c", 1]], "other": 0}]
    merged = merge(parts)
    assert merged == {"top": [["b", 14], ["a", 10], ["c", 1]], "other": 2}
    assert sum(n for _, n in merged["top"]) + merged["other"] == 27
    with pytest.raises(DataError):
        merge([])


def test_statistics_refuse_histograms_on_different_edges():
    a = {"edges": [0.0, 1.0], "counts": [0, 1, 0], "n": 1}
    with pytest.raises(DataError):
        ks_from_histograms(a, {"edges": [0.0, 2.0], "counts": [0, 1, 0], "n": 1})
    with pytest.raises(DataError):
        numeric_drift(a, {"edges": [0.0, 1.0], "counts": [1, 0], "n": 1})


# -- the verdict -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def normal_reference() -> tuple[list[float], dict]:
    """Profiler bins fixed on a reference partition, and its histogram (1M rows)."""
    sample = rng(10).standard_normal(MILLION)
    edges = fix_bins(sample, is_int=False)
    return edges, histogram(sample, edges)


def test_identical_distributions_at_one_million_rows_rarely_drift(normal_reference):
    edges, _ = normal_reference
    # binned counts of 1M i.i.d. normal rows are exactly multinomial on the bins' probabilities
    e = np.asarray(edges)
    probs = np.diff(np.concatenate([[0.0], stats.norm.cdf(e), [1.0]]))
    shares = np.arange(20, 0, -1.0) / 210  # 20 categories, most frequent 9.5%
    numeric = categorical = 0
    for seed in range(40):
        g = rng(100 + seed)
        ref, cur = ({"edges": edges, "counts": g.multinomial(MILLION, probs).tolist(), "n": MILLION} for _ in "rc")
        numeric += judge("x", ref, cur).drifted
        categorical += judge("c", categories(g.multinomial(MILLION, shares)),
                             categories(g.multinomial(MILLION, shares))).drifted
    assert numeric <= 2 and categorical <= 2  # ≤ 5% of 40; measured 0 and 0


def test_an_independent_sample_on_profiler_bins_does_not_drift(normal_reference):
    edges, ref = normal_reference
    verdict = judge("x", {"type": "double", "histogram": ref},
                    {"type": "double", "histogram": histogram(rng(11).standard_normal(MILLION), edges)})
    assert (verdict.drifted, verdict.severity, verdict.kind) == (False, None, "numeric")


@pytest.mark.parametrize("name, transform", [
    ("scale x1.1", lambda x: 1.1 * x),
    ("shift +0.2σ", lambda x: x + 0.2),
    ("shift +0.1σ", lambda x: x + 0.1),
])
def test_material_numeric_changes_drift(normal_reference, name, transform):
    edges, ref = normal_reference
    verdict = judge("x", ref, histogram(transform(rng(12).standard_normal(MILLION)), edges))
    assert verdict.drifted and verdict.severity == "alert", verdict.reason
    assert "W1/σ" in verdict.reason


def test_a_vanished_category_with_a_5_percent_share_drifts():
    shares = np.full(20, 0.05)
    gone = shares.copy()
    gone[7] = 0.0
    ref = categories(rng(13).multinomial(MILLION, shares))
    cur = categories(rng(14).multinomial(MILLION, gone / gone.sum()))
    verdict = judge("country", ref, cur)
    assert verdict.drifted and verdict.kind == "categorical"
    assert verdict.statistics["vanished"] == [["v7", pytest.approx(0.05, abs=2e-3)]]
    assert "vanished 'v7'" in verdict.reason


def test_small_samples_do_not_drift_on_noise():
    # 40 rows each from one distribution: PSI is noisy and large, but not significant
    edges = list(np.linspace(-3, 3, 31))
    drifted = 0
    for seed in range(20):
        a, b = rng(200 + seed).standard_normal(40), rng(300 + seed).standard_normal(40)
        drifted += judge("x", histogram(a, edges), histogram(b, edges)).drifted
    assert drifted == 0
    small = judge("x", histogram(rng(1).standard_normal(40), edges), histogram(rng(2).standard_normal(40), edges))
    assert small.statistics["psi"] > 0.2 and not small.drifted


def test_a_significant_but_tiny_change_is_not_drift(normal_reference):
    edges, ref = normal_reference
    verdict = judge("x", ref, histogram(rng(15).normal(0.015, 1.0, MILLION), edges))
    assert verdict.statistics["p_value"] < 1e-3
    assert (verdict.drifted, verdict.severity) == (False, None)
    assert verdict.reason.startswith("significant")


def test_compare_judges_against_the_merged_previous_partitions():
    edges = list(np.linspace(-4, 4, 31))
    refs = [{"type": "double", "histogram": histogram(rng(400 + i).standard_normal(100_000), edges)} for i in range(3)]
    current = {"type": "double", "histogram": histogram(rng(500).normal(0.5, 1.0, 100_000), edges)}
    verdict = compare([*refs, None], current, column="delay")
    assert verdict is not None and verdict.drifted and verdict.column == "delay"
    assert (verdict.statistic, verdict.threshold) == ("wasserstein_norm", 0.05)
    assert verdict.value == pytest.approx(0.5, abs=0.03)
    assert verdict.statistics["n_ref"] == 300_000
    same = compare(refs, {"type": "double", "histogram": histogram(rng(501).standard_normal(100_000), edges)},
                   column="delay")
    assert same is not None and not same.drifted


def test_compare_returns_none_when_nothing_is_comparable():
    edges = [0.0, 1.0, 2.0]
    numeric = {"type": "double", "histogram": {"edges": edges, "counts": [0, 5, 5, 0], "n": 10}}
    other_bins = {"type": "double", "histogram": {"edges": [0.0, 1.0, 3.0], "counts": [0, 5, 5, 0], "n": 10}}
    categorical = {"type": "string", "top": [["a", 3]], "other": 0}
    assert compare([], numeric, column="x") is None
    assert compare([categorical], numeric, column="x") is None
    assert compare([other_bins], numeric, column="x") is None
    assert compare([{"type": "timestamp"}], {"type": "timestamp"}, column="x") is None


def test_thresholds_are_validated():
    with pytest.raises(ConfigError):
        DriftThresholds(psi_warn=0.3, psi_drift=0.2)
    assert math.isclose(DriftThresholds().alpha, 1e-3)


@pytest.mark.parametrize(("n", "d"), [(4, 0.4), (20, 0.3), (500, 0.1), (10_000, 0.02), (100_000, 0.006)])
def test_ks_p_value_is_within_3_percent_of_the_exact_distribution(n, d):
    from weir.monitoring.drift import ks_from_histograms

    # two histograms whose CDFs differ by exactly d at one edge, with n_eff = n
    a = round(2 * n * (0.5 + d))
    ref = {"edges": [0.0, 1.0, 2.0], "counts": [0, n, n, 0], "n": 2 * n}
    cur = {"edges": [0.0, 1.0, 2.0], "counts": [0, a, 2 * n - a, 0], "n": 2 * n}
    got_d, p = ks_from_histograms(ref, cur)
    assert got_d == pytest.approx(d, abs=1 / n)
    assert p == pytest.approx(float(stats.kstwo.sf(got_d, n)), rel=0.03)


# -- sketches that follow the data -----------------------------------------------------------------

def test_histograms_on_stretches_of_one_grid_are_recounted_exactly_on_common_edges():
    base = fix_bins(rng(20).normal(45, 4, 5000), is_int=False)
    step = base[1] - base[0]
    summer = rng(21).normal(80, 4, 5000)
    at = int((80 - base[0]) // (2 * step))  # a coarse edge near the summer's centre
    fine_edges = [base[0] + step * k for k in range(2 * at - 16, 2 * at + 17)]  # the base width
    coarse_edges = [base[0] + 2 * step * k for k in range(at - 20, at + 21)]  # twice as wide, wider range
    a, b = histogram(summer, fine_edges), histogram(summer, coarse_edges)
    assert a["counts"][0] > 0 and a["counts"][-1] > 0
    left, right = align([a, b])
    assert left["edges"] == pytest.approx(coarse_edges) and left["edges"] == right["edges"]
    assert right["counts"] == b["counts"]
    # pairs of fine bins summed; the fine underflow and overflow go to the bins next to its range
    first, last = 12, 28  # fine_edges[0] and fine_edges[-1] among the common edges
    inner = [a["counts"][i] + a["counts"][i + 1] for i in range(1, len(a["counts"]) - 1, 2)]
    assert left["counts"] == [0] * first + [a["counts"][0], *inner, a["counts"][-1]] + [0] * (40 - last)
    assert inner == b["counts"][first + 1 : last + 1]  # the same values, counted on the coarse edges
    assert judge("t", a, b).statistics["ks"] < 0.01  # one sample, two stretches: no change


def test_histograms_on_the_same_edges_are_not_recounted():
    h = {"edges": [0.0, 1.0, 2.0], "counts": [0, 1, 2, 0], "n": 3}
    assert align([h, {"type": "double", "histogram": h}]) == [h, h]


def test_sketches_stored_before_stretches_still_compare():
    """Stored sketches kept the edges they were counted on: all the column's base edges."""
    january = rng(22).normal(45, 4, 20_000)
    base = fix_bins(january, is_int=False)
    stored = [{"type": "double", "histogram": histogram(rng(23 + i).normal(45, 4, 2_000), base)} for i in range(7)]
    same = {"type": "double", "histogram": histogram(rng(30).normal(45, 4, 2_000),
                                                     [base[0] + (base[1] - base[0]) * k for k in range(5, 40)])}
    verdict = compare(stored, same, column="t")
    assert verdict is not None and not verdict.drifted
    moved = {"type": "double", "histogram": histogram(rng(31).normal(60, 4, 2_000),
                                                      [base[0] + (base[1] - base[0]) * k for k in range(40, 72)])}
    verdict = compare(stored, moved, column="t")
    assert verdict is not None and verdict.drifted and verdict.value > 1


SEASONAL = '''
import weir
days = weir.daily(start="2024-01-01", end="2024-12-31")
temps = weir.source("temps", path="landing/{partition}.csv", partitions=days)
'''
RAMP, SEASON = 90, 120  # a half cosine from 40 °F to 80 °F over RAMP days, then summer


def _temperatures(day: int) -> np.ndarray:
    """96 readings a day: the season's level, one daily cycle, sensor noise."""
    level = 60 - 20 * math.cos(math.pi * min(day, RAMP) / RAMP)
    quarter_hours = np.arange(96)
    return level + 6 * np.sin(2 * np.pi * quarter_hours / 96) + rng(700 + day).normal(0, 1.5, 96)


def _land_day(project, day: int, values) -> str:
    from conftest import land_csv

    key = (np.datetime64("2024-01-01") + day).astype(str)
    land_csv(project, f"landing/{key}.csv", [{"t": round(float(v), 3)} for v in values])
    return key


@pytest.fixture(scope="module")
def seasonal(tmp_path_factory):
    """A season of daily temperatures ingested day by day; the last day a summer stuck sensor."""
    from conftest import write_project

    from weir.workspace import Workspace

    base = tmp_path_factory.mktemp("seasonal")
    project = write_project(base / "proj", {"assets.py": SEASONAL})
    keys = [_land_day(project, d, _temperatures(d)) for d in range(SEASON)]
    keys.append(_land_day(project, SEASON, np.full(96, 79.5)))
    with Workspace(base / "ws", project) as ws:
        ws.quality.ingest("temps")
        with ws.store.read():
            profiles = ws.store.metrics.profiles(ws.project.name, "temps")
        scores = {p["partition_key"]: p["value"] for p in ws.monitors.metrics("temps", column="t", metric="drift_score")}
    return {"keys": keys, "sketches": {k: p["sketches"]["t"] for k, p in profiles.items()}, "scores": scores}


def test_a_summer_day_keeps_the_resolution_of_its_histogram(seasonal):
    summer = seasonal["sketches"][seasonal["keys"][SEASON - 1]]["histogram"]
    january = seasonal["sketches"][seasonal["keys"][0]]["histogram"]
    assert summer["edges"][0] > january["edges"][-1]  # counted beyond January's bins
    counts = summer["counts"]
    assert max(counts) < 0.2 * summer["n"] and counts[0] + counts[-1] < 0.05 * summer["n"]
    assert sum(1 for c in counts if c) >= 15


def test_a_summer_stuck_sensor_drifts_and_an_ordinary_summer_day_does_not(seasonal):
    keys, sketches = seasonal["keys"], seasonal["sketches"]
    stuck, ordinary = keys[SEASON], keys[SEASON - 1]
    verdict = compare([sketches[k] for k in keys[SEASON - 7 : SEASON]], sketches[stuck], column="t")
    assert verdict is not None and verdict.drifted, verdict
    calm = compare([sketches[k] for k in keys[SEASON - 8 : SEASON - 1]], sketches[ordinary], column="t")
    assert calm is not None and not calm.drifted, calm
    # the drift scores stored by the monitors see the summer: sampling noise every day, the stuck sensor far above it
    scores = seasonal["scores"]
    summer = [scores[k] for k in keys[RAMP + 8 : SEASON]]
    assert min(summer) > 0 and scores[stuck] > 5 * max(summer), (scores[stuck], summer)


def test_identical_daily_frames_never_drift(tmp_path):
    from conftest import write_project

    from weir.workspace import Workspace

    project = write_project(tmp_path / "proj", {"assets.py": SEASONAL})
    frame = _temperatures(0)
    keys = [_land_day(project, d, frame) for d in range(20)]
    with Workspace(tmp_path / "ws", project) as ws:
        ws.quality.ingest("temps")
        scores = {p["partition_key"]: p["value"] for p in ws.monitors.metrics("temps", metric="drift_score")}
        signals = [s for s in ws.monitors.signals("temps") if s["kind"] == "drift"]
    assert set(scores) >= set(keys[7:]) and set(scores.values()) == {0.0}
    assert signals == []
