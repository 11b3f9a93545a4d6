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


# -- faults that last several days (bench/detection_multiday.py) -------------------------------------------


def fault_figures(faults: list[dict]) -> dict:
    """The figures of a group of faults: caught, incidents per caught fault, the pooled scope
    share, the bad partitions wrongly trusted at the end and after a partial fix, and the
    faults the printed fix resolved and restored."""
    caught = [f for f in faults if f["end"]["incidents"]]
    bad = sum(f["bad"] for f in faults)
    partial = [f["partial"] for f in faults if f.get("partial")]
    fixed = [f for f in caught if f.get("fix") and f["fix"]["resolved"] and f["fix"]["restored"]]
    return {
        "faults": len(faults), "caught": len(caught),
        "incidents_per_caught_fault": sum(len(f["end"]["incidents"]) for f in caught) / len(caught) if caught else None,
        "exactly_one": sum(1 for f in caught if len(f["end"]["incidents"]) == 1),
        "bad": bad, "in_scope": sum(f["end"]["in_scope"] for f in faults),
        "scope_share": sum(f["end"]["in_scope"] for f in faults) / bad if bad else None,
        "wrongly_trusted_end": sum(f["end"]["wrongly_trusted"] for f in faults),
        "faults_wrongly_trusted_end": sum(1 for f in faults if f["end"]["wrongly_trusted"]),
        "partial_faults": len(partial), "partial_bad": sum(p["bad"] for p in partial),
        "wrongly_trusted_partial": sum(p["wrongly_trusted"] for p in partial),
        "faults_wrongly_trusted_partial": sum(1 for p in partial if p["wrongly_trusted"]),
        "wrongly_trusted_after_fix": sum(f["fix"]["still_bad"]["wrongly_trusted"] for f in caught if f.get("fix")),
        "resolved_while_bad": sum(1 for f in caught if f.get("fix") and f["fix"]["resolved"] and not f["fix"]["restored"]),
        "restored_left_open": sum(1 for f in caught if f.get("fix") and f["fix"]["restored"] and not f["fix"]["resolved"]),
        "left_open_alerting": sum(1 for f in caught if f.get("fix") and f["fix"]["restored"] and not f["fix"]["resolved"]
                                  and f["fix"].get("left_alerting") == f["fix"].get("left_in_scope")),
        "fix_resolved": sum(1 for f in caught if f.get("fix") and f["fix"]["resolved"]),
        "fix_restored": sum(1 for f in caught if f.get("fix") and f["fix"]["restored"]),
        "fixed": len(fixed),
    }


def multiday_summary(per_set: dict[str, dict]) -> list[dict]:
    """One row per data set (and the library story), family and duration; then, with several
    sets, one row per family and duration over all of them."""
    rows = []
    every: dict[tuple[str, int], list[dict]] = {}
    for name, r in per_set.items():
        groups: dict[tuple[str, int], list[dict]] = {}
        for f in r["faults"]:
            groups.setdefault((f["family"], f["duration"]), []).append(f)
            every.setdefault((f["family"], f["duration"]), []).append(f)
        for (family, duration), faults in sorted(groups.items()):
            rows.append({"dataset": name, "family": family, "duration": duration, **fault_figures(faults)})
    if len(per_set) > 1:
        rows += [{"dataset": "all", "family": family, "duration": duration, **fault_figures(faults)}
                 for (family, duration), faults in sorted(every.items())]
    return rows


def _share(n: int, of: int) -> str:
    return f"{n}/{of}" if of else "—"


def _fault_row(f: dict) -> str:
    end, fix, partial = f["end"], f.get("fix"), f.get("partial")
    n = len(end["incidents"])
    causes = ",".join(sorted({i["cause"] or "?" for i in end["incidents"]})) or "—"
    still = f" ({fix.get('left_alerting', 0)}/{fix.get('left_in_scope', 0)} left alerting)" if fix and not fix["resolved"] else ""
    fixed = "—" if fix is None else ("resolved" if fix["resolved"] else "open") + still + ", " + (
        "restored" if fix["restored"] else f"{fix['n_not_restored']} not restored, "
        f"{fix['still_bad']['wrongly_trusted']} of them trusted") + (
        f", {fix['opened_by_the_fix']} incidents opened by the fix" if fix and fix.get("opened_by_the_fix") else "")
    after = "—" if partial is None else f"{partial['wrongly_trusted']}/{partial['bad']}"
    return (f"| {f['kind']} | {f['duration']} | {n} | {causes} | {_f(end['scope_share'])} | "
            f"{end['wrongly_trusted']}/{end['bad']} | {after} | {fixed} | {f['note']} |")


def multiday_report(result: dict) -> str:
    """The Markdown report of the multi-day faults: a table per data set, then the summary."""
    lines = [f"## faults that last several days, seed {result['seed']}{', quick' if result['quick'] else ''}", ""]
    for name, r in result["datasets"].items():
        head = (f"### {name}: {len(r['faults'])} faults over {r['days']} days"
                + (f"; incidents opened on clean days (resolved as false alarms): {r['false_alarm_incidents']} "
                   f"({_f(r.get('false_alarm_incidents_per_100_clean'), 1)} per 100 clean days)"
                   if r.get("clean_days") else "")
                + f"; delivery {r['delivery_seconds']:.0f} s")
        lines += [head, "", "| fault | days | incidents | cause | scope share | wrongly trusted at the end | "
                  "after a partial fix | the printed fix | what |", "|---|---|---|---|---|---|---|---|---|"]
        lines += [_fault_row(f) for f in sorted(r["faults"], key=lambda f: (f["kind"], f["duration"]))]
        if r.get("errors"):
            lines.append(f"\n- errors weir raised: {r['errors']}")
        lines.append("")
    lines += ["### summary", "",
              "| data set | faults | days | caught | incidents per caught fault (exactly one) | scope share | "
              "wrongly trusted at the end (faults) | after a partial fix (faults) | fixed: resolved and restored | "
              "restored, left open (all left alerting) | resolved while bad | left bad and trusted after the fix |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in result["summary"]:
        per = _f(s["incidents_per_caught_fault"])
        lines.append(f"| {s['dataset']} | {s['family']} | {s['duration']} | {_share(s['caught'], s['faults'])} | "
                     f"{per} ({s['exactly_one']}) | {_f(s['scope_share'])} ({s['in_scope']}/{s['bad']}) | "
                     f"{s['wrongly_trusted_end']}/{s['bad']} ({s['faults_wrongly_trusted_end']}) | "
                     f"{_share(s['wrongly_trusted_partial'], s['partial_bad'])} ({s['faults_wrongly_trusted_partial']}) | "
                     f"{_share(s['fixed'], s['caught'])} | {s['restored_left_open']} ({s['left_open_alerting']}) | "
                     f"{s['resolved_while_bad']} | {s['wrongly_trusted_after_fix']} |")
    lines += ["", "targets: scope share 1.0, one incident per fault, nothing wrongly trusted, every fault fixed by the "
              "fix it prints", f"\nmulti-day run: {result['seconds']:.0f} s"]
    return "\n".join(lines)
