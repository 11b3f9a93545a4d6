"""``weir checks``, ``weir check``, ``weir ingest``: check results, checking again, sources on arrival."""

from __future__ import annotations

import typer

from weir.cli.context import JSON_OPT, after_write, finish, local_asset, open_workspace

app = typer.Typer()

_RESULT = {"warn": "[yellow]warned[/]", "error": "[red]failed[/]", "block": "[magenta]blocked[/]"}


@app.command("checks")
def checks(
    asset: str | None = typer.Argument(None, metavar="ASSET", callback=local_asset, help="An asset or a source (default: all)."),
    partition: str | None = typer.Option(None, "--partition", metavar="KEY"),
    failed: bool = typer.Option(False, "--failed", help="Only checks that did not pass."),
    as_json: bool = JSON_OPT,
) -> None:
    """Newest check results per partition."""
    from weir.cli.render import console, print_json
    from weir.quality.records import check_json

    ws = open_workspace(reading=True)
    rows = ws.quality.check_results(asset, partition, failed)
    if as_json:
        print_json([check_json(r) for r in rows])
    elif not rows:
        console.print("no check results" + (" that failed" if failed else ""))
    else:
        _render_checks(rows, f"{len(rows)} check results")
    finish(ws)


@app.command("check")
def check(
    asset: str = typer.Argument(..., metavar="ASSET", callback=local_asset),
    partition: str | None = typer.Option(None, "--partition", metavar="KEY"),
    as_json: bool = JSON_OPT,
) -> None:
    """Check a published partition again, without rebuilding it."""
    from weir.cli.render import print_json
    from weir.quality.records import check_json

    ws = open_workspace()
    rows = ws.quality.recheck(asset, partition)
    if as_json:
        print_json([check_json(r) for r in rows])
    else:
        _render_checks(rows, f"checks of published {asset} {partition or ''}")
    finish(ws, 1 if any(not r["passed"] and r["severity"] in ("error", "block") for r in rows) else 0)


def _render_checks(rows: list[dict], title: str) -> None:
    from weir.cli.render import cell, console, table

    t = table("asset", "partition", "check", "severity", "result", "observed", "message", title=title)
    for r in rows:
        result = "[green]passed[/]" if r["passed"] else _RESULT[r["severity"]]
        t.add_row(r["asset"], r["partition_key"] or "—", r["check_name"], r["severity"], result, cell(r["observed"]),
                  _message(r))
    console.print(t)
    for r in rows:
        if not r["passed"] and r["sample"]:
            console.print(f"[dim]sample of failing rows for {r['asset']} {r['partition_key']} {r['check_name']}:[/]")
            for row in r["sample"]:
                console.print(f"  {row}", highlight=False)


def _message(r: dict) -> str:
    """The result's message; with the threshold it was held to when some rows failed and it passed
    anyway (``mostly``), so "3 of 720 rows fail" next to "passed" explains itself."""
    message = r["message"] or ""
    if r["passed"] and r["failing_rows"] and r["threshold"]:
        share = r["observed"]
        met = f"{share:.2%} do" if isinstance(share, float) and r["threshold"].endswith("of rows pass") else "met"
        message += f" (needs {r['threshold']}: {met})"
    return message


@app.command()
def ingest(
    source: str = typer.Argument(..., metavar="SOURCE"),
    partition: list[str] | None = typer.Option(None, "--partition", metavar="KEY", help="Only these partitions (repeatable)."),
    force: bool = typer.Option(False, "--force", help="Check again even if the same files were checked before."),
    as_json: bool = JSON_OPT,
) -> None:
    """Check landed source partitions without building anything."""
    from weir.cli.render import cell, console, counting_progress, plural, print_json, styled, table
    from weir.quality.records import admission_json

    ws = open_workspace()
    partitions = list(partition or [])
    total = len(partitions) or ws.quality.landed(source)
    with counting_progress(f"checking {source}", total, enabled=not as_json and total > 1) as advance:
        rows = ws.quality.ingest(source, partitions or None, force=force, on_progress=advance)
    after_write(ws)
    if as_json:
        print_json([admission_json(r) for r in rows])
    elif not rows:
        console.print(f"nothing of {source} has landed")
    else:
        t = table("partition", "state", "rows", "malformed", "checked", "message", title=f"{source}: {len(rows)} landed partitions")
        for r in rows:
            t.add_row(r["partition"] or "—", styled(r["state"]), cell(r["rows"]), cell(r["malformed_rows"] or ""),
                      "now" if r["checked_now"] else "before", r["message"] or "")
        console.print(t)
        for r in rows:
            for bad in r["sample"][:5] if r["state"] == "blocked" else []:
                console.print(f"  [dim]{r['partition']}[/] {bad}", highlight=False)
        still = [r["partition"] or "—" for r in rows if r["state"] == "blocked" and not r["checked_now"]]
        if still:
            more = f" +{len(still) - 1} more" if len(still) > 1 else ""
            console.print(f"[magenta]{plural(len(still), 'partition')} still blocked[/] ({still[0]}{more}): not checked "
                          "again, the same files were judged before (--force checks again)", highlight=False)
    # blocked by this check, not by one made before on the same files
    finish(ws, 1 if any(r["state"] == "blocked" and r["checked_now"] for r in rows) else 0)
