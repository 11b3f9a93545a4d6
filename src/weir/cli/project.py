"""``weir init``, ``weir lineage``, ``weir db upgrade``: the project, its graph, the workspace's store."""

from __future__ import annotations

from pathlib import Path

import typer

from weir.cli.context import JSON_OPT, finish, local_asset, open_workspace, show_help

app = typer.Typer()
db_app = typer.Typer(help="Metadata store maintenance.", invoke_without_command=True)


@db_app.callback()
def db(ctx: typer.Context) -> None:
    """Metadata store maintenance."""
    if ctx.invoked_subcommand is None:
        show_help(ctx)


@app.command()
def init(
    directory: Path = typer.Argument(..., metavar="DIR", help="Folder to create the project in."),
    example: str | None = typer.Option(None, "--example", metavar="NAME", help="Start from an example: flights."),
    days: int = typer.Option(60, "--days", metavar="N", help="With --example flights: days of data to land now."),
) -> None:
    """Create a project, empty or from an example with data landed."""
    from weir.cli.render import console
    from weir.project.scaffold import create_project

    created = create_project(directory, example=example, days=days)
    console.print(f"created project [bold]{created['name']}[/] in {created['path']}")
    for line in created.get("notes", []):
        console.print(f"  {line}")


@app.command()
def lineage(asset: str | None = typer.Argument(None, metavar="ASSET", callback=local_asset, help="Only what is upstream and downstream of it."), as_json: bool = JSON_OPT) -> None:
    """The graph of sources, assets and insights, in build order."""
    from weir.cli.render import console, print_json, table

    ws = open_workspace(reading=True)
    graph = ws.lineage.graph(asset)
    if as_json:
        print_json(graph.to_json())
        return finish(ws)
    t = table("", "node", "type", "partitions", "reads", "feeds insights",
              title=f"{graph.project}: {len(graph.nodes)} sources and assets in build order")
    for i, n in enumerate(graph.nodes, start=1):
        name = f"[bold]{n.name}[/]" if n.name == asset else n.name
        t.add_row(str(i), name, n.type, n.partitions, ", ".join(n.upstream) or "—", ", ".join(n.insights))
    console.print(t)
    for insight in graph.insights:
        owners = f" (owners: {', '.join(insight.owners)})" if insight.owners else ""
        console.print(f"insight [magenta]{insight.name}[/] ← {', '.join(insight.depends_on)}{owners}", highlight=False)
    finish(ws)


@app.command()
def deploy(as_json: bool = JSON_OPT) -> None:
    """Deploy this folder's project: make it the active deployment of its project in the workspace
    (after moving or restoring the folder, or to take over from another folder)."""
    from weir.cli.context import actor
    from weir.cli.render import console, print_json
    from weir.deploy.service import deployment_json

    ws = open_workspace(recover=True)
    row = ws.deployments.deploy(actor=actor())
    if as_json:
        print_json(deployment_json(row))
        return finish(ws)
    console.print(f"deployed {row['project']} version {row['digest']} from {row['location']} "
                  f"(deployment {row['id']})", highlight=False)
    finish(ws)


@app.command()
def deployments(as_json: bool = JSON_OPT) -> None:
    """The project's deployments, newest first: its versions, where each was served from, the
    active one, and how many runs each made."""
    from weir.cli.render import console, print_json, short_time, table
    from weir.deploy.service import deployment_json

    ws = open_workspace()
    rows = ws.deployments.list()
    if as_json:
        print_json([deployment_json(r) for r in rows])
        return finish(ws)
    if not rows:
        console.print("no deployments yet: 'weir run' or 'weir deploy' makes the first", highlight=False)
        return finish(ws)
    t = table("id", "", "version", "location", "deployed", "by", "runs", title=f"deployments of {ws.project.name}")
    for r in rows:
        t.add_row(str(r["id"]), "[green]active[/]" if r["active"] else "", r["digest"], r["location"],
                  short_time(r["activated_at"] or r["created_at"]), r.get("actor") or "", str(r["runs"]))
    console.print(t)
    finish(ws)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending metadata store migrations."""
    from weir.cli.render import console
    from weir.store.database import HEAD_REVISION

    ws = open_workspace()
    before = ws.store.upgrade()
    console.print(f"metadata store at revision {HEAD_REVISION} ({ws.store.backend}); was {before or 'empty'}")
    finish(ws)
