"""``weir scenarios``, ``weir scenario run NAME``, ``weir scenario history NAME``: the project's
automation, run by hand, and what ran."""

from __future__ import annotations

import typer

from weir.cli.context import JSON_OPT, actor, after_write, finish, open_workspace

app = typer.Typer()
scenario_app = typer.Typer(help="Run a scenario by hand, or show its ticks: 'weir scenario run|history NAME'.")
app.add_typer(scenario_app, name="scenario")
STYLES = {"succeeded": "green", "failed": "red", "running": "cyan", "pending": "yellow", "skipped": "yellow"}


@app.command("scenarios")
def scenarios(as_json: bool = JSON_OPT) -> None:
    """The project's scenarios: triggers, steps, reporters, and how each last ran."""
    from weir.cli.render import console, print_json, table
    from weir.scenarios.records import scenario_json

    ws = open_workspace()
    rows = [scenario_json(r["scenario"], r["last"], r["active"]) for r in ws.scenarios.list()]
    if as_json:
        print_json(rows)
        return finish(ws)
    if not rows:
        console.print("no scenarios: declare them with weir.scenario(...) or in scenarios.yml (see docs/scenarios.md)")
        return finish(ws)
    t = table("scenario", "enabled", "when", "steps", "reporters", "last tick", title="scenarios")
    for r in rows:
        last = r["last_tick"]
        shown = "—" if last is None else (
            f"{last['id']} [{STYLES.get(last['state'], 'white')}]{last['state']}[/] {last['finished_at'] or last['created_at']}")
        if r["active_ticks"]:
            shown += f" ({r['active_ticks']} waiting or running)"
        t.add_row(r["name"], "yes" if r["enabled"] else "[yellow]no[/]",
                  "\n".join(x["describe"] for x in r["triggers"]) or "by hand",
                  "\n".join(f"{i + 1}. {x['describe']}" for i, x in enumerate(r["steps"])),
                  "\n".join(f"{x['route']} on {', '.join(x['on'])}" for x in r["reporters"]) or "—", shown)
    console.print(t)
    finish(ws)


@scenario_app.command("run")
def run(name: str = typer.Argument(..., metavar="NAME", help="The scenario to run now."),
        as_json: bool = JSON_OPT) -> None:
    """Run a scenario now, in the foreground, as a tick of its own (exit 1 if it fails)."""
    from weir.cli.render import print_json
    from weir.scenarios.records import tick_json

    ws = open_workspace(recover=True)
    tick = ws.scenarios.run(name, actor=actor())
    after_write(ws)
    if as_json:
        print_json(tick_json(tick))
    else:
        _render_tick(tick_json(tick))
    finish(ws, 0 if tick["state"] == "succeeded" else 1)


@scenario_app.command("history")
def history(name: str = typer.Argument(..., metavar="NAME", help="The scenario."),
            limit: int = typer.Option(20, "--limit", metavar="N", help="At most N ticks, newest first."),
            as_json: bool = JSON_OPT) -> None:
    """The ticks of a scenario, newest first: what fired each, its steps, runs and outcome."""
    from rich.markup import escape

    from weir.cli.render import console, print_json, table
    from weir.scenarios.records import tick_json

    ws = open_workspace()
    rows = [tick_json(r) for r in ws.scenarios.history(name, limit=limit)]
    if as_json:
        print_json(rows)
        return finish(ws)
    if not rows:
        console.print(f"scenario {name} has not ticked yet")
        return finish(ws)
    t = table("tick", "fired by", "state", "started", "seconds", "runs", "outcome", title=f"scenario {name}")
    for r in rows:
        t.add_row(str(r["id"]), escape(r["why"]), f"[{STYLES.get(r['state'], 'white')}]{r['state']}[/]",
                  r["started_at"] or "—", "" if r["seconds"] is None else f"{r['seconds']:.1f}",
                  "\n".join(r["run_ids"]), escape(r["outcome"] or ""))
    console.print(t)
    finish(ws)


def _render_tick(tick: dict) -> None:
    from rich.markup import escape

    from weir.cli.render import console, err_console

    state = tick["state"]
    console.print(f"tick {tick['id']} of {tick['scenario']}: [{STYLES.get(state, 'white')}]{state}[/]"
                  + (f" in {tick['seconds']:.1f} s" if tick["seconds"] is not None else ""), highlight=False)
    for rec in tick["steps"]:
        style = STYLES.get(rec["state"] or "", "white")
        console.print(f"  {rec['step'] + 1}. {escape(rec['name'] or '')}: [{style}]{rec['state']}[/]"
                      + (f" - {escape(rec['message'])}" if rec.get("message") else ""), highlight=False, soft_wrap=True)
    for incident in tick["incidents"]:
        err_console.print(f"[red]incident {incident['id']}[/]: {escape(incident['title'])} "
                          f"('weir incidents show {incident['id']}')", highlight=False, soft_wrap=True)
    for r in tick["reports"]:
        where = f"failed: {r['error']}" if r.get("error") else r.get("where", "")
        console.print(f"  told {r['route']} ({r['condition']}): {escape(where)}", highlight=False, soft_wrap=True)


__all__ = ["app"]
