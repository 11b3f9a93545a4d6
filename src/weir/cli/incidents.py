"""``weir incidents``: what opened, what joined it and why, and acting on it."""

from __future__ import annotations

import typer

from weir.cli.context import JSON_OPT, choice, finish, open_workspace

app = typer.Typer(help="Incidents: one root cause, one incident (list, show, ack, resolve, severity).",
                  invoke_without_command=True)
STYLES = {"open": "red", "acknowledged": "yellow", "resolved": "green"}
SHOWN = 5  # incidents named one by one after a run; more are counted in one line


@app.callback()
def incidents(
    ctx: typer.Context,
    state: str | None = typer.Option(None, "--state", metavar="S", help="Only incidents in this state: open | acknowledged | resolved."),
    as_json: bool = JSON_OPT,
) -> None:
    """Incidents, newest first: open ones opened by blocked or failed partitions and monitor alerts,
    each with the partition it started from and how many triggers joined it."""
    if ctx.invoked_subcommand is not None:
        return
    from weir.cli.render import console, print_json, short_time, table
    from weir.incidents.records import incident_json
    from weir.incidents.service import State

    wanted = choice(State, state, "--state")
    ws = open_workspace()
    rows = ws.incidents.list(wanted)
    if as_json:
        print_json([incident_json(r) for r in rows])
        return finish(ws)
    if not rows:
        console.print("no incidents" + (f" {wanted}" if wanted else "") + ": nothing blocked, failed or alerted")
        return finish(ws)
    t = table("id", "state", "severity", "root", "triggers", "assets", "opened", "what", title="incidents")
    for r in rows:
        colour = STYLES.get(r["state"], "white")
        root = f"{r['root_asset']} {r['root_partition'] or ''}".strip()
        state_text = r["state"] + (f" ({r['reason']})" if r["reason"] else "")
        level = r["severity"] + (" (by hand)" if r["severity_by_hand"] else "")
        t.add_row(str(r["id"]), f"[{colour}]{state_text}[/]", level, root, str(r["members"]),
                  str(len(r["assets"])), short_time(r["opened_at"]), r["title"])
    console.print(t)
    finish(ws)


@app.command("show")
def show(incident: int = typer.Argument(..., metavar="ID"), as_json: bool = JSON_OPT) -> None:
    """One incident: its root, every trigger that joined it and why, and its timeline."""
    from rich.markup import escape

    from weir.cli.render import console, print_json, short_time, table
    from weir.incidents.records import incident_detail_json

    ws = open_workspace()
    ws.incidents.sync()
    row = ws.incidents.show(incident)
    if as_json:
        print_json(incident_detail_json(row))
        return finish(ws)
    colour = STYLES.get(row["state"], "white")
    console.print(f"[bold]incident {row['id']}[/] [{colour}]{row['state']}[/]"
                  + (f" ({row['reason']})" if row["reason"] else "") + f", severity {row['severity']}"
                  + (" (set by hand)" if row["severity_by_hand"] else ""), highlight=False)
    console.print(f"root: {row['root_asset']} {row['root_partition'] or ''}", highlight=False)
    console.print(escape(row["title"]), highlight=False)
    if row["note"]:
        console.print(f"note: {escape(row['note'])}", highlight=False)
    t = table("at", "trigger", "asset", "partition", "why it joined", "what", title=f"{len(row['member_list'])} triggers")
    for m in row["member_list"]:
        t.add_row(short_time(m["at"]), m["kind"], m["asset"] or "", m["partition_key"] or "", m["why"], m["summary"])
    console.print(t)
    if row.get("diagnosis"):
        _render_diagnosis(row["diagnosis"], incident=row["id"])
    for e in row["timeline"]:
        what = e.data.get("change") or str(e.kind).removeprefix("incident_")
        if what == "severity":
            what = f"severity {e.data.get('was')} → {e.data.get('severity')} ({'by hand' if e.data.get('by') == 'hand' else 'graded'})"
        extra = e.data.get("reason") or e.data.get("why") or e.data.get("note") or ""
        console.print(f"  {short_time(e.at)}  {what}{': ' + str(extra) if extra else ''}", highlight=False)
    finish(ws)


@app.command("ack")
def ack(incident: int = typer.Argument(..., metavar="ID"),
        note: str | None = typer.Option(None, "--note", metavar="TEXT", help="Who is on it, what is being done."),
        as_json: bool = JSON_OPT) -> None:
    """Acknowledge an incident: someone is on it."""
    _act(incident, as_json, lambda ws: ws.incidents.acknowledge(incident, note))


@app.command("resolve")
def resolve(incident: int = typer.Argument(..., metavar="ID"),
            reason: str = typer.Option(..., "--reason", metavar="R", help="fixed | expected | false-alarm"),
            note: str | None = typer.Option(None, "--note", metavar="TEXT", help="What was done or found."),
            as_json: bool = JSON_OPT) -> None:
    """Resolve an incident: fixed, expected (the world really changed) or a false alarm."""
    from weir.incidents.service import Reason

    why = choice(Reason, reason, "--reason")
    _act(incident, as_json, lambda ws: ws.incidents.resolve(incident, why, note))


@app.command("severity")
def severity(incident: int = typer.Argument(..., metavar="ID"),
             level: str = typer.Argument(..., metavar="LEVEL", help="low | medium | high | critical"),
             note: str | None = typer.Option(None, "--note", metavar="TEXT", help="Why this level."),
             as_json: bool = JSON_OPT) -> None:
    """Set an incident's severity by hand; weir no longer grades it by itself."""
    from weir.incidents.severity import Severity

    chosen = choice(Severity, level, "LEVEL")
    _act(incident, as_json, lambda ws: ws.incidents.set_severity(incident, chosen, note),
         said=lambda row: f"incident {row['id']} severity {row['severity']} (set by hand)")


def _act(incident: int, as_json: bool, action, said=None) -> None:
    from weir.cli.render import console, print_json
    from weir.incidents.records import incident_json

    ws = open_workspace()
    ws.incidents.sync()
    row = action(ws)
    if as_json:
        print_json(incident_json({**row, "members": None, "assets": []}))
    elif said is not None:
        console.print(said(row), highlight=False)
    else:
        console.print(f"incident {row['id']} {row['state']}" + (f" ({row['reason']})" if row["reason"] else ""),
                      highlight=False)
    from weir.cli.alerts import deliver_after

    deliver_after(ws)  # the all-clear to the business, when it was resolved
    finish(ws)


def open_after(ws) -> None:
    """After a run or an ingest: open, grow or resolve incidents from what it logged; one line
    for each opened, reopened or resolved."""
    from rich.markup import escape

    from weir.cli.render import err_console

    synced = ws.incidents.sync()
    changed = synced.opened + synced.reopened
    if len(changed) > SHOWN:  # a backfill: one line for all of them, then the newest
        err_console.print(f"[red]{len(synced.opened)} incidents opened, {len(synced.reopened)} reopened[/] "
                          "('weir incidents' lists them); the newest:", highlight=False)
        changed = changed[-SHOWN:]
    for incident_id in changed:
        row = ws.incidents.show(incident_id)
        verb = "reopened" if incident_id in synced.reopened else "opened"
        err_console.print(f"[red]incident {incident_id} {verb}:[/] {escape(row['title'])}"
                          f" ('weir incidents show {incident_id}')", highlight=False, soft_wrap=True)
    for incident_id in synced.resolved:
        row = ws.incidents.show(incident_id)
        err_console.print(f"[green]incident {incident_id} resolved (fixed):[/] {escape(row['note'] or '')}",
                          highlight=False, soft_wrap=True)
    from weir.cli.alerts import deliver_after

    deliver_after(ws)


__all__ = ["app", "open_after"]


trust_app = typer.Typer()


@trust_app.command("trust")
def trust(insight: str | None = typer.Argument(None, metavar="[INSIGHT]", help="One insight, with its history."),
          as_json: bool = JSON_OPT) -> None:
    """Whether each insight can be trusted: trusted, suspect (an open incident touches its
    inputs), stale (data it depends on is past its fresh_within deadline) or broken (blocked or
    failed data under it), why, and the partition it is trusted through."""
    from rich.markup import escape

    from weir.cli.render import console, print_json, table

    ws = open_workspace()
    rows = ws.incidents.trust(insight)
    if as_json:
        print_json(rows)
        return finish(ws)
    if not rows:
        console.print("no insights: declare one with weir.insight(...)")
        return finish(ws)
    colours = {"trusted": "green", "suspect": "yellow", "stale": "magenta", "broken": "red"}
    t = table("insight", "status", "trusted through", "owners", "why", title="trust")
    for r in rows:
        why = "; ".join(r["because"][:3]) + (f"; and {len(r['because']) - 3} more" if len(r["because"]) > 3 else "")
        t.add_row(r["insight"], f"[{colours[r['status']]}]{r['status']}[/]", r["trusted_through"] or "—",
                  ", ".join(r["owners"]), escape(why) or "no open incident touches its inputs")
    console.print(t)
    if insight:
        _render_history(rows[0]["history"], colours)
    finish(ws)


def _render_history(history: list[dict], colours: dict[str, str]) -> None:
    """One line per change: ``2013-02-15 10:02  suspect  incident 3 opened: ...``; the date only
    when the day changes."""
    from datetime import datetime

    from rich.markup import escape

    from weir.cli.render import console

    if not history:
        console.print("history: trusted throughout (no incident has touched what it rests on)", highlight=False)
        return
    console.print("history:", highlight=False)
    day = ""
    for h in history:
        at = datetime.fromisoformat(h["at"]).astimezone()
        when = at.strftime("%H:%M") if at.strftime("%Y-%m-%d") == day else at.strftime("%Y-%m-%d %H:%M")
        day = at.strftime("%Y-%m-%d")
        console.print(f"  {'→ ' if h is not history[0] else '  '}{when:>16}  [{colours[h['status']]}]{h['status']:<7}[/]  "
                      f"{escape(h['because'])}", highlight=False, soft_wrap=True)


diagnose_app = typer.Typer()


@diagnose_app.command("diagnose")
def diagnose(asset: str = typer.Argument(..., metavar="ASSET", help="An asset or a source."),
             partition: str = typer.Option(..., "--partition", metavar="KEY", help="The partition to explain."),
             as_json: bool = JSON_OPT) -> None:
    """What changed since the last good build: input data, code, configuration, libraries; the
    causes ranked with their evidence and the fix for each."""
    from weir.cli.render import print_json

    ws = open_workspace()
    result = ws.incidents.diagnose(asset, partition)
    if as_json:
        print_json(result)
    else:
        _render_diagnosis(result)
    finish(ws)


def _render_diagnosis(d: dict, incident: int | None = None) -> None:
    from rich.markup import escape

    from weir.cli.render import console

    c = d["classification"]
    console.print(f"[bold]diagnosis of {d['asset']} {d['partition']}[/]: {c['verdict']} ({escape(c['why'])}; {c['for']})",
                  highlight=False)
    if d["last_good"]:
        g = d["last_good"]
        console.print(f"  compared with the last good build: run {g['run_id'][:8]}, partition {g['partition']}",
                      highlight=False)
    for i, cause in enumerate(d["causes"], 1):
        console.print(f"  {i}. [bold]{cause['kind']}[/] ({cause['score']:.2f}): {escape(cause['summary'])}", highlight=False)
        for line in cause["evidence"][:6]:
            console.print(f"       {escape(line)}", highlight=False)
        fix = cause["fix"].replace("ID", str(incident)) if incident is not None else cause["fix"]
        console.print(f"     fix: {escape(fix)}", highlight=False)
