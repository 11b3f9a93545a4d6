"""``weir``: the command line. Each command parses, calls one Workspace method and renders."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

app = typer.Typer(
    help="weir: partitioned data assets on Delta Lake, checked and published atomically.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
runs_app = typer.Typer(help="List runs, or show one with 'weir runs show ID'.", invoke_without_command=True)
db_app = typer.Typer(help="Metadata store maintenance.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")
app.add_typer(db_app, name="db")


class _Globals:
    workspace: Path | None = None
    project: Path | None = None


G = _Globals()

JSON_OPT = typer.Option(False, "--json", help="Print JSON with stable keys (see README).")


@app.callback()
def _global(
    workspace: Path | None = typer.Option(None, "--workspace", "-w", help="Workspace folder (else $WEIR_HOME, else ./.weir)."),
    project: Path | None = typer.Option(None, "--project", "-p", help="Project folder holding weir.toml (else the current folder)."),
) -> None:
    G.workspace, G.project = workspace, project


def _ws():
    from weir.workspace import Workspace

    return Workspace(G.workspace, G.project)


@app.command()
def init(
    directory: Path = typer.Argument(..., help="Folder to create the project in."),
    example: str | None = typer.Option(None, "--example", help="Start from an example: flights."),
    days: int = typer.Option(60, "--days", help="With --example flights: days of data to land now."),
) -> None:
    """Create a project (optionally from an example, with its first days of data landed)."""
    from weir.cli.render import console
    from weir.project.scaffold import create_project

    created = create_project(directory, example=example, days=days)
    console.print(f"created project [bold]{created['name']}[/] in {created['path']}")
    for line in created.get("notes", []):
        console.print(f"  {line}")


@app.command()
def run(
    assets: list[str] | None = typer.Argument(None, help="Assets to build (default: all)."),
    partition: str | None = typer.Option(None, "--partition", help="One partition key, e.g. 2013-01-05."),
    first: str | None = typer.Option(None, "--from", help="First partition key of a backfill."),
    last: str | None = typer.Option(None, "--to", help="Last partition key of a backfill."),
    stale: bool = typer.Option(False, "--stale", help="Only partitions that are missing, built by older code, or whose inputs changed."),
    plan: bool = typer.Option(False, "--plan", help="Show what would be built and why, without building."),
    executor: str = typer.Option("processes", "--executor", help="inprocess | processes."),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Worker processes (default: CPU count)."),
    as_json: bool = JSON_OPT,
) -> None:
    """Build asset partitions: stage, audit, publish atomically."""
    from weir.cli import commands

    commands.run(_ws(), assets or [], partition, first, last, stale, plan, executor, workers, as_json)


@app.command()
def status(asset: str | None = typer.Argument(None), as_json: bool = JSON_OPT) -> None:
    """What is published for each asset, and what the last run left failed."""
    from weir.cli import commands

    commands.status(_ws(), asset, as_json)


@runs_app.callback()
def runs(
    ctx: typer.Context,
    limit: int = typer.Option(20, "--limit", min=1),
    state: str | None = typer.Option(None, "--state", help="Only runs in this state."),
    as_json: bool = JSON_OPT,
) -> None:
    """List recent runs."""
    if ctx.invoked_subcommand:
        return
    from weir.cli import commands

    commands.runs(_ws(), limit, state, as_json)


@runs_app.command("show")
def runs_show(run_id: str = typer.Argument(..., help="Run id or a unique prefix."), as_json: bool = JSON_OPT) -> None:
    """One run: its partitions, errors, input versions and environment."""
    from weir.cli import commands

    commands.run_show(_ws(), run_id, as_json)


@app.command()
def lineage(asset: str | None = typer.Argument(None), as_json: bool = JSON_OPT) -> None:
    """Sources, assets and insights upstream and downstream."""
    from weir.cli import commands

    commands.lineage(_ws(), asset, as_json)


@app.command()
def read(
    asset: str = typer.Argument(...),
    partition: str | None = typer.Option(None, "--partition"),
    version: int | None = typer.Option(None, "--version", help="A table version from 'weir history'."),
    fmt: str = typer.Option("table", "--format", help="table | csv | json | parquet."),
    limit: int | None = typer.Option(None, "--limit", min=0),
    out: Path | None = typer.Option(None, "--out", help="Write to this file (required for parquet)."),
    quarantined: bool = typer.Option(False, "--quarantined", help="The staged data of the newest blocked build instead."),
) -> None:
    """Print a published partition (or an earlier version, or its quarantined build)."""
    from weir.cli import commands

    commands.read(_ws(), asset, partition, version, fmt, limit, out, quarantined)


@app.command("checks")
def checks_cmd(
    asset: str | None = typer.Argument(None),
    partition: str | None = typer.Option(None, "--partition"),
    failed: bool = typer.Option(False, "--failed", help="Only checks that did not pass."),
    as_json: bool = JSON_OPT,
) -> None:
    """Newest check results per partition."""
    from weir.cli import commands

    commands.checks(_ws(), asset, partition, failed, as_json)


@app.command("check")
def check_cmd(
    asset: str = typer.Argument(...),
    partition: str | None = typer.Option(None, "--partition"),
    as_json: bool = JSON_OPT,
) -> None:
    """Re-run an asset's checks on its published partition, without rebuilding."""
    from weir.cli import commands

    commands.check(_ws(), asset, partition, as_json)


@app.command()
def metrics(
    name: str = typer.Argument(..., metavar="ASSET", help="An asset or a source."),
    column: str | None = typer.Option(None, "--column", help="One column ('' for table-level metrics)."),
    metric: str | None = typer.Option(None, "--metric", help="One metric, e.g. null_fraction, mean, p99, row_count."),
    first: str | None = typer.Option(None, "--from", help="First partition key."),
    last: str | None = typer.Option(None, "--to", help="Last partition key."),
    as_json: bool = JSON_OPT,
) -> None:
    """Profile metrics per partition, as time series."""
    from weir.cli import commands

    commands.metrics(_ws(), name, column, metric, first, last, as_json)


@app.command("monitors")
def monitors_cmd(
    name: str | None = typer.Argument(None, metavar="[ASSET]"),
    signals: bool = typer.Option(False, "--signals", help="List the signals the monitors raised."),
    alerts: bool = typer.Option(False, "--alerts", help="With --signals: only alerts, not warnings."),
    as_json: bool = JSON_OPT,
) -> None:
    """Every monitored metric series and its state, or (--signals) what the monitors found."""
    from weir.cli import commands

    commands.monitors(_ws(), name, signals, alerts, as_json)


@app.command("chart")
def chart_cmd(
    name: str = typer.Argument(..., metavar="ASSET"),
    metric: str = typer.Option(..., "--metric", help="The metric, e.g. row_count, mean, null_fraction."),
    column: str | None = typer.Option(None, "--column", help="The column (omit for table-level metrics)."),
    first: str | None = typer.Option(None, "--from", help="First partition key."),
    last: str | None = typer.Option(None, "--to", help="Last partition key."),
    out: str = typer.Option(..., "--out", help="Image file: .png, .svg or .pdf."),
) -> None:
    """Draw a control chart: points, centre line, limits, signals."""
    from weir.cli import commands

    commands.chart(_ws(), name, metric, column, first, last, out)


@app.command()
def ingest(
    source: str = typer.Argument(...),
    partition: list[str] | None = typer.Option(None, "--partition", help="Only these partitions (repeatable)."),
    force: bool = typer.Option(False, "--force", help="Check again even if the same files were checked before."),
    as_json: bool = JSON_OPT,
) -> None:
    """Check newly landed source partitions (contract, checks, profile) without building anything."""
    from weir.cli import commands

    commands.ingest(_ws(), source, list(partition or []), force, as_json)


@app.command()
def history(asset: str = typer.Argument(...), partition: str | None = typer.Option(None, "--partition"), as_json: bool = JSON_OPT) -> None:
    """Every published version of a partition, with the run that wrote it."""
    from weir.cli import commands

    commands.history(_ws(), asset, partition, as_json)


@app.command()
def events(
    after: int = typer.Option(0, "--after", min=0, help="Only events with an id above this cursor."),
    kind: list[str] | None = typer.Option(None, "--kind", help="Only events of this kind (repeatable)."),
    limit: int = typer.Option(100, "--limit", min=1),
    as_json: bool = JSON_OPT,
) -> None:
    """The event log: runs, publishes, blocked partitions, failed checks, signals, in order."""
    from weir.cli import commands

    commands.events(_ws(), after, tuple(kind or ()), limit, as_json)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending metadata store migrations."""
    from weir.cli import commands

    commands.db_upgrade(_ws())


def main() -> None:
    from weir.errors import WeirError

    try:
        app()
    except WeirError as exc:
        from rich.markup import escape

        from weir.cli.render import err_console

        err_console.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)


if __name__ == "__main__":
    main()
