"""``weir daemon``: run the workspace's scenarios in the foreground; ``weir daemon status``."""

from __future__ import annotations

import typer

from weir.cli.context import JSON_OPT, finish, open_workspace

app = typer.Typer(help="Run scenarios on their triggers in the foreground ('weir daemon'), or see the daemons "
                       "('weir daemon status').", invoke_without_command=True)


@app.callback()
def daemon(
    ctx: typer.Context,
    once: bool = typer.Option(False, "--once", help="One pass: evaluate the triggers, run the ticks due, deliver alerts; then exit."),
    interval: float = typer.Option(1.0, "--interval", metavar="S", min=0.05,
                                   help="Seconds between two passes (default 1: a landing is seen within a second)."),
) -> None:
    """Run the scenarios of this project (and the workspace's other projects) until SIGTERM or
    Ctrl-C: one line per tick. On SQLite only one daemon may run; on PostgreSQL any number."""
    if ctx.invoked_subcommand is not None:
        return
    import sys

    def log(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    ws = open_workspace(recover=True)
    ws.daemon(interval=interval, log=log).run(once=once)
    finish(ws)


@app.command("status")
def status(as_json: bool = JSON_OPT) -> None:
    """The daemons of this workspace, newest first: live, stale (no heartbeat: dead or stuck) or stopped."""
    from rich.markup import escape

    from weir.cli.render import console, print_json, table
    from weir.daemon.registry import status as daemon_status

    ws = open_workspace(needs_project=False)
    rows = daemon_status(ws.store)
    if as_json:
        print_json(rows)
        return finish(ws)
    if not rows:
        console.print("no daemon has run in this workspace ('weir daemon' starts one)")
        return finish(ws)
    styles = {"live": "green", "stale": "red", "stopped": "dim"}
    t = table("daemon", "state", "host", "pid", "started", "heartbeat", "projects", "doing", title="daemons")
    for r in rows:
        t.add_row(r["id"], f"[{styles[r['state']]}]{r['state']}[/]", r["host"], str(r["pid"]), r["started_at"],
                  f"{r['heartbeat_age']:.0f} s ago", ", ".join(r["projects"]), escape(r["doing"] or ""))
    console.print(t)
    finish(ws)


__all__ = ["app"]
