"""``weir doctor`` and ``weir vacuum``: verify and repair a workspace, and free its disk."""

from __future__ import annotations

import typer

from weir.cli.context import JSON_OPT, finish, open_workspace

app = typer.Typer()


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return str(n)


@app.command()
def doctor(
    repair: bool = typer.Option(False, "--repair", help="Repair what the Delta logs prove: metadata, dead runs, a torn newest log entry."),
    as_json: bool = JSON_OPT,
) -> None:
    """Verify the workspace: data files, Delta logs, metadata, stuck runs; exit 1 on problems."""
    from weir.cli.render import console, print_json, styled, table

    ws = open_workspace(needs_project=False)
    if repair:
        fixed = ws.health.repair()
        report = fixed.after
        if as_json:
            print_json(fixed.to_json())
            return finish(ws, fixed.exit_code)
        for a in fixed.actions:
            console.print(f"repaired: {a.message}", highlight=False)
        if not fixed.actions:
            console.print("nothing to repair")
    else:
        report = ws.health.doctor()
        if as_json:
            print_json(report.to_json())
            return finish(ws, report.exit_code)
    t = table("table", "version", "partitions", "rows", "size", "orphaned", "quarantined", title=f"workspace {report.workspace}")
    for h in report.tables:
        t.add_row(f"{h.project}/{h.asset}", "—" if h.version is None else str(h.version), f"{h.partitions:,}",
                  "?" if h.rows is None else f"{h.rows:,}", _size(h.bytes),
                  f"{h.orphaned_files} ({_size(h.orphaned_bytes)})" if h.orphaned_files else "",
                  f"{h.quarantined_files} ({_size(h.quarantined_bytes)})" if h.quarantined_files else "")
    console.print(t)
    if not report.findings:
        console.print("[green]healthy[/]: every file the logs reference is there and readable, and the metadata agrees")
    for f in report.findings:
        console.print(f"{styled(str(f.severity))} {f.message}\n    fix: {f.repair}", highlight=False)
    finish(ws, report.exit_code)


@app.command()
def vacuum(
    older_than: str = typer.Option("7d", "--older-than", metavar="AGE", help="Retention, e.g. 7d, 12h, 0 (default 7d)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would be removed; remove nothing."),
    as_json: bool = JSON_OPT,
) -> None:
    """Remove files no published version needs: old versions, abandoned and quarantined builds."""
    from weir.cli.render import console, print_json, table

    ws = open_workspace(needs_project=False)
    report = ws.health.vacuum(older_than, dry_run=dry_run)
    if as_json:
        print_json(report.to_json())
        return finish(ws, report.exit_code)
    verb = "would remove" if dry_run else "removed"
    t = table("table", "files", "size", "old versions", "abandoned", "quarantined", "note", title=f"vacuum: {verb}")
    for tv in report.tables:
        per = tv.to_json()
        t.add_row(f"{tv.project}/{tv.asset}", str(per["files"]), _size(per["bytes"]), str(per["history"]["files"]),
                  str(per["staged"]["files"]), str(per["quarantined"]["files"]), tv.skipped or "")
    console.print(t)
    console.print(f"{verb} {report.files:,} files, {_size(report.bytes)}")
    finish(ws, report.exit_code)
