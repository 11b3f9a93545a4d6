"""The Markdown report of the detection benchmark: a table per data set, a summary table, and
the cells that miss their targets."""

from __future__ import annotations

from detection_inject import KINDS


def _f(x: float | None, digits: int = 2) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def summary(per_set: dict[str, dict]) -> list[dict]:
    """One row per data set: clean alert-days per 100 (weir, baseline), warnings per clean day."""
    rows = []
    for name, r in per_set.items():
        m = r["false_alarm_measure"]
        rows.append({"dataset": name, "days": r["days"], "clean_days": r["weir"]["clean_partitions"],
                     "measured_on": "ordinary clean days" if m.endswith("ordinary") else "clean days",
                     "weir_alert_days_per_100": r["weir"][m], "baseline_alert_days_per_100": r["baseline"][m],
                     "weir_alert_days_per_100_all_clean": r["weir"]["false_alarms_per_100"],
                     "warnings_per_clean_day": r["warnings_per_clean_day"],
                     "kinds_at_target": sum(1 for k in r["weir"]["kinds"].values() if (k["recall"] or 0) >= 0.95),
                     "diagnosis_first_cause_right": _first_cause_right(r),
                     "delivery_seconds": r["delivery_seconds"]})
    return rows


def _first_cause_right(r: dict) -> str:
    """``right/diagnosed`` over the faults whose incident has a diagnosis ("—" without incidents)."""
    d = (r.get("incidents") or {}).get("diagnosis")
    return f"{d['top1_right']}/{d['diagnosed']}" if d else "—"


def dataset_report(r: dict) -> list[str]:
    w, b = r["weir"], r["baseline"]
    lines = [f"### {r['dataset']}: {r['days']} daily partitions ({r['first_day']} to {r['last_day']}), "
             f"{len(r['injections'])} injected anomalies; judged by {r['judged_by']}",
             "", "| kind | weir recall | weir lag | baseline recall | baseline lag |", "|---|---|---|---|---|"]
    for k in KINDS:
        wk, bk = w["kinds"][k], b["kinds"][k]
        lines.append(f"| {k} | {wk['detected']}/{wk['injected']} ({_f(wk['recall'])}) | {_f(wk['mean_delay'])} | "
                     f"{bk['detected']}/{bk['injected']} ({_f(bk['recall'])}) | {_f(bk['mean_delay'])} |")
    lines += ["", f"- clean alert-days per 100 clean partitions: weir {_f(w['false_alarms_per_100'], 1)} "
              f"({len(w['false_alarm_days'])} of {w['clean_partitions']}), baseline {_f(b['false_alarms_per_100'], 1)} "
              f"({len(b['false_alarm_days'])})"]
    if r.get("incidents"):
        from detection_incidents import incident_lines

        lines += incident_lines(r["incidents"])
    if r["false_alarm_measure"].endswith("ordinary"):
        lines += [f"- on ordinary days (no holiday, <= 5% cancelled: {w['ordinary_partitions']} days): weir "
                  f"{_f(w['false_alarms_per_100_ordinary'], 1)}, baseline {_f(b['false_alarms_per_100_ordinary'], 1)}; "
                  f"weir alerts on {len(w['alerts_on_event_days'])} clean storm/holiday days"]
    lines += [f"- warnings per clean day: {_f(r['warnings_per_clean_day'], 1)}",
              "- series behind the clean alert-days (days): "
              + (", ".join(f"{k} {n}" for k, n in r["false_alarm_series"].items()) or "none")]
    missed = [f"{d} {k} ({r['injections'][d]['what']})" for k in KINDS for d in w["kinds"][k]["missed"]]
    lines.append(f"- missed by weir: {'; '.join(missed) or 'none'}")
    shifts = sorted({i["what"] for i in r["injections"].values() if i["kind"] == "distribution_shift"})
    lines.append(f"- distribution shifts injected: {'; '.join(shifts)}")
    clean_flags = {d: f for d, f in r["blocked_or_failed"].items() if d in w["false_alarm_days"]}
    if clean_flags:
        lines.append(f"- blocked or failed on clean days: {clean_flags}")
    if r["errors"]:
        lines.append(f"- errors weir raised during delivery: {r['errors']}")
    if r["replay_disagrees_on"]:
        lines.append(f"- replay and the stored signals disagree on the alerts of {len(r['replay_disagrees_on'])} days "
                     f"(first: {', '.join(r['replay_disagrees_on'][:5])})")
    lines.append(f"- delivery (land, ingest, build, {'with' if r['asset'] else 'without'} the derived asset): "
                 f"{r['delivery_seconds']:.0f} s")
    return lines


def report(result: dict) -> str:
    seed = f"seed {result['seed']} ({'tuning set' if result['tuning_set'] else 'held back'})"
    lines = [f"## detection on real data, {seed}{', quick' if result['quick'] else ''}", ""]
    for r in result["datasets"].values():
        lines += dataset_report(r) + [""]
    lines += ["### summary", "",
              "| data set | weir clean alert-days/100 | baseline | weir warnings per clean day | kinds at recall >= 0.95 | "
              "diagnosis first cause right | delivery |",
              "|---|---|---|---|---|---|---|"]
    for s in result["summary"]:
        lines.append(f"| {s['dataset']} ({s['measured_on']}) | {_f(s['weir_alert_days_per_100'], 1)} | "
                     f"{_f(s['baseline_alert_days_per_100'], 1)} | {_f(s['warnings_per_clean_day'], 1)} | "
                     f"{s['kinds_at_target']}/{len(KINDS)} | {s.get('diagnosis_first_cause_right', '—')} | "
                     f"{s['delivery_seconds']:.0f} s |")
    lines += ["", "targets: recall >= 0.95 per kind, <= 2 clean alert-days per 100 (flights: ordinary days), "
              "better than the baseline on both"]
    lines += [f"- missed: {m}" for m in result["misses"]] or ["- all met"]
    t = result.get("monitor_timing")
    if t:
        lines.append(f"\nmonitors for one new partition ({t['columns']} columns, {t['series']} series, "
                     f"{t['history']} partitions of history): {t['seconds'] * 1000:.0f} ms")
    d = result.get("drift")
    if d:
        lines.append(f"drift, 2 x {d['rows']:,} rows x 5 columns: SciPy {d['scipy_seconds']:.2f} s; weir from sketches "
                     f"{d['weir_compare_seconds'] * 1000:.1f} ms ({d['ratio_compare_vs_scipy']:.4f}x; sketching both "
                     f"samples {d['weir_sketch_seconds']:.2f} s, done once at ingest); 10% scale shift caught: "
                     f"{d['shift_caught']}; unchanged columns flagged: {d['false_drift_columns'] or 'none'}")
    return "\n".join(lines)
