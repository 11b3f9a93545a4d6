"""``weir alerts``: the notifications about incidents, their delivery, and sending them again."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from weir.cli.context import JSON_OPT, actor, choice, finish, open_workspace

if TYPE_CHECKING:
    from weir.alerts.service import Delivered

app = typer.Typer(help="Alerts: what was told to whom about incidents (list, show, deliver, retry, test).",
                  invoke_without_command=True)
STYLES = {"pending": "yellow", "sending": "cyan", "delivered": "green", "dead": "red", "skipped": "magenta"}


@app.callback()
def alerts(
    ctx: typer.Context,
    state: str | None = typer.Option(None, "--state", metavar="S", help="Only alerts in this state: pending | sending | delivered | dead | skipped."),
    incident: int | None = typer.Option(None, "--incident", metavar="ID", help="Only the alerts of this incident."),
    audience: str | None = typer.Option(None, "--audience", metavar="A", help="Only those to this audience: business | team."),
    limit: int = typer.Option(50, "--limit", metavar="N", help="At most N, newest first."),
    as_json: bool = JSON_OPT,
) -> None:
    """Notifications, newest first: one per incident, route and change (opened, reopened,
    resolved), with their delivery state; those a route skipped (below its min_severity) say why."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.markup import escape

    from weir.alerts.records import alert_json
    from weir.alerts.service import State
    from weir.cli.render import console, print_json, short_time, table
    from weir.errors import UsageError
    from weir.project.alerts import AUDIENCES

    wanted = choice(State, state, "--state")
    if audience is not None and audience not in AUDIENCES:
        raise UsageError(f"--audience {audience!r} is not one of {', '.join(AUDIENCES)}")
    ws = open_workspace()
    rows = ws.alerts.list(wanted, incident=incident, audience=audience, limit=limit)
    if as_json:
        print_json([alert_json(r) for r in rows])
        return finish(ws)
    if not rows:
        routes = ws.project.config.alerts.routes
        console.print("no alerts" + (f" {wanted}" if wanted else "") + (
            "" if routes else ": no routes in weir.toml ([alerts.routes.NAME], see docs/incidents.md)"))
        return finish(ws)
    t = table("id", "incident", "route", "audience", "change", "state", "tries", "queued", "what", title="alerts")
    for r in rows:
        record = alert_json(r)
        what = escape(record["subject"]) if record["subject"] else (
            "(not sent)" if r["state"] == "skipped" else "(composed when first sent)")
        if r["state"] == "skipped":
            what += f"\n[magenta]{escape(record['reason'] or '')}[/]"
        if r["state"] in ("pending", "dead") and r["last_error"]:
            what += f"\n[red]{escape(r['last_error'])}[/]"
            if r["state"] == "pending":
                what += f" (next try {short_time(r['next_at'])})"
        t.add_row(str(r["id"]), str(r["incident_id"] or "—"), r["route"], r["audience"], r["change"],
                  f"[{STYLES[r['state']]}]{r['state']}[/]", str(r["attempts"]), short_time(r["created_at"]), what)
    console.print(t)
    finish(ws)


@app.command("show")
def show(alert: int | None = typer.Argument(None, metavar="[ID]", help="Default: the newest alert."),
         audience: str | None = typer.Option(None, "--audience", metavar="A",
                                             help="Without ID: the newest to this audience (business | team)."),
         as_json: bool = JSON_OPT) -> None:
    """One alert with its words as they were (or will be) sent."""
    from rich.markup import escape

    from weir.alerts.records import alert_json
    from weir.cli.render import console, print_json
    from weir.errors import UnknownObjectError, UsageError
    from weir.project.alerts import AUDIENCES

    if audience is not None and audience not in AUDIENCES:
        raise UsageError(f"--audience {audience!r} is not one of {', '.join(AUDIENCES)}")
    ws = open_workspace()
    if alert is None:
        newest = ws.alerts.list(audience=audience, limit=1)
        if not newest:
            raise UnknownObjectError("no alerts yet" + (f" to the {audience} audience" if audience else ""))
        alert = newest[0]["id"]
    row = ws.alerts.show(alert)
    if as_json:
        print_json(alert_json(row))
        return finish(ws)
    m = row["composed"]
    console.print(f"[bold]alert {row['id']}[/] ({row['audience']}, route {row['route']}, {row['state']}) "
                  + (f"for incident {row['incident_id']} {row['change']}" if row["incident_id"]
                     else "a scenario report"), highlight=False)
    if row["state"] == "skipped":
        console.print(f"[magenta]not sent: {escape(row['last_error'] or '')}[/] ('weir alerts retry {row['id']}' "
                      "sends it after all)", highlight=False, soft_wrap=True)
    if m["recipients"]:
        console.print(f"to: {escape(', '.join(m['recipients']))}", highlight=False)
    console.print(f"subject: {escape(m['subject'])}\n", highlight=False)
    console.print(escape(m["text"]), highlight=False, soft_wrap=True)
    finish(ws)


@app.command("deliver")
def deliver(as_json: bool = JSON_OPT) -> None:
    """Send the alerts that are due now (weir run and weir ingest do this after they finish)."""
    from weir.cli.render import print_json

    ws = open_workspace()
    pumped = ws.pump()  # what the log holds first (incidents), then the outbox
    done = pumped.get("alerts") or ws.alerts.deliver()
    if as_json:
        print_json({"sent": [r["id"] for r in done.sent], "failed": [r["id"] for r in done.failed],
                    "dead": [r["id"] for r in done.dead]})
    else:
        report(done, quiet=False)
    finish(ws)


@app.command("retry")
def retry(alert: int = typer.Argument(..., metavar="ID"), as_json: bool = JSON_OPT) -> None:
    """Send a dead (or waiting) alert again, now; or a skipped one after all."""
    from weir.alerts.records import alert_json
    from weir.cli.render import print_json

    ws = open_workspace()
    ws.alerts.retry(alert, actor=actor())
    done = ws.alerts.deliver()
    row = ws.alerts.show(alert)
    if as_json:
        print_json(alert_json(row))
    else:
        report(done, quiet=False)
    finish(ws, 0 if row["state"] == "delivered" else 1)


@app.command("test")
def test(route: str = typer.Argument(..., metavar="ROUTE", help="A route of [alerts.routes] in weir.toml.")) -> None:
    """Send a test message over one route now; exit 1 if it cannot be sent."""
    from rich.markup import escape

    from weir.alerts.channels import DeliveryError
    from weir.cli.render import console, err_console

    ws = open_workspace()
    try:
        where = ws.alerts.test(route)
    except DeliveryError as exc:
        err_console.print(f"[red]route {route}: not sent:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return finish(ws, 1)
    console.print(f"route {route}: test message sent ({escape(where)})", highlight=False)
    finish(ws)


def report(done: Delivered, *, quiet: bool) -> None:
    """One line for what a delivery pass did (nothing at all when quiet and nothing happened)."""
    from rich.markup import escape

    from weir.cli.render import err_console

    if done.sent:
        routes = sorted({r["route"] for r in done.sent})
        err_console.print(f"[green]{len(done.sent)} alert(s) sent[/] ({', '.join(routes)})", highlight=False)
    for r in (done.failed + done.dead)[:3]:
        verb = "dead-lettered" if r in done.dead else "not sent yet, will retry"
        err_console.print(f"[yellow]alert {r['id']} ({r['route']}) {verb}:[/] {escape(r['last_error'] or '')}",
                          highlight=False, soft_wrap=True)
    rest = len(done.failed) + len(done.dead) - 3
    if rest > 0:
        err_console.print(f"[yellow]and {rest} more not sent[/] ('weir alerts --state pending')", highlight=False)
    if not quiet and not (done.sent or done.failed or done.dead):
        err_console.print("no alerts due", highlight=False)
