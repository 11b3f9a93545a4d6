"""``weir metrics``, ``weir monitors``, ``weir chart``: metric series and what the monitors found."""

from __future__ import annotations

from pathlib import Path

import typer

from weir.cli.context import JSON_OPT, finish, open_workspace

app = typer.Typer()

SPARK = "▁▂▃▄▅▆▇█"
STATE_STYLES = {"alert": "red", "warn": "yellow", "in control": "green", "warming up": "cyan", "muted": "dim"}


def sparkline(values: list) -> str:
    """One character per value, scaled between the series' min and max; gaps for missing values."""
    nums = [v for v in values if v is not None]
    if not nums:
        return ""
    lo, hi = min(nums), max(nums)
    span = hi - lo
    return "".join(" " if v is None else SPARK[0 if span == 0 else min(7, int((v - lo) / span * 8))] for v in values)


def _series(column: str, metric: str) -> str:
    return f"{column + '.' if column else ''}{metric}"


@app.command()
def metrics(
    name: str = typer.Argument(..., metavar="ASSET", help="An asset or a source."),
    column: str | None = typer.Option(None, "--column", metavar="C", help="One column ('' for table-level metrics)."),
    metric: str | None = typer.Option(None, "--metric", metavar="M", help="One metric, e.g. null_fraction, mean, p99, row_count."),
    first: str | None = typer.Option(None, "--from", metavar="KEY", help="First partition key."),
    last: str | None = typer.Option(None, "--to", metavar="KEY", help="Last partition key."),
    as_json: bool = JSON_OPT,
) -> None:
    """Profile metrics per partition, as time series."""
    from weir.cli.render import console, print_json
    from weir.monitoring.records import metric_json

    ws = open_workspace(reading=True)
    points = ws.monitors.metrics(name, column=column, metric=metric, first=first, last=last)
    if as_json:
        print_json([metric_json(name, p) for p in points])
    elif not points:
        console.print(f"no metrics for {name} yet: they are measured when partitions are built or sources ingested")
    else:
        _render_metrics(name, points, one=metric is not None)
    finish(ws)


def _render_metrics(name: str, points: list[dict], *, one: bool) -> None:
    from weir.cli.render import cell, console, table

    series: dict[tuple[str, str], list[dict]] = {}
    for p in points:
        series.setdefault((p["column_name"], p["metric"]), []).append(p)
    if one and len(series) == 1:
        (col, m), pts = next(iter(series.items()))
        t = table("partition", "value", "center", "limits", "", title=f"{name} {_series(col, m)}: {len(pts)} partitions")
        lo = min((p["value"] for p in pts if p["value"] is not None), default=0)
        hi = max((p["value"] for p in pts if p["value"] is not None), default=0)
        for p in pts:
            v = p["value"]
            bar = "" if v is None or hi == lo else "█" * max(1, round((v - lo) / (hi - lo) * 30))
            alert = any(s["severity"] == "alert" for s in p.get("signals", []))
            colour = "red" if alert else ("yellow" if p.get("signals") else "cyan")
            note = " [magenta](quarantined)[/]" if p["quarantined"] else ""
            note += "".join(f" [{'red' if s['severity'] == 'alert' else 'yellow'}]{s['rule']}[/]" for s in p.get("signals", []))
            limits = "" if p.get("lower") is None else f"{cell(p['lower'])} .. {cell(p['upper'])}"
            t.add_row(p["partition_key"] or "—", cell(v), cell(p.get("center")), limits, f"[{colour}]{bar}[/]{note}")
        console.print(t)
        return
    t = table("column", "metric", "partitions", "last", "min", "max", "trend (last 40)", title=f"{name}: {len(series)} metric series")
    for (col, m), pts in series.items():
        vals = [p["value"] for p in pts]
        nums = [v for v in vals if v is not None]
        t.add_row(col or "(table)", m, str(len(pts)), cell(vals[-1]), cell(min(nums) if nums else None),
                  cell(max(nums) if nums else None), f"[cyan]{sparkline(vals[-40:])}[/]")
    console.print(t)


@app.command("monitors")
def monitors(
    name: str | None = typer.Argument(None, metavar="ASSET", help="An asset or a source (default: all)."),
    signals: bool = typer.Option(False, "--signals", help="List the signals the monitors raised."),
    alerts: bool = typer.Option(False, "--alerts", help="With --signals: only alerts, not warnings."),
    as_json: bool = JSON_OPT,
) -> None:
    """Monitored series and their state, or (--signals) what they found."""
    from weir.cli.render import console, print_json
    from weir.monitoring.records import series_state_json, signal_json

    ws = open_workspace(reading=True)
    if signals:
        rows = ws.monitors.signals(name, alerts_only=alerts)
        if as_json:
            print_json([signal_json(r) for r in rows])
        elif not rows:
            console.print("no signals" + (f" on {name}" if name else ""))
        else:
            _render_signals(rows)
        return finish(ws)
    rows = ws.monitors.states(name)
    if as_json:
        print_json([series_state_json(r) for r in rows])
    elif not rows:
        console.print("nothing is measured yet: metrics appear when partitions are built or sources ingested")
    else:
        _render_states(rows)
    finish(ws)


def _render_signals(rows: list[dict]) -> None:
    from weir.cli.render import cell, console, table

    t = table("asset", "partition", "series", "severity", "rule", "value", "expected", title=f"{len(rows)} signals")
    for r in rows:
        if r["lower"] is None and r["upper"] is None:
            expected = ""
        elif r["lower"] == r["upper"]:
            expected = f"centre {cell(r['center'])}"  # run rules compare with the centre line
        else:
            expected = f"{cell(r['lower'])} .. {cell(r['upper'])}"
        sev = f"[red]{r['severity']}[/]" if r["severity"] == "alert" else f"[yellow]{r['severity']}[/]"
        t.add_row(r["asset"], r["partition_key"] or "—", _series(r["column_name"], r["metric"]), sev, r["rule"],
                  cell(r["value"]), expected)
    console.print(t)


def _render_states(rows: list[dict]) -> None:
    from weir.cli.render import cell, console, table

    summary: dict[str, dict[str, int]] = {}
    for r in rows:
        per = summary.setdefault(r["asset"], {})
        per[r["state"]] = per.get(r["state"], 0) + 1
    t = table("asset", "series", *STATE_STYLES, title="monitors")
    for asset, per in summary.items():
        t.add_row(asset, str(sum(per.values())), *[f"[{c}]{per.get(s, '') or ''}[/]" for s, c in STATE_STYLES.items()])
    console.print(t)
    flagged = [r for r in rows if r["state"] in ("alert", "warn")]
    if flagged:
        f = table("asset", "series", "state", "partition", "value", "center", "limits",
                  title="series out of control at their newest point")
        for r in flagged:
            f.add_row(r["asset"], _series(r["column"], r["metric"]), f"[{STATE_STYLES[r['state']]}]{r['state']}[/]",
                      r["last_partition"] or "—", cell(r["last_value"]), cell(r["center"]),
                      f"{cell(r['lower'])} .. {cell(r['upper'])}")
        console.print(f)


@app.command("chart")
def chart(
    name: str = typer.Argument(..., metavar="ASSET", help="An asset or a source."),
    metric: str = typer.Option(..., "--metric", metavar="M", help="The metric, e.g. row_count, mean, null_fraction."),
    column: str | None = typer.Option(None, "--column", metavar="C", help="The column (omit for table-level metrics)."),
    first: str | None = typer.Option(None, "--from", metavar="KEY", help="First partition key."),
    last: str | None = typer.Option(None, "--to", metavar="KEY", help="Last partition key."),
    out: str = typer.Option(..., "--out", metavar="FILE", help="Image file: .png, .svg or .pdf."),
) -> None:
    """Draw a control chart: points, centre line, limits, signals."""
    from weir.cli.render import console
    from weir.errors import UsageError

    if Path(out).suffix.lower() not in (".png", ".svg", ".pdf"):
        raise UsageError(f"--out {out!r}: use a .png, .svg or .pdf file name")
    ws = open_workspace(reading=True)
    points = ws.monitors.metrics(name, column=column if column is not None else "", metric=metric, first=first, last=last)
    if not points:
        from weir.errors import WeirError

        raise WeirError(f"no points of {name} {metric}{' on ' + column if column else ''} to draw")
    from weir.monitoring.charts import control_chart

    path = control_chart(points, title=f"{name} {_series(column or '', metric)}", out=out)
    console.print(f"wrote {path} ({len(points)} partitions, {sum(1 for p in points if p['signals'])} with signals)")
    finish(ws)
