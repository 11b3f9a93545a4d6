"""Command bodies: call the Workspace, render the answer. JSON keys here are a documented contract."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from weir.cli.render import console, err_console, iso, print_json, short_time, styled, table


def _done(ws, code: int = 0) -> None:
    ws.close()
    if code:
        raise typer.Exit(code)


def run(ws, assets, partition, first, last, stale, plan_only, executor, workers, as_json) -> None:
    from weir.cli.render import ProgressReporter
    from weir.engine.executors import EXECUTORS
    from weir.errors import WeirError
    from weir.workspace import RunRequest

    if executor not in EXECUTORS:
        raise WeirError(f"--executor {executor!r} is not one of {', '.join(EXECUTORS)}")
    request = RunRequest(
        assets=tuple(assets), partition=partition, first=first, last=last, stale=stale, executor=executor, workers=workers
    )
    if plan_only:
        plan = ws.plan(request)
        if as_json:
            print_json(
                {
                    "tasks": [{"asset": t.asset, "partition": t.key, "reason": t.reason} for t in plan.tasks],
                    "waiting": {a: [{"partition": k, "why": w} for k, w in items] for a, items in plan.waiting.items()},
                    "up_to_date": plan.up_to_date,
                }
            )
            return _done(ws)
        _render_plan(plan)
        return _done(ws)
    reporter = None if as_json else ProgressReporter()
    result = ws.run(request, reporter=reporter)
    if as_json:
        print_json(result.to_dict())
    else:
        _render_result(result)
    _done(ws, 0 if result.ok else 1)


def _render_plan(plan) -> None:
    by_asset = plan.by_asset()
    t = table("asset", "partitions", "from", "to", "why", title=f"plan: {len(plan.tasks)} partition builds")
    for asset, tasks in by_asset.items():
        reasons: dict[str, int] = {}
        for task in tasks:
            reasons[task.reason] = reasons.get(task.reason, 0) + 1
        why = ", ".join(f"{n} {r}" for r, n in reasons.items())
        t.add_row(asset, str(len(tasks)), tasks[0].key or "—", tasks[-1].key or "—", why)
    console.print(t)
    for asset, items in plan.waiting.items():
        console.print(f"[yellow]waiting[/] {asset}: {len(items)} partitions, e.g. {items[0][0]}: {items[0][1]}")
    if plan.up_to_date:
        console.print("up to date: " + ", ".join(f"{a} ({n})" for a, n in plan.up_to_date.items()))


_STATES = ("succeeded", "failed_check", "blocked", "failed", "upstream_failed", "skipped")


def _render_result(result) -> None:
    t = table("asset", *[s for s in _STATES], title=f"run {result.run_id}: {styled(result.state)} in {result.seconds:.1f}s")
    for asset, counts in result.per_asset.items():
        t.add_row(asset, *[str(counts.get(s, "")) for s in _STATES])
    if result.per_asset:
        console.print(t)
    if result.checks:
        c = table("checked", "passed", "warned", "failed", "blocked", title="check outcomes")
        for name, n in result.checks.items():
            c.add_row(
                name, f"[green]{n['passed']}[/]", f"[yellow]{n['warned'] or ''}[/]", f"[red]{n['failed'] or ''}[/]",
                f"[magenta]{n['blocked'] or ''}[/]",
            )
        console.print(c)
    for name, per in result.signals.items():
        alerts = sum(per.values())
        first = min(per)
        more = f" and {len(per) - 1} more partition{'s' if len(per) > 2 else ''}" if len(per) > 1 else ""
        console.print(
            f"[red]monitors: {alerts} alert{'s' if alerts != 1 else ''} on {name}[/] ({first or '—'}{more}); "
            f"see 'weir monitors --signals --alerts'", highlight=False,
        )
    for err in result.monitor_errors:
        err_console.print(f"[yellow]monitors could not run for {err}[/]", highlight=False)
    for source, n in result.sources.items():
        blocked = f", [magenta]{n['blocked']} blocked[/]" if n.get("blocked") else ""
        accepted = n.get("accepted", 0)
        console.print(f"source {source}: {accepted} partition{'' if accepted == 1 else 's'} accepted on arrival{blocked}")
    for f in result.failures[:10]:
        err_console.print(f"[red]{f['asset']} {f['partition']}[/]: {f['error']}", highlight=False)
    if len(result.failures) > 10:
        err_console.print(f"... and {len(result.failures) - 10} more; see 'weir runs show {result.run_id}'")
    waiting = sum(result.waiting.values())
    if waiting:
        console.print(f"[yellow]{waiting} partitions wait for inputs that have not arrived[/] ('weir run --plan' lists them)")
    if not result.per_asset and not waiting:
        console.print("nothing to build: everything selected is up to date")


def status(ws, asset, as_json) -> None:
    rows = ws.status(asset)
    if as_json:
        print_json([{**r, "published_at": iso(r["published_at"])} for r in rows])
        return _done(ws)
    t = table("asset", "kind", "partitions", "published", "rows", "newest", "last published", "last run", title=f"project {ws.project.name}")
    for r in rows:
        published = f"{r['published']}/{r['expected']}"
        if r["outdated_code"]:
            published += f" [yellow]({r['outdated_code']} by older code)[/]"
        last = r["last_run"] or "—"
        if r["last_run_failed"]:
            last += f" [red]{r['last_run_failed']} failed[/]"
        t.add_row(r["asset"], r["kind"], r["partitions"].split(" ")[0], published, f"{r['rows']:,}", r["last"] or "—", short_time(r["published_at"]), last)
    console.print(t)
    _done(ws)


def runs(ws, limit, state, as_json) -> None:
    rows = ws.runs(limit, state)
    if as_json:
        print_json([_run_json(r) for r in rows])
        return _done(ws)
    t = table("run", "state", "trigger", "started", "seconds", "partitions")
    for r in rows:
        counts = (r.get("summary") or {}).get("counts", {})
        seconds = f"{r['finished_at'] - r['started_at']:.1f}" if r.get("finished_at") and r.get("started_at") else "—"
        t.add_row(r["id"], styled(r["state"]), r["trigger"], short_time(r["started_at"] or r["created_at"]), seconds,
                  ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    console.print(t)
    _done(ws)


def _run_json(r: dict) -> dict:
    return {
        "id": r["id"], "project": r["project"], "state": r["state"], "trigger": r["trigger"],
        "created_at": iso(r["created_at"]), "started_at": iso(r["started_at"]), "finished_at": iso(r["finished_at"]),
        "environment_id": r["environment_id"], "request": r["request"], "counts": (r.get("summary") or {}).get("counts", {}),
        "error": r["error"],
    }


def run_show(ws, run_id, as_json) -> None:
    d = ws.run_detail(run_id)
    if as_json:
        env = d["environment"] or {}
        print_json(
            {
                **_run_json(d),
                "environment": {"id": env.get("id"), "python": env.get("python"), "platform": env.get("platform"), "packages": env.get("packages")},
                "tasks": [
                    {
                        "asset": t["asset"], "partition": t["partition_key"], "state": t["state"], "reason": t["reason"],
                        "attempt": t["attempt"], "code_version": t["code_version"], "input_versions": t["input_versions"],
                        "output_version": t["output_version"], "rows": t["row_count"], "seconds": t["seconds"],
                        "error": t["error"], "traceback": t["traceback"],
                    }
                    for t in d["tasks"]
                ],
            }
        )
        return _done(ws)
    env = d["environment"] or {}
    console.print(f"run [bold]{d['id']}[/] {styled(d['state'])}  trigger {d['trigger']}  started {short_time(d['started_at'])}  finished {short_time(d['finished_at'])}")
    console.print(f"environment {env.get('id', '—')}: Python {env.get('python', '?')}, {len(env.get('packages') or {})} packages")
    if d["error"]:
        console.print(f"[red]error:[/] {d['error'].splitlines()[0]}", highlight=False)
    t = table("asset", "partition", "state", "attempt", "rows", "version", "seconds", "reason / error")
    for task in d["tasks"]:
        t.add_row(
            task["asset"], task["partition_key"] or "—", styled(task["state"]), str(task["attempt"] or ""),
            "" if task["row_count"] is None else f"{task['row_count']:,}", "" if task["output_version"] is None else str(task["output_version"]),
            "" if task["seconds"] is None else f"{task['seconds']:.2f}", (task["error"] or task["reason"] or "")[:120],
        )
    console.print(t)
    _done(ws)


def lineage(ws, asset, as_json) -> None:
    data = ws.lineage(asset)
    if as_json:
        print_json(data)
        return _done(ws)
    from rich.tree import Tree

    nodes = {n["name"]: n for n in data["nodes"]}
    roots = [n for n in data["nodes"] if not [u for u in n["upstream"] if u in nodes]]
    tree = Tree(f"[bold]{data['project']}[/]")

    def add(branch, name, depth=0):
        n = nodes[name]
        label = f"{name} [dim]{n['type']}, {n['partitions']}[/]"
        if n["insights"]:
            label += "  [magenta]→ " + ", ".join(n["insights"]) + "[/]"
        sub = branch.add(label)
        if depth < 20:
            for d in n["downstream"]:
                if d in nodes:
                    add(sub, d, depth + 1)

    for r in roots:
        add(tree, r["name"])
    console.print(tree)
    _done(ws)


def read(ws, asset, partition, version, fmt, limit, out, quarantined=False) -> None:
    from weir.errors import WeirError

    if fmt not in ("table", "csv", "json", "parquet"):
        raise WeirError(f"--format {fmt!r} is not one of table, csv, json, parquet")
    if fmt == "parquet" and out is None:
        raise WeirError("--format parquet needs --out FILE")
    if quarantined:
        data = ws.read_quarantined(asset, partition)
        data = data.slice(0, limit) if limit is not None and fmt != "table" else data
    else:
        data = ws.read(asset, partition, version, limit if fmt != "table" or limit is not None else None)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(data, out)
        console.print(f"wrote {data.num_rows:,} rows to {out}")
        return _done(ws)
    if fmt == "csv":
        import pyarrow.csv as pacsv

        if out:
            pacsv.write_csv(data, out)
        else:
            buf = sys.stdout.buffer
            pacsv.write_csv(data, buf)
        return _done(ws)
    if fmt == "json":
        import json

        rows = data.to_pylist()
        text = json.dumps(rows, default=_json_value)
        (Path(out).write_text(text) if out else sys.stdout.write(text + "\n"))
        return _done(ws)
    shown = data.slice(0, limit if limit is not None else 20)
    t = table(*shown.column_names, title=f"{asset} {partition or ''} ({data.num_rows:,} rows{', version ' + str(version) if version is not None else ''})")
    for row in shown.to_pylist():
        t.add_row(*[_cell(v) for v in row.values()])
    console.print(t)
    if shown.num_rows < data.num_rows:
        console.print(f"[dim]showing {shown.num_rows} of {data.num_rows:,} rows; --limit N or --format csv for more[/]")
    _done(ws)


def _json_value(value):
    from decimal import Decimal

    if isinstance(value, Decimal):  # DuckDB sums are DECIMAL: keep them numbers in JSON
        return int(value) if value == value.to_integral_value() else float(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def history(ws, asset, partition, as_json) -> None:
    rows = ws.history(asset, partition)
    if as_json:
        print_json(
            [
                {"version": r["version"], "run_id": r["run_id"], "code_version": r["code_version"], "rows": r["row_count"],
                 "published_at": iso(r["published_at"])}
                for r in rows
            ]
        )
        return _done(ws)
    t = table("version", "run", "code version", "rows", "published", title=f"{asset} {partition or ''}")
    for r in rows:
        t.add_row(str(r["version"]), r["run_id"], r["code_version"], "" if r["row_count"] is None else f"{r['row_count']:,}", short_time(r["published_at"]))
    console.print(t)
    _done(ws)


def db_upgrade(ws) -> None:
    from weir.store.database import HEAD_REVISION

    before = ws.store.upgrade()
    console.print(f"metadata store at revision {HEAD_REVISION} ({ws.store.backend}); was {before or 'empty'}")
    _done(ws)


def _check_json(r: dict) -> dict:
    return {
        "asset": r["asset"], "partition": r["partition_key"], "check": r["check_name"], "kind": r["kind"],
        "column": r["column_name"], "severity": r["severity"], "passed": r["passed"], "observed": r["observed"],
        "threshold": r["threshold"], "failing_rows": r["failing_rows"], "total_rows": r["total_rows"],
        "message": r["message"], "sample": r["sample"], "run_id": r["run_id"], "checked_at": iso(r["checked_at"]),
    }


def _render_checks(rows: list[dict], title: str) -> None:
    t = table("asset", "partition", "check", "severity", "result", "observed", "message", title=title)
    for r in rows:
        result = "[green]passed[/]" if r["passed"] else {"warn": "[yellow]warned[/]", "error": "[red]failed[/]", "block": "[magenta]blocked[/]"}[r["severity"]]
        t.add_row(r["asset"], r["partition_key"] or "—", r["check_name"], r["severity"], result, _cell(r["observed"]), r["message"] or "")
    console.print(t)
    for r in rows:
        if not r["passed"] and r["sample"]:
            console.print(f"[dim]sample of failing rows for {r['asset']} {r['partition_key']} {r['check_name']}:[/]")
            for row in r["sample"]:
                console.print(f"  {row}", highlight=False)


def checks(ws, asset, partition, failed, as_json) -> None:
    rows = ws.check_results(asset, partition, failed)
    if as_json:
        print_json([_check_json(r) for r in rows])
        return _done(ws)
    if not rows:
        console.print("no check results" + (" that failed" if failed else ""))
        return _done(ws)
    _render_checks(rows, f"{len(rows)} check results")
    _done(ws)


def check(ws, asset, partition, as_json) -> None:
    rows = ws.recheck(asset, partition)
    if as_json:
        print_json([_check_json(r) for r in rows])
    else:
        _render_checks(rows, f"checks of published {asset} {partition or ''}")
    bad = any(not r["passed"] and r["severity"] in ("error", "block") for r in rows)
    _done(ws, 1 if bad else 0)


def _metric_json(name: str, p: dict) -> dict:
    return {
        "asset": name, "partition": p["partition_key"], "column": p["column_name"], "metric": p["metric"],
        "value": p["value"], "quarantined": p["quarantined"], "run_id": p["run_id"], "measured_at": iso(p["measured_at"]),
        "center": p.get("center"), "lower": p.get("lower"), "upper": p.get("upper"), "signals": p.get("signals", []),
        "muted": p.get("muted", False),
    }


SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: list) -> str:
    """One character per value, scaled between the series' min and max; gaps for missing values."""
    nums = [v for v in values if v is not None]
    if not nums:
        return ""
    lo, hi = min(nums), max(nums)
    span = hi - lo
    return "".join(" " if v is None else SPARK[0 if span == 0 else min(7, int((v - lo) / span * 8))] for v in values)


def metrics(ws, name, column, metric, first, last, as_json) -> None:
    points = ws.metrics(name, column=column, metric=metric, first=first, last=last)
    if as_json:
        print_json([_metric_json(name, p) for p in points])
        return _done(ws)
    if not points:
        console.print(f"no metrics for {name} yet: they are measured when partitions are built or sources ingested")
        return _done(ws)
    series: dict[tuple[str, str], list[dict]] = {}
    for p in points:
        series.setdefault((p["column_name"], p["metric"]), []).append(p)
    if metric is not None and len(series) == 1:
        (col, m), pts = next(iter(series.items()))
        t = table("partition", "value", "center", "limits", "", title=f"{name} {col + '.' if col else ''}{m}: {len(pts)} partitions")
        lo = min((p["value"] for p in pts if p["value"] is not None), default=0)
        hi = max((p["value"] for p in pts if p["value"] is not None), default=0)
        for p in pts:
            v = p["value"]
            bar = "" if v is None or hi == lo else "█" * max(1, round((v - lo) / (hi - lo) * 30))
            alert = any(s["severity"] == "alert" for s in p.get("signals", []))
            colour = "red" if alert else ("yellow" if p.get("signals") else "cyan")
            note = " [magenta](quarantined)[/]" if p["quarantined"] else ""
            note += "".join(f" [{'red' if s['severity'] == 'alert' else 'yellow'}]{s['rule']}[/]" for s in p.get("signals", []))
            limits = "" if p.get("lower") is None else f"{_cell(p['lower'])} .. {_cell(p['upper'])}"
            t.add_row(p["partition_key"] or "—", _cell(v), _cell(p.get("center")), limits, f"[{colour}]{bar}[/]{note}")
        console.print(t)
        return _done(ws)
    t = table("column", "metric", "partitions", "last", "min", "max", "trend (last 40)", title=f"{name}: {len(series)} metric series")
    for (col, m), pts in series.items():
        vals = [p["value"] for p in pts]
        nums = [v for v in vals if v is not None]
        t.add_row(col or "(table)", m, str(len(pts)), _cell(vals[-1]), _cell(min(nums) if nums else None),
                  _cell(max(nums) if nums else None), f"[cyan]{sparkline(vals[-40:])}[/]")
    console.print(t)
    _done(ws)


def ingest(ws, source, partitions, force, as_json) -> None:
    from weir.cli.render import counting_progress

    src = ws.project.sources.get(source)
    total = len(partitions) if partitions else (len(src.partitions.keys()) if src is not None else 0)
    with counting_progress(f"checking {source}", total, enabled=not as_json and total > 1) as advance:
        rows = ws.ingest(source, partitions or None, force=force, on_progress=advance)
    if as_json:
        print_json(rows)
    elif not rows:
        console.print(f"nothing of {source} has landed")
    else:
        t = table("partition", "state", "rows", "malformed", "checked", "message", title=f"{source}: {len(rows)} landed partitions")
        for r in rows:
            t.add_row(r["partition"] or "—", styled(r["state"]), _cell(r["rows"]), _cell(r["malformed_rows"] or ""),
                      "now" if r["checked_now"] else "before", r["message"] or "")
        console.print(t)
        for r in rows:
            for bad in r["sample"][:5] if r["state"] == "blocked" else []:
                console.print(f"  [dim]{r['partition']}[/] {bad}", highlight=False)
    _done(ws, 1 if any(r["state"] == "blocked" for r in rows) else 0)


def _signal_json(r: dict) -> dict:
    return {
        "asset": r["asset"], "partition": r["partition_key"], "kind": r["kind"], "column": r["column_name"],
        "metric": r["metric"], "method": r["method"], "rule": r["rule"], "value": r["value"], "center": r["center"],
        "lower": r["lower"], "upper": r["upper"], "severity": r["severity"], "direction": r["direction"],
        "details": r["details"], "run_id": r["run_id"], "created_at": iso(r["created_at"]),
    }


def monitors(ws, name, signals, alerts_only, as_json) -> None:
    if signals:
        rows = ws.signals(name, alerts_only=alerts_only)
        if as_json:
            print_json([_signal_json(r) for r in rows])
            return _done(ws)
        if not rows:
            console.print("no signals" + (f" on {name}" if name else ""))
            return _done(ws)
        t = table("asset", "partition", "series", "severity", "rule", "value", "expected", title=f"{len(rows)} signals")
        for r in rows:
            series = f"{r['column_name'] + '.' if r['column_name'] else ''}{r['metric']}"
            if r["lower"] is None and r["upper"] is None:
                expected = ""
            elif r["lower"] == r["upper"]:
                expected = f"centre {_cell(r['center'])}"  # run rules compare with the centre line
            else:
                expected = f"{_cell(r['lower'])} .. {_cell(r['upper'])}"
            sev = f"[red]{r['severity']}[/]" if r["severity"] == "alert" else f"[yellow]{r['severity']}[/]"
            t.add_row(r["asset"], r["partition_key"] or "—", series, sev, r["rule"], _cell(r["value"]), expected)
        console.print(t)
        return _done(ws)
    rows = ws.monitors(name)
    if as_json:
        print_json(rows)
        return _done(ws)
    if not rows:
        console.print("nothing is measured yet: metrics appear when partitions are built or sources ingested")
        return _done(ws)
    styles = {"alert": "red", "warn": "yellow", "in control": "green", "warming up": "cyan", "muted": "dim"}
    summary: dict[str, dict[str, int]] = {}
    for r in rows:
        per = summary.setdefault(r["asset"], {})
        per[r["state"]] = per.get(r["state"], 0) + 1
    t = table("asset", "series", *styles, title="monitors")
    for asset, per in summary.items():
        t.add_row(asset, str(sum(per.values())), *[f"[{c}]{per.get(s, '') or ''}[/]" for s, c in styles.items()])
    console.print(t)
    flagged = [r for r in rows if r["state"] in ("alert", "warn")]
    if flagged:
        f = table("asset", "series", "state", "partition", "value", "center", "limits", title="series out of control at their newest point")
        for r in flagged:
            f.add_row(r["asset"], f"{r['column'] + '.' if r['column'] else ''}{r['metric']}",
                      f"[{styles[r['state']]}]{r['state']}[/]", r["last_partition"] or "—", _cell(r["last_value"]),
                      _cell(r["center"]), f"{_cell(r['lower'])} .. {_cell(r['upper'])}")
        console.print(f)
    _done(ws)


def chart(ws, name, metric, column, first, last, out) -> None:
    from weir.errors import WeirError
    from weir.monitoring.charts import control_chart

    suffix = Path(out).suffix.lower()
    if suffix not in (".png", ".svg", ".pdf"):
        raise WeirError(f"--out {out!r}: use a .png, .svg or .pdf file name")
    points = ws.metrics(name, column=column if column is not None else "", metric=metric, first=first, last=last)
    if not points:
        raise WeirError(f"no points of {name} {metric}{' on ' + column if column else ''} to draw")
    path = control_chart(points, title=f"{name} {(column + '.') if column else ''}{metric}", out=out)
    console.print(f"wrote {path} ({len(points)} partitions, {sum(1 for p in points if p['signals'])} with signals)")
    _done(ws)


def _event_summary(e) -> str:
    d = e.data
    parts = [f"{k}={d[k]}" for k in ("state", "version", "rows", "check", "metric", "column", "tasks") if d.get(k) not in (None, "")]
    for k in ("message", "rule", "error", "reason"):
        if d.get(k):
            parts.append(str(d[k]))
            break
    return " ".join(parts)


def events(ws, after, kinds, limit, as_json) -> None:
    rows = ws.events(after=after, kinds=kinds, limit=limit)
    if as_json:
        print_json([e.to_json() for e in rows])
        return _done(ws)
    t = table("id", "at", "kind", "asset", "partition", "run", "what", title=f"events after {after}")
    for e in rows:
        t.add_row(str(e.id), short_time(e.at), e.kind, e.asset or "", e.partition_key or "", e.run_id or "", _event_summary(e))
    console.print(t)
    if len(rows) == limit:
        console.print(f"more: weir events --after {rows[-1].id}")
    _done(ws)
