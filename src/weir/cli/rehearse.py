"""``weir rehearse``: an upgrade tried on real data in a shadow environment and location, diffed
against what is published; nothing is published."""

from __future__ import annotations

from typing import Any

import typer

from weir.cli.context import JSON_OPT, finish, local_assets, open_workspace

app = typer.Typer()
SAMPLE_SHOWN = 3


@app.command()
def rehearse(
    assets: list[str] | None = typer.Argument(None, metavar="[ASSET ...]", callback=local_assets, help="Assets to rehearse (default: all)."),
    upgrade: list[str] | None = typer.Option(None, "--upgrade", metavar="PKG==VERSION",
                                             help="A package version to try; repeat for several."),
    requirements: str | None = typer.Option(None, "--requirements", metavar="FILE",
                                            help="A file of pins to try: PKG==VERSION or PKG @ URL lines, --find-links DIR."),
    partition: str | None = typer.Option(None, "--partition", metavar="KEY", help="One partition key."),
    first: str | None = typer.Option(None, "--from", metavar="KEY", help="First partition key of a range."),
    last: str | None = typer.Option(None, "--to", metavar="KEY", help="Last partition key of a range."),
    workers: int | None = typer.Option(None, "--workers", min=1, metavar="N", help="Worker processes."),
    as_json: bool = JSON_OPT,
) -> None:
    """Try an upgrade on real data: rebuild partitions in a shadow environment, diff them against what is published."""
    from weir.envs.rehearse import RehearsalRequest

    request = RehearsalRequest(upgrades=tuple(upgrade or ()), requirements=requirements, assets=tuple(assets or ()),
                               partition=partition, first=first, last=last, workers=workers)
    ws = open_workspace()
    result = ws.envs.rehearse(request)
    if as_json:
        from weir.cli.render import print_json

        print_json(result.to_json())
        return finish(ws, 0 if result.ok else 1)
    render(result.to_json())
    finish(ws, 0 if result.ok else 1)


def render(r: dict[str, Any]) -> None:
    from rich.markup import escape

    from weir.cli.render import console, plural, table

    changes = ", ".join(f"{p['package']} {p['from'] or '—'} → {p['to'] or '—'}" + (" (major)" if p["major"] else "")
                        for p in r["upgrades"]) or "no package changes: the pins are what is installed"
    console.print(f"rehearsal {r['id']}: {changes}", highlight=False)
    e, venv = r["environment"], r["environment"]["venv"]
    made = ("this one" if venv is None else
            f"reused at {venv['path']}" if venv["reused"] else f"made in {venv['seconds']:.1f}s at {venv['path']}")
    console.print(f"shadow environment {e['shadow']}: {made}", highlight=False)
    if not e["same"]:
        differ = ", ".join(f"{p['package']} {p['from'] or '—'} → {p['to'] or '—'}" for p in e["differences"][:5])
        console.print(f"[yellow]built in {e['used']}, which differs from {e['shadow']}[/]: {escape(differ)}", highlight=False)
    style = {"identical": "green", "changes output": "yellow", "fails": "red"}
    t = table("asset", "partition", "verdict", "how")
    for p in r["partitions"]:
        t.add_row(p["asset"], p["partition"] or "—", f"[{style[p['verdict']]}]{p['verdict']}[/]",
                  escape("\n".join(p["summary"])))
    console.print(t)
    for p in r["partitions"]:
        _sample(p)
    counts = ", ".join(f"{n} {v}" for v, n in r["counts"].items() if n)
    console.print(f"{plural(len(r['partitions']), 'partition')}: {counts}. Nothing was published; the shadow "
                  f"partitions and rehearsal.json are in {r['path']}", highlight=False)


def _sample(p: dict[str, Any]) -> None:
    """A few changed rows of a partition whose output changes."""
    from rich.markup import escape

    from weir.cli.render import cell, console

    d = p["diff"]
    if p["verdict"] != "changes output" or not d or not d["sample"]:
        return
    console.print(f"{p['asset']}{' ' + p['partition'] if p['partition'] else ''}: sample of changed rows", highlight=False)
    for row in d["sample"].get("changed", [])[:SAMPLE_SHOWN]:
        key = ", ".join(f"{k}={v}" for k, v in row["key"].items())
        values = "; ".join(f"{c}: {cell(v['before'])} → {cell(v['after'])}" for c, v in row["values"].items())
        console.print(escape(f"  {key}: {values}"), highlight=False)
    for kind in ("added", "removed"):
        for row in d["sample"].get(kind, [])[:SAMPLE_SHOWN]:
            console.print(escape(f"  {kind}: " + ", ".join(f"{k}={cell(v)}" for k, v in row.items())), highlight=False)
