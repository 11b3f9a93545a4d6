"""``weir metrics``, ``weir monitors``, ``weir chart``: metric series and what the monitors found."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

from weir.cli.context import JSON_OPT, actor, finish, local_asset, open_workspace

if TYPE_CHECKING:
    from weir.workspace import Workspace

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
    name: str = typer.Argument(..., metavar="ASSET", callback=local_asset, help="An asset or a source."),
    column: str | None = typer.Option(None, "--column", metavar="C", help="One column ('' for table-level metrics)."),
    metric: str | None = typer.Option(None, "--metric", metavar="M", help="One metric, e.g. null_fraction, mean, p99, row_count."),
    first: str | None = typer.Option(None, "--from", metavar="KEY", help="First partition key."),
    last: str | None = typer.Option(None, "--to", metavar="KEY", help="Last partition key."),
    as_json: bool = JSON_OPT,
) -> None:
    """Profile metrics per partition, as time series."""
    from weir.cli.render import console, print_json_rows
    from weir.monitoring.records import metric_json

    ws = open_workspace(reading=True)
    points = ws.monitors.metrics(name, column=column, metric=metric, first=first, last=last)
    _note_range(ws.quality.range_check(name, first, last))
    if as_json:
        print_json_rows([metric_json(name, p) for p in points])
    elif not points and (first is not None or last is not None):
        console.print(f"no metrics for {name}{_range(first, last)}")
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
        models = sorted({p["model"] for p in pts if p.get("model")})
        judged = f", expected values from {' / '.join(models)}" if models else ""
        t = table("partition", "value", "expected", "limits", "", title=f"{name} {_series(col, m)}: {len(pts)} partitions{judged}")
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


class _MonitorsGroup(TyperGroup):
    """``weir monitors [ASSET] [OPTIONS]`` lists; a first word that names a subcommand
    (``accept``, ``replay``) runs that command instead of naming an asset."""

    allow_interspersed_args = True  # ``weir monitors ASSET --signals``: options after the asset

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] in self.commands:
            super().parse_args(ctx, [])  # the listing's own arguments keep their defaults
            ctx._protected_args, ctx.args = args[:1], args[1:]
            return ctx.args
        return super().parse_args(ctx, args)

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        if ctx.command is not self:  # a subcommand's path and usage: 'weir monitors accept', no [ASSET]
            return [p for p in params if p.param_type_name != "argument"]
        return params


monitors_app = typer.Typer(cls=_MonitorsGroup, invoke_without_command=True, subcommand_metavar="| COMMAND [ARGS]...")
app.add_typer(monitors_app, name="monitors")

WARNINGS_LISTED = 5  # more warning groups than this collapse into one line unless --all


@monitors_app.callback()
def monitors(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, metavar="ASSET", callback=local_asset, help="An asset or a source (default: all)."),
    signals: bool = typer.Option(False, "--signals", help="List the signals the monitors raised, one line per asset, partition and column."),
    alerts: bool = typer.Option(False, "--alerts", help="With --signals: only alerts, not warnings."),
    first: str | None = typer.Option(None, "--from", metavar="KEY", help="With --signals: first partition key."),
    last: str | None = typer.Option(None, "--to", metavar="KEY", help="With --signals: last partition key."),
    every: bool = typer.Option(False, "--all", help=f"With --signals: list every warning (more than {WARNINGS_LISTED} groups are counted in one line)."),
    as_json: bool = JSON_OPT,
) -> None:
    """Monitored series and their state, or (--signals) what they found.

    'weir monitors accept SERIES --from KEY' accepts a new normal for a series; 'weir monitors
    replay [ASSET]' shows what today's settings would raise over the stored history."""
    if ctx.invoked_subcommand:
        return
    from weir.cli.render import console, print_json
    from weir.errors import UsageError
    from weir.monitoring.records import series_state_json, signal_json

    if not signals and (first is not None or last is not None or every):
        used = [o for o, given in (("--from", first is not None), ("--to", last is not None), ("--all", every)) if given]
        raise UsageError(f"{', '.join(used)} go{'es' if len(used) == 1 else ''} with --signals")
    ws = open_workspace(reading=True)
    if signals:
        rows = ws.monitors.signals(name, alerts_only=alerts, first=first, last=last)
        _note_range(ws.quality.range_check(name, first, last))
        if as_json:
            print_json([signal_json(r) for r in rows])
        elif not rows:
            console.print("no signals" + (f" on {name}" if name else "") + _range(first, last))
        else:
            _render_signals(rows, every=every)
        return finish(ws)
    rows = ws.monitors.states(name)
    if not as_json:
        _lead_with_incidents(ws, name)
    if as_json:
        print_json([series_state_json(r) for r in rows])
    elif not rows:
        console.print("nothing is measured yet: metrics appear when partitions are built or sources ingested")
    else:
        _render_states(rows)
    finish(ws)


def _lead_with_incidents(ws: Workspace, name: str | None) -> None:
    """What is actionable first: the open incidents (of ``name``), then the series."""
    from rich.markup import escape

    from weir.cli.render import console

    active = [r for r in ws.incidents.list(sync=False) if r["state"] != "resolved" and (name is None or name in r["assets"])]
    if not active:
        return
    console.print(f"[red]{len(active)} open incident{'s' if len(active) != 1 else ''}[/] ('weir incidents'):", highlight=False)
    for r in active[:3]:
        console.print(f"  {r['id']}: {escape(r['title'])}", highlight=False, soft_wrap=True)
    if len(active) > 3:
        console.print(f"  and {len(active) - 3} more", highlight=False)


def _note_range(note: str | None) -> None:
    """The one line saying which part of a --from/--to range no partition was measured in (on
    stderr, so that --json output stays JSON)."""
    if note:
        from rich.markup import escape

        from weir.cli.render import err_console

        err_console.print(f"[yellow]note:[/] {escape(note)}", highlight=False, soft_wrap=True)


def _range(first: str | None, last: str | None) -> str:
    if first is None and last is None:
        return ""
    return f" from {first}" * (first is not None) + f" to {last}" * (last is not None)


def _render_signals(rows: list[dict], *, every: bool) -> None:
    """One line per (asset, partition, column), alerts first; many warnings collapse into one line."""
    from rich.markup import escape

    from weir.cli.render import console, plural
    from weir.monitoring.records import group_signals

    groups = group_signals(rows)
    alerts = sum(1 for r in rows if r["severity"] == "alert")
    warned = f", {plural(len(rows) - alerts, 'warning')}" if len(rows) > alerts else ""
    console.print(f"[bold]{plural(alerts, 'alert')}{warned}[/] in {plural(len(groups), 'group')} (asset, partition, "
                  "column)", highlight=False)
    warnings = [g for g in groups if g.severity != "alert"]
    shown = [g for g in groups if g.severity == "alert"]
    if every or len(warnings) <= WARNINGS_LISTED:
        shown += warnings
    for g in shown:
        colour = "red" if g.severity == "alert" else "yellow"
        also = f" [dim]— also {', '.join(g.also)}[/]" if g.also else ""
        console.print(f"[{colour}]{g.severity:<5}[/] {escape(g.series)} on {g.partition}: {escape(g.message)}{also}",
                      highlight=False, soft_wrap=True)
    if len(shown) < len(groups):
        count = sum(len(g.signals) for g in warnings)
        console.print(f"[dim]and {plural(count, 'warning')} in {plural(len(warnings), 'more group')} on "
                      f"{plural(len({g.partition for g in warnings}), 'partition')} ('weir monitors --signals --all' "
                      "lists them)[/]", highlight=False)


@monitors_app.command("accept")
def accept(
    series: str = typer.Argument(..., metavar="SERIES",
                                 help="ASSET, ASSET.COLUMN, ASSET.COLUMN.METRIC, or ASSET.METRIC for a table-level metric."),
    first: str = typer.Option(..., "--from", metavar="KEY", help="The first partition of the new normal."),
    note: str | None = typer.Option(None, "--note", metavar="TEXT", help="Why: kept with the reset."),
    as_json: bool = JSON_OPT,
) -> None:
    """Accept a new normal: from partition KEY on, the series' baseline forms only from KEY's
    point onward (the monitors stop comparing with the level before); the partitions from KEY on
    are judged again."""
    from weir.cli.render import console, plural, print_json
    from weir.monitoring.records import baseline_json

    ws = open_workspace()
    row = ws.monitors.accept(series, first, note, actor=actor())
    if as_json:
        print_json(baseline_json(row))
    else:
        what = ".".join(p for p in (row["asset"], row["column_name"], row["metric"]) if p)
        scope = "every series of" if row["column_name"] is None else "every metric of" if row["metric"] is None else "series"
        console.print(f"accepted a new normal for {scope} {what} from {row['from_key']}; "
                      f"judged {plural(len(row['rejudged']), 'partition')} again", highlight=False)
    finish(ws)


@monitors_app.command("replay")
def replay(
    name: str | None = typer.Argument(None, metavar="ASSET", callback=local_asset, help="An asset or a source (default: all)."),
    first: str | None = typer.Option(None, "--from", metavar="KEY", help="First partition key to judge again."),
    as_json: bool = JSON_OPT,
) -> None:
    """What the monitors would raise over the stored history with today's settings, beside what
    they stored: partitions whose alerts are new, unchanged, changed or gone. Stores nothing."""
    from weir.cli.render import print_json

    ws = open_workspace(reading=True)
    reports = ws.monitors.replays(name, first=first)
    if as_json:
        print_json([r.to_json() for r in reports])
    else:
        _render_replays(reports)
    finish(ws)


MARK_STYLES = {"new": "red", "changed": "yellow", "unchanged": "dim", "gone": "green"}


def _render_replays(reports: list) -> None:
    from rich.markup import escape

    from weir.cli.render import console, plural, table

    for report in reports:
        c = report.counts()
        line = (f"[bold]{escape(report.asset)}[/]: would raise {plural(c['alerts'], 'alert')} on "
                f"{plural(c['partitions'], 'partition')} (stored now: {plural(c['stored_alerts'], 'alert')} on "
                f"{plural(c['stored_partitions'], 'partition')}); {plural(c['warnings'], 'warning')}")
        console.print(line + (f" [dim]from {report.first}[/]" if report.first else ""), highlight=False)
        rows = report.partitions()
        if not rows:
            continue
        t = table("partition", "", "would alert on", "stored alerts on")
        for r in rows:
            t.add_row(r["partition"], f"[{MARK_STYLES[r['mark']]}]{r['mark']}[/]", ", ".join(r["alerts"]),
                      ", ".join(r["stored"]))
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
    name: str = typer.Argument(..., metavar="ASSET", callback=local_asset, help="An asset or a source."),
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
    _note_range(ws.quality.range_check(name, first, last))
    if not points:
        from weir.errors import WeirError

        raise WeirError(f"no points of {name} {metric}{' on ' + column if column else ''} to draw")
    from weir.monitoring.charts import control_chart

    path = control_chart(points, title=f"{name} {_series(column or '', metric)}", out=out)
    console.print(f"wrote {path} ({len(points)} partitions, {sum(1 for p in points if p['signals'])} with signals)")
    finish(ws)
