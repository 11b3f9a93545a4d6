"""Timings of the detection benchmark: every monitor for one new partition with a year of
history, and drift of two large samples from weir's sketches against a SciPy baseline
(ks_2samp + chi2_contingency + PSI on the raw data)."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def time_monitors(home: Path, project: Path, source: str, last_key: str) -> dict:
    """Best of 3 evaluations of the last partition, on a copy of the workspace (evaluating stores
    signals, and a kept workspace must stay as it was delivered)."""
    from weir.workspace import Workspace

    copy = Path(tempfile.mkdtemp(prefix="weir-detect-timing-")) / "ws"
    try:
        shutil.copytree(home, copy)
        with Workspace(copy, project) as ws:
            runner = ws.monitors.runner()
            runs = []
            for _ in range(3):
                t0 = time.perf_counter()
                runner.evaluate(source, [last_key])
                runs.append(time.perf_counter() - t0)
            history = runner.history(source)
        return {"seconds": min(runs), "series": len(history.series), "history": len(history.order),
                "columns": len({c for c, _ in history.series if c})}
    finally:
        shutil.rmtree(copy.parent, ignore_errors=True)


def drift_benchmark(seed: int, n: int = 1_000_000) -> dict:
    """Two n-row x 5-column samples, the second with a real 10% scale shift on one column."""
    import pyarrow as pa
    from scipy import stats

    from weir.monitoring import drift as D
    from weir.quality.scan import ScanInput, scan

    rng = np.random.default_rng(seed)
    cats = np.array([f"c{i:02d}" for i in range(20)])
    probs = rng.dirichlet(np.ones(20))

    def sample(scale: float) -> dict:
        return {
            "a": rng.normal(0, 1, n) * scale, "b": rng.gamma(2.0, 10.0, n), "c": rng.normal(50, 5, n),
            "d": rng.exponential(3.0, n), "k": cats[rng.choice(20, n, p=probs)],
        }

    ref, cur = sample(1.0), sample(1.1)
    t0 = time.perf_counter()
    scipy_out = {}
    for col in "abcd":
        ks = stats.ks_2samp(ref[col], cur[col])
        edges = np.quantile(ref[col], np.linspace(0, 1, 11))
        edges[0], edges[-1] = -np.inf, np.inf
        p = np.histogram(ref[col], edges)[0] / n
        q = np.histogram(cur[col], edges)[0] / n
        psi = float(np.sum((q - p) * np.log(np.maximum(q, 1e-6) / np.maximum(p, 1e-6))))
        scipy_out[col] = {"ks_p": float(ks.pvalue), "psi": psi}
    vals = sorted(set(ref["k"]) | set(cur["k"]))
    table = np.array([[np.sum(ref["k"] == v) for v in vals], [np.sum(cur["k"] == v) for v in vals]])
    scipy_out["k"] = {"chi2_p": float(stats.chi2_contingency(table)[1])}
    scipy_seconds = time.perf_counter() - t0

    def sketches(data: dict, bins: dict):
        tbl = pa.table(data)
        out = scan([], ScanInput(table=tbl, schema={f.name: str(f.type) for f in tbl.schema}), bins=bins, profile=True)
        return out.profile

    t1 = time.perf_counter()
    ref_prof = sketches(ref, {})
    bins = dict(ref_prof.new_bins)
    cur_prof = sketches(cur, bins)
    scan_seconds = time.perf_counter() - t1
    t2 = time.perf_counter()
    verdicts = {}
    for col, sk in cur_prof.sketches().items():
        v = D.compare([ref_prof.sketches()[col]], sk, column=col)
        verdicts[col] = None if v is None else {"drifted": v.drifted, "statistic": v.statistic, "value": v.value}
    compare_seconds = time.perf_counter() - t2
    return {
        "rows": n, "scipy_seconds": scipy_seconds, "weir_compare_seconds": compare_seconds,
        "weir_sketch_seconds": scan_seconds, "ratio_compare_vs_scipy": compare_seconds / scipy_seconds,
        "scipy": scipy_out, "weir": verdicts, "shift_caught": bool(verdicts.get("a", {}) and verdicts["a"]["drifted"]),
        "false_drift_columns": [c for c in "bcdk" if verdicts.get(c) and verdicts[c]["drifted"]],
    }
