"""``weir events``: the durable event log, from a cursor."""

from __future__ import annotations

import typer

from weir.cli.context import JSON_OPT, finish, open_workspace

app = typer.Typer()
openlineage_app = typer.Typer(help="OpenLineage: send the event log's runs to a lineage backend.", no_args_is_help=True)


@app.command()
def events(
    after: int = typer.Option(0, "--after", min=0, metavar="ID", help="Only events with an id above this cursor."),
    kind: list[str] | None = typer.Option(None, "--kind", metavar="KIND", help="Only events of this kind (repeatable)."),
    limit: int = typer.Option(100, "--limit", min=1, metavar="N", help="At most N events."),
    as_json: bool = JSON_OPT,
) -> None:
    """The event log: runs, publishes, blocks, failed checks, signals."""
    from weir.cli.render import console, print_json, short_time, table

    ws = open_workspace(recover=True, needs_project=False)
    rows = ws.events.list(after=after, kinds=tuple(kind or ()), limit=limit)
    if as_json:
        print_json([e.to_json() for e in rows])
        return finish(ws)
    t = table("id", "at", "kind", "asset", "partition", "run", "what", title=f"events after {after}")
    for e in rows:
        t.add_row(str(e.id), short_time(e.at), e.kind, e.asset or "", e.partition_key or "", e.run_id or "", _summary(e))
    console.print(t)
    if len(rows) == limit:
        console.print(f"more: weir events --after {rows[-1].id}")
    finish(ws)


def _summary(e) -> str:
    d = e.data
    parts = [f"{k}={d[k]}" for k in ("state", "version", "rows", "check", "metric", "column", "tasks") if d.get(k) not in (None, "")]
    for k in ("message", "rule", "error", "reason"):
        if d.get(k):
            parts.append(str(d[k]))
            break
    return " ".join(parts)


@openlineage_app.command("send")
def openlineage_send(as_json: bool = JSON_OPT) -> None:
    """Send the project's pending events now (after an outage, say); exit 1 if some could not be sent."""
    from weir.cli.render import console, print_json

    ws = open_workspace()
    delivery = ws.openlineage.send()
    if as_json:
        print_json(delivery.to_json())
    else:
        console.print(f"{delivery.sent} OpenLineage events sent to {delivery.target or delivery.transport} "
                      f"({delivery.read} weir events read; cursor {delivery.cursor})")
        if delivery.warning:
            console.print(f"[yellow]warning:[/] {delivery.warning}", highlight=False)
    finish(ws, 1 if delivery.warning else 0)
