"""``weir envs``, ``weir envs show``, ``weir envs diff``: the environments runs used; ``weir
rebuild``: partitions built again, in an earlier run's environment if asked; ``weir env lock``:
the pins of this one; ``weir deps``: which assets rest on which version of a package."""

from __future__ import annotations

import typer

from weir.cli.context import JSON_OPT, actor, after_write, finish, local_asset, open_workspace

app = typer.Typer()
envs_app = typer.Typer(help="Environments runs used; 'weir envs show ID|RUN', 'weir envs diff A B'.",
                       invoke_without_command=True)
app.add_typer(envs_app, name="envs")


@envs_app.callback()
def envs(ctx: typer.Context, as_json: bool = JSON_OPT) -> None:
    """List the environments runs used, with the runs and assets that used them."""
    if ctx.invoked_subcommand:
        return
    from weir.cli.render import console, plural, short_time, table
    from weir.envs.records import environment_json

    ws = open_workspace(needs_project=False)
    rows = ws.envs.list()
    if as_json:
        from weir.cli.render import print_json

        print_json([environment_json(e) for e in rows])
        return finish(ws)
    t = table("environment", "python", "packages", "runs", "first used", "last used", "last run", "assets")
    for e in rows:
        assets = e["assets"]
        shown = ", ".join(assets[:4]) + (f" +{len(assets) - 4}" if len(assets) > 4 else "")
        t.add_row(e["id"], e["python"], str(len(e["packages"] or {})), str(e["runs"]), short_time(e["first_used"]),
                  short_time(e["last_used"]), e["last_run"], shown)
    console.print(t if rows else "no run has recorded an environment yet")
    if rows:
        console.print(f"{plural(len(rows), 'environment')}; 'weir envs diff A B' compares two (ids or run ids)")
    finish(ws)


@envs_app.command("show")
def envs_show(
    ref: str = typer.Argument(..., metavar="ID|RUN", help="Environment id, a run id, or a unique prefix of either."),
    as_json: bool = JSON_OPT,
) -> None:
    """One environment: interpreter, platform, weir, every package with where it came from, and its runs."""
    from rich.markup import escape

    from weir.cli.render import console, plural, short_time, table
    from weir.envs.records import environment_detail_json

    ws = open_workspace(needs_project=False)
    e = ws.envs.show(ref)
    if as_json:
        from weir.cli.render import print_json

        print_json(environment_detail_json(e))
        return finish(ws)
    d = environment_detail_json(e)
    via = f" (used by run {d['run_id']})" if d["run_id"] else ""
    console.print(f"environment [bold]{d['id']}[/]{via}: Python {d['python']} on {d['platform']}, weir {d['weir'] or '?'}",
                  highlight=False)
    console.print(f"interpreter {d['interpreter'] or '?'}; used by {plural(d['runs'], 'run')}, "
                  f"first {short_time(e['first_used'])}, last {short_time(e['last_used'])}", highlight=False)
    if d["assets"]:
        console.print("assets built: " + ", ".join(d["assets"]), highlight=False)
    t = table("package", "version", "from")
    for p in d["packages"]:
        from weir.envs.snapshot import Origin

        t.add_row(p["name"], p["version"], escape(Origin.from_json(p["origin"]).describe()))
    console.print(t)
    finish(ws)


@envs_app.command("diff")
def envs_diff(
    a: str = typer.Argument(..., metavar="A", help="Environment id or run id (the earlier)."),
    b: str = typer.Argument(..., metavar="B", help="Environment id or run id (the later)."),
    as_json: bool = JSON_OPT,
) -> None:
    """What changed from environment A to B: packages added, removed, upgraded, downgraded (major changes flagged)."""
    from rich.markup import escape

    from weir.cli.render import console, table

    ws = open_workspace(needs_project=False)
    d = ws.envs.diff(a, b)
    if as_json:
        from weir.cli.render import print_json

        print_json(d)
        return finish(ws)
    name = {side: d[side]["id"] + (f" (run {d[side]['run_id']})" if d[side]["run_id"] else "") for side in ("from", "to")}
    console.print(f"{name['from']} → {name['to']}", highlight=False)
    for what in ("python", "platform", "weir"):
        if d[what]:
            console.print(f"{what}: {d[what]['from']} → {d[what]['to']}", highlight=False)
    if not d["packages"]:
        console.print("the same packages, from the same places")
        return finish(ws)
    t = table("package", "change", "from", "to", "")
    for p in d["packages"]:
        note = "[red]major[/]" if p["major"] else escape(p["origin_to"] or "") if p["change"] == "origin changed" else ""
        t.add_row(p["package"], p["change"], p["from"] or "—", p["to"] or "—", note)
    console.print(t)
    finish(ws)


@app.command()
def rebuild(
    asset: str = typer.Argument(..., metavar="ASSET", callback=local_asset, help="The asset whose partitions to rebuild."),
    partition: str | None = typer.Option(None, "--partition", metavar="KEY", help="One partition key."),
    first: str | None = typer.Option(None, "--from", metavar="KEY", help="First partition key of a range."),
    last: str | None = typer.Option(None, "--to", metavar="KEY", help="Last partition key of a range."),
    downstream: bool = typer.Option(False, "--downstream", help="Rebuild the same partitions of what depends on ASSET too (in this environment)."),
    env_of: str | None = typer.Option(None, "--env-of", metavar="RUN", help="Build in the environment run RUN used."),
    env: str | None = typer.Option(None, "--env", metavar="ID", help="Build in environment ID."),
    workers: int | None = typer.Option(None, "--workers", min=1, metavar="N", help="Worker processes."),
    as_json: bool = JSON_OPT,
) -> None:
    """Rebuild partitions of an asset (and what depends on them), in an earlier environment if asked."""
    from weir.cli.render import ProgressReporter, console
    from weir.cli.runs import render_result
    from weir.envs.rebuild import RebuildRequest

    request = RebuildRequest(asset=asset, partition=partition, first=first, last=last, downstream=downstream,
                             env_of=env_of, env=env, workers=workers, actor=actor())
    ws = open_workspace(recover=True)
    result = ws.envs.rebuild(request, reporter=None if as_json else ProgressReporter())
    after_write(ws)
    if as_json:
        from weir.cli.render import print_json

        print_json(result.to_json())
        return finish(ws, 0 if result.ok else 1)
    e = result.environment
    if e:
        venv = e["venv"]
        made = ("the one this command runs in" if venv is None else
                f"reused at {venv['path']}" if venv["reused"] else f"made in {venv['seconds']:.1f}s at {venv['path']}")
        console.print(f"environment {e['requested']}" + (f" of run {e['run_id']}" if e["run_id"] else "") + f": {made}",
                      highlight=False)
        if not e["same"]:
            changed = ", ".join(f"{p['package']} {p['from'] or '—'} → {p['to'] or '—'}" for p in e["differences"][:5])
            console.print(f"[yellow]built in {e['used']}, which differs from {e['requested']}[/]: {changed or 'see weir envs diff'}",
                          highlight=False)
    for run in result.runs:
        render_result(run)
    finish(ws, 0 if result.ok else 1)


env_app = typer.Typer(help="The environment this project runs in: 'weir env lock'.")


@env_app.command("lock")
def env_lock(
    out: str = typer.Option("weir.lock", "--out", metavar="FILE", help="Where to write the pins (default: weir.lock in the project folder)."),
    as_json: bool = JSON_OPT,
) -> None:
    """Write the exact pins of the environment the project runs in, for a deployment to reproduce."""
    from pathlib import Path

    from weir.cli.render import console

    ws = open_workspace(needs_project=False)
    path = Path(out) if Path(out).is_absolute() else ws.project_dir / out
    written = ws.envs.lock(path)
    if as_json:
        from weir.cli.render import print_json

        print_json(written)
        return finish(ws)
    console.print(f"wrote {written['packages']} pins of environment {written['id']} (Python {written['python']}) "
                  f"to {written['path']}", highlight=False)
    finish(ws)


@app.command()
def deps(
    package: str | None = typer.Argument(None, metavar="PACKAGE[SPEC]", help="A package, optionally with a version spec: 'pandas<2'."),
    as_json: bool = JSON_OPT,
) -> None:
    """Which assets of every project were built with which version of a package."""
    from weir.cli.render import console, plural, short_time, table

    ws = open_workspace(needs_project=False)
    d = ws.envs.deps(package)
    if as_json:
        from weir.cli.render import print_json
        from weir.envs.records import deps_json

        print_json(deps_json(d))
        return finish(ws)
    if d["package"] is not None:
        t = table("project", "asset", "kind", "version", "partitions", "last published", "insights")
        for a in d["assets"]:
            t.add_row(a["project"], a["asset"], a["kind"], a["version"], str(a["partitions"]),
                      short_time(a["last_published"]), ", ".join(a["insights"]))
        what = d["package"] + (d["spec"] or "")
        console.print(t if d["assets"] else f"no published partition was built with {what}", highlight=False)
    several = [p for p in d["packages"] if len(p["versions"]) > 1 or p["projects_on_several"]]
    for p in several if d["package"] is None else d["packages"]:
        versions = ", ".join(f"{v} ({plural(n['assets'], 'asset')})" for v, n in p["versions"].items())
        on = "; ".join(f"{proj} on {', '.join(vs)}" for proj, vs in p["projects_on_several"].items())
        console.print(f"{p['package']}: {versions}" + (f"; [yellow]more than one version in {on}[/]" if on else ""),
                      highlight=False)
    if d["package"] is None:
        console.print(f"{plural(len(d['packages']), 'package')} in use; {len(several)} in more than one version")
    finish(ws)
