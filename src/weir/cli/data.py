"""``weir status``, ``weir read``, ``weir history``: what is published, and its data."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from weir.cli.context import JSON_OPT, choice, choices, finish, local_asset, open_workspace

if TYPE_CHECKING:
    import pyarrow as pa

app = typer.Typer()


class ReadFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"
    PARQUET = "parquet"


@app.command()
def status(asset: str | None = typer.Argument(None, metavar="ASSET", callback=local_asset, help="One asset (default: all)."), as_json: bool = JSON_OPT) -> None:
    """What is published per asset, what is blocked, and what the last run left failed."""
    from weir.cli.render import console, print_json, short_time, table
    from weir.runs.records import status_json

    ws = open_workspace(reading=True, recover=True)
    rows = ws.data.status(asset)
    if as_json:
        print_json([status_json(r) for r in rows])
        return finish(ws)
    t = table("asset", "kind", "partitions", "published", "rows", "newest", "last published", "last run",
              title=f"project {ws.project.name}")
    for r in rows:
        published = f"{r['published']}/{r['expected']}"
        if r["outdated_code"]:
            published += f" [yellow]({r['outdated_code']} by older code)[/]"
        last = r["last_run"] or "—"
        if r["last_run_failed"]:
            last += f" [red]{r['last_run_failed']} failed[/]"
        if r["blocked"]:
            keys = [b["partition_key"] or "—" for b in r["blocked"]]
            published += f" [magenta]({len(keys)} blocked: {', '.join(keys[:3])}{' …' if len(keys) > 3 else ''})[/]"
        t.add_row(r["asset"], r["kind"], r["partitions"].split(" ")[0], published, f"{r['rows']:,}", r["last"] or "—",
                  short_time(r["published_at"]), last)
    console.print(t)
    finish(ws)


@app.command()
def read(
    asset: str = typer.Argument(..., metavar="ASSET", callback=local_asset),
    partition: str | None = typer.Option(None, "--partition", metavar="KEY"),
    version: int | None = typer.Option(None, "--version", metavar="N", help="A table version from 'weir history'."),
    fmt: str = typer.Option("table", "--format", metavar="FORMAT", help=f"{choices(ReadFormat)}."),
    limit: int | None = typer.Option(None, "--limit", min=0, metavar="N", help="At most N rows (a table shows 20 by default)."),
    out: Path | None = typer.Option(None, "--out", metavar="FILE", help="Write to this file (required for parquet)."),
    quarantined: bool = typer.Option(False, "--quarantined", help="The staged data of the newest blocked build instead."),
) -> None:
    """Print a partition: published, an earlier version, or quarantined."""
    from weir.errors import UsageError

    form = choice(ReadFormat, fmt, "--format")
    if form is ReadFormat.PARQUET and out is None:
        raise UsageError("--format parquet needs --out FILE")
    ws = open_workspace(reading=True, recover=True)
    if quarantined:
        data = ws.data.read_quarantined(asset, partition, limit if form is not ReadFormat.TABLE else None)
    else:
        data = ws.data.read(asset, partition, version, limit if form is not ReadFormat.TABLE or limit is not None else None)
    _write(data, form, out, f"{asset} {partition or ''}", version, limit)
    finish(ws)


def _write(data: pa.Table, form: ReadFormat, out: Path | None, title: str, version: int | None, limit: int | None) -> None:
    from weir.cli.render import cell, console, table

    if form is ReadFormat.PARQUET:
        import pyarrow.parquet as pq

        pq.write_table(data, out)
        console.print(f"wrote {data.num_rows:,} rows to {out}")
    elif form is ReadFormat.CSV:
        import pyarrow.csv as pacsv

        pacsv.write_csv(data, out if out else sys.stdout.buffer)
    elif form is ReadFormat.JSON:
        import json

        text = json.dumps(data.to_pylist(), default=_json_value)
        if out:
            Path(out).write_text(text)
        else:
            sys.stdout.write(text + "\n")
    else:
        shown = data.slice(0, limit if limit is not None else 20)
        t = table(*shown.column_names,
                  title=f"{title} ({data.num_rows:,} rows{', version ' + str(version) if version is not None else ''})")
        for row in shown.to_pylist():
            t.add_row(*[cell(v) for v in row.values()])
        console.print(t)
        if shown.num_rows < data.num_rows:
            console.print(f"[dim]showing {shown.num_rows} of {data.num_rows:,} rows; --limit N or --format csv for more[/]")


def _json_value(value: object) -> object:
    from decimal import Decimal

    if isinstance(value, Decimal):  # DuckDB sums are DECIMAL: keep them numbers in JSON
        return int(value) if value == value.to_integral_value() else float(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


@app.command()
def history(
    asset: str = typer.Argument(..., metavar="ASSET", callback=local_asset),
    partition: str | None = typer.Option(None, "--partition", metavar="KEY"),
    as_json: bool = JSON_OPT,
) -> None:
    """Every published version of a partition, with its run."""
    from weir.cli.render import console, print_json, short_time, table
    from weir.runs.records import version_json

    ws = open_workspace(reading=True, recover=True)
    rows = ws.data.history(asset, partition)
    if as_json:
        print_json([version_json(r) for r in rows])
        return finish(ws)
    t = table("version", "run", "code version", "rows", "published", title=f"{asset} {partition or ''}")
    for r in rows:
        t.add_row(str(r["version"]), r["run_id"], r["code_version"], "" if r["row_count"] is None else f"{r['row_count']:,}",
                  short_time(r["published_at"]))
    console.print(t)
    finish(ws)
