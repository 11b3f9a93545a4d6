"""``weir events``: the durable event log, from a cursor."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from weir.cli.context import JSON_OPT, finish, open_workspace

if TYPE_CHECKING:
    from weir.events import Event

app = typer.Typer()
openlineage_app = typer.Typer(help="OpenLineage: send the event log's runs to a lineage backend.", no_args_is_help=True)


@app.command()
def events(
    after: int | None = typer.Option(None, "--after", min=0, metavar="ID",
                                     help="The oldest events with an id above this cursor (page forward)."),
    before: int | None = typer.Option(None, "--before", min=1, metavar="ID",
                                      help="The newest events with an id below this one (page back)."),
    kind: list[str] | None = typer.Option(None, "--kind", metavar="KIND", help="Only events of this kind (repeatable)."),
    limit: int = typer.Option(100, "--limit", min=1, metavar="N", help="At most N events."),
    as_json: bool = JSON_OPT,
) -> None:
    """The event log, newest N by default (oldest first on the page): runs, publishes, blocks, failed checks, signals."""
    from weir.cli.render import console, print_json, short_time, table

    if after is not None and before is not None:
        from weir.errors import UsageError

        raise UsageError("--after and --before do not go together: --after ID pages forward, --before ID back")
    ws = open_workspace(recover=True, needs_project=False)
    kinds = tuple(kind or ())
    if after is not None:
        rows = ws.events.list(after=after, kinds=kinds, limit=limit)
    else:
        rows = ws.events.newest(before=before, kinds=kinds, limit=limit)
    if as_json:
        print_json([e.to_json() for e in rows])
        return finish(ws)
    title = (f"events after {after}" if after is not None else
             f"the {limit} newest events before {before}" if before is not None else f"the {limit} newest events")
    t = table("id", "at", "kind", "asset", "partition", "run", "what", title=title)
    for e in rows:
        t.add_row(str(e.id), short_time(e.at), e.kind, e.asset or "", e.partition_key or "", e.run_id or "", _summary(e))
    console.print(t)
    if len(rows) == limit:
        console.print(f"more: weir events --after {rows[-1].id}" if after is not None
                      else f"older: weir events --before {rows[0].id}")
    finish(ws)


def _summary(e: Event) -> str:
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
