"""``weir incidents``: what opened, what joined it and why, and acting on it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import typer

from weir.cli.context import JSON_OPT, actor, after_write, choice, finish, local_asset, open_workspace

if TYPE_CHECKING:
    from weir.incidents.sync import Synced
    from weir.model.rows import IncidentRecord
    from weir.workspace import Workspace

app = typer.Typer(help="Incidents: one root cause, one incident (list, show, fix, ack, resolve, severity).",
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
    """One incident: its root, every trigger that joined it and why, its scope (every partition
    built under its cause or from it, bad or rebuilt good), the diagnosis as told, the fix for the
    whole scope, and its timeline."""
    from rich.markup import escape

    from weir.cli.render import console, print_json, short_time, table
    from weir.incidents.records import incident_detail_json

    ws = open_workspace()
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
    if row.get("scope"):
        _render_scope(row)
    if row.get("diagnosis"):
        told = row.get("diagnoses") or []
        if told:
            console.print(f"[dim]the diagnosis as told when it {told[-1]['change']} ({short_time(told[-1]['at'])})[/]",
                          highlight=False)
        _render_diagnosis(row["diagnosis"], incident=row["id"])
    if row.get("fix"):
        console.print(f"[bold]fix[/] (every partition still bad; 'weir incidents fix {row['id']}' runs it):", highlight=False)
        for step in row["fix"]:
            console.print(f"  {escape(step['command'])}", highlight=False)
    for e in row["timeline"]:
        what = e.data.get("change") or str(e.kind).removeprefix("incident_")
        if what == "severity":
            what = f"severity {e.data.get('was')} → {e.data.get('severity')} ({'by hand' if e.data.get('by') == 'hand' else 'graded'})"
        if what == "scope":
            what = "scope grew"
        extra = e.data.get("reason") or e.data.get("why") or e.data.get("note") or e.data.get("scope") or ""
        console.print(f"  {short_time(e.at)}  {what}{': ' + str(extra) if extra else ''}", highlight=False)
    finish(ws)


def _render_scope(row: dict) -> None:
    from rich.markup import escape

    from weir.cli.render import console, table

    scope = row["scope"]
    left = row.get("left", 0)
    title = (f"scope: {len(scope)} partition(s), {left} still bad" if left
             else f"scope: {len(scope)} partition(s), all rebuilt good")
    t = table("asset", "partition", "state", "how it joined", title=title)
    shown = sorted(scope, key=lambda r: (r["fixed_run_id"] is not None, r["asset"], r["partition_key"]))
    for r in shown[:40]:
        state = "[green]rebuilt good[/]" if r["fixed_run_id"] is not None else "[red]bad[/]"
        t.add_row(r["asset"], r["partition_key"], state, escape(r["why"]))
    console.print(t)
    if len(shown) > 40:
        console.print(f"  … and {len(shown) - 40} more ('--json' lists them all)", highlight=False)


@app.command("fix")
def fix(incident: int = typer.Argument(..., metavar="ID"),
        yes: bool = typer.Option(False, "--yes", "-y", help="Run the steps without asking."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Only show the steps."),
        as_json: bool = JSON_OPT) -> None:
    """Fix an incident's whole scope: show the steps (rebuild in the last good environment,
    rebuild after a revert, check deliveries again, approve what a hold keeps, build what is
    stale), then run them and say what is left. Exit 2 while a person's step is not done (a
    revert, a delivery made again), 1 when partitions are still bad after it."""
    from weir.cli.render import console, print_json
    from weir.errors import UsageError
    from weir.incidents.remedy import MANUAL

    ws = open_workspace(recover=True)
    ws.pump()  # what the log holds first
    row = ws.incidents.show(incident)
    if row["state"] == "resolved":
        ws.close()
        raise UsageError(f"incident {incident} is already resolved ({row['reason']})")
    steps = row["fix"]
    if not steps:
        console.print(f"incident {incident} has nothing left to rebuild", highlight=False)
        return finish(ws)
    if not as_json:
        console.print(f"to fix incident {incident} ({row['left']} partition(s) still bad):", highlight=False)
        for i, step in enumerate(steps, 1):
            console.print(f"  {i}. {step['command']}", highlight=False)
    if dry_run:
        if as_json:
            print_json({"incident": incident, "steps": steps, "ran": [], "left": row["left"]})
        return finish(ws)
    revert = next((s for s in steps if s["kind"] == "revert"), None)
    if revert is not None:
        ws.close()
        raise UsageError(f"incident {incident}: {revert['command']} first; then run 'weir incidents fix {incident}' again")
    waiting = ws.incidents.undelivered(row["id"]) if any(s["kind"] == "deliver" for s in steps) else []
    if waiting:
        ws.close()
        raise UsageError(f"incident {incident}: the files landed for {', '.join(waiting[:5])}"
                         f"{' …' if len(waiting) > 5 else ''} are still the bad delivery: have them delivered again "
                         f"first; then run 'weir incidents fix {incident}' again")
    if not (yes or as_json) and not typer.confirm("run these steps?", default=True):
        raise typer.Exit(1)
    ran = []
    for step in steps:
        if step["kind"] in MANUAL:
            continue
        ran.append(_run_step(ws, step))
        if not as_json:
            console.print(f"  done: {step['command']} ({ran[-1]})", highlight=False)
    if as_json:
        ws.pump()
    else:
        after_write(ws)
    after = ws.incidents.show(incident)
    if as_json:
        print_json({"incident": incident, "steps": steps, "ran": ran, "state": after["state"], "left": after["left"]})
    elif after["state"] == "resolved":
        console.print(f"[green]incident {incident} resolved[/]: {after['note']}", highlight=False)
    else:
        still = [f"{r['asset']} {r['partition_key']}" for r in after["scope"] if r["fixed_run_id"] is None]
        console.print(f"[yellow]incident {incident} still open[/]: {len(still)} partition(s) still bad: "
                      + ", ".join(still[:10]) + (" …" if len(still) > 10 else ""), highlight=False)
    finish(ws, 0 if after["state"] == "resolved" else 1)


def _run_step(ws: Workspace, step: dict) -> str:
    """Run one step of a fix through the services; returns what it did in a few words."""
    from weir.envs.rebuild import RebuildRequest
    from weir.runs.request import RunRequest

    if step["kind"] == "ingest":
        ws.quality.ingest(step["asset"], list(step["keys"]))
        return f"{len(step['keys'])} deliveries checked"
    if step["kind"] == "approve":
        held = {r["partition_key"] for r in ws.approvals.held(step["asset"])} & set(step["keys"])
        if not held:
            return "nothing held"
        decision = ws.approvals.approve(step["asset"], tuple(sorted(held)), actor=actor())
        return f"{len(decision.done)} approved"
    if step["kind"] == "rebuild":
        first, last = step["first"], step["last"]
        request = (RebuildRequest(asset=step["asset"], partition=first, downstream=step["downstream"], env_of=step["env_of"],
                                  actor=actor())
                   if first == last else
                   RebuildRequest(asset=step["asset"], first=first, last=last, downstream=step["downstream"],
                                  env_of=step["env_of"], actor=actor()))
        rebuilt = ws.envs.rebuild(request, reporter=None)
        return "rebuilt" if rebuilt.ok else "some builds failed"
    result = ws.runs.run(RunRequest(stale=True, actor=actor()))
    return "built" if result.ok else "some builds failed"


@app.command("ack")
def ack(incident: int = typer.Argument(..., metavar="ID"),
        note: str | None = typer.Option(None, "--note", metavar="TEXT", help="Who is on it, what is being done."),
        as_json: bool = JSON_OPT) -> None:
    """Acknowledge an incident: someone is on it."""
    _act(incident, as_json, lambda ws: ws.incidents.acknowledge(incident, note, actor=actor()))


@app.command("resolve")
def resolve(incident: int = typer.Argument(..., metavar="ID"),
            reason: str = typer.Option(..., "--reason", metavar="R", help="fixed | expected | false-alarm"),
            note: str | None = typer.Option(None, "--note", metavar="TEXT", help="What was done or found."),
            as_json: bool = JSON_OPT) -> None:
    """Resolve an incident: fixed, expected (the world really changed) or a false alarm."""
    from weir.incidents.service import Reason

    why = choice(Reason, reason, "--reason")
    _act(incident, as_json, lambda ws: ws.incidents.resolve(incident, why, note, actor=actor()))


@app.command("severity")
def severity(incident: int = typer.Argument(..., metavar="ID"),
             level: str = typer.Argument(..., metavar="LEVEL", help="low | medium | high | critical"),
             note: str | None = typer.Option(None, "--note", metavar="TEXT", help="Why this level."),
             as_json: bool = JSON_OPT) -> None:
    """Set an incident's severity by hand; weir no longer grades it by itself."""
    from weir.incidents.severity import Severity

    chosen = choice(Severity, level, "LEVEL")
    _act(incident, as_json, lambda ws: ws.incidents.set_severity(incident, chosen, note, actor=actor()),
         said=lambda row: f"incident {row.id} severity {row.severity} (set by hand)")


def _act(incident: int, as_json: bool, action: Callable[[Workspace], IncidentRecord],
         said: Callable[[IncidentRecord], str] | None = None) -> None:
    from weir.cli.render import console, print_json
    from weir.incidents.records import incident_json

    ws = open_workspace()
    ws.pump()  # what the log holds first: the incident as it stands
    row = action(ws)
    if as_json:
        print_json(incident_json({**row.as_dict(), "members": None, "assets": []}))
    elif said is not None:
        console.print(said(row), highlight=False)
    else:
        console.print(f"incident {row.id} {row.state}" + (f" ({row.reason})" if row.reason else ""),
                      highlight=False)
    after_write(ws)  # the all-clear to the business, when it was resolved
    finish(ws)


def tell_synced(ws: Workspace, synced: Synced | None) -> None:
    """One line for each incident a pump opened, reopened, partly fixed or resolved."""
    from rich.markup import escape

    from weir.cli.render import err_console

    if synced is None:
        return
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
    for incident_id, fixed in synced.fixed.items():
        if incident_id in synced.resolved:
            continue
        row = ws.incidents.show(incident_id)
        left = [f"{r['asset']} {r['partition_key']}" for r in row["scope"] if r["fixed_run_id"] is None]
        err_console.print(f"[yellow]incident {incident_id} partly fixed:[/] {len(fixed)} partition(s) rebuilt good, "
                          f"{len(left)} still bad ({', '.join(left[:5])}{' …' if len(left) > 5 else ''}): "
                          f"'weir incidents fix {incident_id}'", highlight=False, soft_wrap=True)


__all__ = ["app", "tell_synced"]


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
def diagnose(asset: str = typer.Argument(..., metavar="ASSET", callback=local_asset, help="An asset or a source."),
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
        console.print(f"  compared with the last good build: run {g['run_id']}, partition {g['partition']}",
                      highlight=False)
    for i, cause in enumerate(d["causes"], 1):
        console.print(f"  {i}. [bold]{cause['kind']}[/] ({cause['score']:.2f}): {escape(cause['summary'])}", highlight=False)
        for line in cause["evidence"][:6]:
            console.print(f"       {escape(line)}", highlight=False)
        fix = cause["fix"].replace("ID", str(incident)) if incident is not None else cause["fix"]
        console.print(f"     fix: {escape(fix)}", highlight=False)
