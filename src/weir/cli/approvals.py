"""``weir approvals``, ``weir approve``, ``weir reject``: the versions a run held for approval
(``[run] republish = "hold"``), published or dropped."""

from __future__ import annotations

import typer

from weir.cli.context import JSON_OPT, actor, after_write, finish, local_asset, open_workspace

app = typer.Typer()

ASSET_ARG = typer.Argument(None, metavar="ASSET", callback=local_asset, help="Only the held versions of this asset.")
PARTITION_OPT = typer.Option(None, "--partition", metavar="KEY", help="A partition whose held version it is (repeatable).")
ALL_OPT = typer.Option(False, "--all", help="Every held version of the project.")


@app.command()
def approvals(asset: str | None = ASSET_ARG, as_json: bool = JSON_OPT) -> None:
    """List the versions held for approval: what each replaces and how it differs."""
    from weir.cli.render import console, plural, print_json, short_time, table
    from weir.engine.rollout import AssetRollout, PartitionChange
    from weir.runs.approvals import held_json

    ws = open_workspace(recover=True)
    rows = ws.approvals.held(asset)
    if as_json:
        print_json([held_json(r) for r in rows])
        return finish(ws)
    if not rows:
        console.print("nothing is held for approval")
        return finish(ws)
    t = table("asset", "partition", "run", "held", "cause", "code", "rows", "how it differs",
              title=f"{plural(len(rows), 'version')} held for approval")
    for r in rows:
        change = PartitionChange.from_record(r["change"])
        was = r["replaces"]
        rows_cell = f"{was['rows']:,} → {r['row_count']:,}" if was.get("rows") is not None else f"{r['row_count']:,}"
        t.add_row(r["asset"], r["partition_key"] or "—", r["run_id"], short_time(r["held_at"]), r["cause"],
                  f"{was['code_version'][:8]} → {r['code_version'][:8]}", rows_cell,
                  "; ".join(change.reasons[:2]) or "no material change")
    console.print(t)
    for name in dict.fromkeys(r["asset"] for r in rows):
        mine = [r for r in rows if r["asset"] == name]
        moved = AssetRollout(asset=name, changes=[PartitionChange.from_record(r["change"]) for r in mine]).moved
        console.print(f"{name}: {plural(len(mine), 'version')} held: {moved} ('weir approve {name}' publishes them, "
                      f"'weir reject {name}' drops them)", highlight=False)
    finish(ws)


@app.command()
def approve(asset: str | None = ASSET_ARG, partition: list[str] | None = PARTITION_OPT, every: bool = ALL_OPT,
            force: bool = typer.Option(False, "--force", help="Approve versions built by code the project no longer has."),
            as_json: bool = JSON_OPT) -> None:
    """Publish held versions, each partition atomically (exit 1 if one could not be; exit 2, nothing
    published, for versions built by code the project no longer has, unless --force)."""
    from weir.cli.render import console, err_console, plural, print_json
    from weir.runs.approvals import decision_json

    ws = open_workspace(recover=True)
    decision = ws.approvals.approve(asset, tuple(partition or ()), every=every, actor=actor(), force=force)
    after_write(ws)
    if as_json:
        print_json(decision_json(decision, "approved"))
    else:
        if not decision.done and not decision.refused:
            console.print("nothing is held for approval")
        for r in decision.rollouts:
            n = r["replaced"] + r["held"]
            line = f"{r['asset']}: published {plural(n, 'held version')} of run {r['run_id']}"
            if r["event"]:
                line += f": {r['moved']} — 'weir incidents' for the incident"
            console.print(line, highlight=False)
        if decision.done:
            console.print("[dim]what reads them is rebuilt by 'weir run --stale'[/]")
        for f in decision.refused:
            err_console.print(f"[red]{f['asset']} {f['partition']}[/]: not published: {f['why']}", highlight=False)
    finish(ws, 1 if decision.refused else 0)


@app.command()
def reject(asset: str | None = ASSET_ARG, partition: list[str] | None = PARTITION_OPT, every: bool = ALL_OPT,
           as_json: bool = JSON_OPT) -> None:
    """Drop held versions: readers stay on the published ones."""
    from weir.cli.render import console, plural, print_json
    from weir.runs.approvals import decision_json

    ws = open_workspace(recover=True)
    decision = ws.approvals.reject(asset, tuple(partition or ()), every=every, actor=actor())
    if as_json:
        print_json(decision_json(decision, "rejected"))
    elif not decision.done:
        console.print("nothing is held for approval")
    else:
        for name in dict.fromkeys(d["asset"] for d in decision.done):
            n = sum(1 for d in decision.done if d["asset"] == name)
            console.print(f"{name}: dropped {plural(n, 'held version')}; the published versions stay", highlight=False)
    finish(ws)
