"""``weir run``, ``weir runs``, ``weir runs show``: build, and the runs recorded."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from weir.cli.context import (
    JSON_OPT,
    actor,
    after_write,
    choice,
    choices,
    finish,
    local_asset,
    local_assets,
    open_workspace,
)
from weir.model.runs import RunState, TaskState

if TYPE_CHECKING:
    from weir.engine.planner import Plan
    from weir.engine.recorder import RunResult

app = typer.Typer()
runs_app = typer.Typer(help="List runs, or show one with 'weir runs show ID'.", invoke_without_command=True)
app.add_typer(runs_app, name="runs")

@app.command()
def run(
    assets: list[str] | None = typer.Argument(None, metavar="ASSET", callback=local_assets, help="Assets to build (default: all)."),
    partition: str | None = typer.Option(None, "--partition", metavar="KEY", help="One partition key, e.g. 2013-01-05."),
    first: str | None = typer.Option(None, "--from", metavar="KEY", help="First partition key of a backfill."),
    last: str | None = typer.Option(None, "--to", metavar="KEY", help="Last partition key of a backfill."),
    stale: bool = typer.Option(False, "--stale", help="Only partitions that are missing, built by older code, or whose inputs changed."),
    plan: bool = typer.Option(False, "--plan", help="Show what would be built and why, without building."),
    waiting: bool = typer.Option(False, "--waiting", help="With --plan: list the partitions that wait for inputs (implies --plan)."),
    executor: str = typer.Option("auto", "--executor", metavar="NAME",
                                 help="auto | inprocess | processes (auto: in this process for up to 8 partition builds)."),
    workers: int | None = typer.Option(None, "--workers", min=1, metavar="N", help="Worker processes (default: CPU count)."),
    on_conflict: str | None = typer.Option(
        None, "--on-conflict", metavar="wait|skip",
        help="A partition another run is building: wait for it, or skip it and what reads it (default: [run] on_conflict in weir.toml, else wait).",
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Build asset partitions: stage, audit, publish atomically."""
    from weir.engine.executors import EXECUTORS
    from weir.errors import UsageError
    from weir.runs.records import plan_json, result_json
    from weir.runs.request import RunRequest

    if executor not in EXECUTORS:
        raise UsageError(f"--executor {executor!r} is not one of {', '.join(EXECUTORS)}")
    request = RunRequest(assets=tuple(assets or ()), partition=partition, first=first, last=last, stale=stale,
                         executor=executor, workers=workers, on_conflict=on_conflict, actor=actor())
    ws = open_workspace(recover=True)
    if plan or waiting:
        planned = ws.runs.plan(request)
        republish = ws.project.config.run.republish
        if as_json:
            from weir.cli.render import print_json

            print_json(plan_json(planned, republish))
        else:
            _render_plan(planned, waiting, republish)
        return finish(ws)
    from weir.cli.render import ProgressReporter
    from weir.engine.cancel import RunTerminated

    try:
        result = ws.runs.run(request, reporter=None if as_json else ProgressReporter())
    except RunTerminated:  # SIGTERM cancels the run like Ctrl-C; the exit code says which signal
        import sys

        sys.stderr.write("terminated\n")
        sys.exit(143)
    after_write(ws)
    if as_json:
        from weir.cli.render import print_json

        print_json(result_json(result))
    else:
        render_result(result)
    finish(ws, 0 if result.ok else 1)


def _wait(n: int) -> str:
    return "waits" if n == 1 else "wait"


def _render_plan(plan: Plan, list_waiting: bool, republish: str = "replace") -> None:
    from weir.cli.render import console, plural, table

    t = table("asset", "partitions", "from", "to", "why", title=f"plan: {plural(len(plan.tasks), 'partition build')}")
    for asset, tasks in plan.by_asset().items():
        reasons: dict[str, int] = {}
        for task in tasks:
            reasons[task.reason] = reasons.get(task.reason, 0) + 1
        why = ", ".join(f"{n} {r}" for r, n in reasons.items())
        t.add_row(asset, str(len(tasks)), tasks[0].key or "—", tasks[-1].key or "—", why)
    console.print(t)
    if plan.up_to_date:
        console.print("up to date: " + ", ".join(f"{a} ({n})" for a, n in plan.up_to_date.items()))
    for r in plan.replaces:
        then = ("; held for approval (\\[run] republish = \"hold\"): readers stay on the published versions"
                if republish == "hold" else "; each new version is compared with the one it replaces")
        console.print(f"[yellow]{r.asset}[/]: {r.describe()}{then}", highlight=False)
    _render_held(plan.held)
    _render_still_blocked([b.to_json() for b in plan.still_blocked])
    waiting = sum(len(items) for items in plan.waiting.values())
    if not waiting:
        return
    if not list_waiting:
        console.print(f"[yellow]{plural(waiting, 'partition')} of {plural(len(plan.waiting), 'asset')} {_wait(waiting)} for inputs[/]"
                      " ('weir run --plan --waiting' lists them)", highlight=False)
        return
    w = table("asset", "waiting", "from", "to", "why (first)", title=f"{plural(waiting, 'partition')} {_wait(waiting)} for inputs")
    for asset, items in plan.waiting.items():
        keys = sorted(k for k, _ in items)
        w.add_row(asset, str(len(items)), keys[0] or "—", keys[-1] or "—", items[0][1])
    console.print(w)


_STATES = ("succeeded", "failed_check", "held", "blocked", "failed", "upstream_failed", "skipped")


def render_result(result: RunResult) -> None:
    """What a run did: counts per asset, check outcomes, monitors, failures, conflicts, waits."""
    from weir.cli.render import console, err_console, plural, styled, table

    t = table("asset", *_STATES, title=f"run {result.run_id}: {styled(result.state)} in {result.seconds:.1f}s")
    for asset, counts in result.per_asset.items():
        t.add_row(asset, *[str(counts.get(s, "")) for s in _STATES])
    if result.per_asset:
        console.print(t)
    if result.checks:
        c = table("checked", "passed", "warned", "failed", "blocked", title="check outcomes")
        for name, n in result.checks.items():
            c.add_row(name, f"[green]{n['passed']}[/]", f"[yellow]{n['warned'] or ''}[/]", f"[red]{n['failed'] or ''}[/]",
                      f"[magenta]{n['blocked'] or ''}[/]")
        console.print(c)
    for name, per in result.signals.items():
        alerts = sum(per.values())
        more = f" and {plural(len(per) - 1, 'more partition')}" if len(per) > 1 else ""
        console.print(f"[red]monitors: {plural(alerts, 'alert')} on {name}[/] ({min(per) or '—'}{more}); "
                      "see 'weir monitors --signals --alerts'", highlight=False)
    for err in result.monitor_errors:
        err_console.print(f"[yellow]monitors could not run for {err}[/]", highlight=False)
    _render_rollouts(result.rollouts)
    _render_held(result.held)
    for source, n in result.sources.items():
        blocked = f", [magenta]{n['blocked']} blocked[/]" if n.get("blocked") else ""
        console.print(f"source {source}: {plural(n.get('accepted', 0), 'partition')} accepted on arrival{blocked}")
    for f in result.failures[:10]:
        err_console.print(f"[red]{f['asset']} {f['partition']}[/]: {f['error']}", highlight=False)
    if len(result.failures) > 10:
        err_console.print(f"... and {len(result.failures) - 10} more; see 'weir runs show {result.run_id} --failed'")
    _render_conflicts(result.conflicts)
    _render_still_blocked(result.still_blocked)
    waiting = sum(result.waiting.values())
    if waiting:
        console.print(f"[dim]{plural(waiting, 'partition')} {_wait(waiting)} for inputs ('weir run --plan --waiting' lists them)[/]")
    if not result.per_asset and not waiting:
        console.print("nothing to build: everything selected is up to date" + (" or still blocked" if result.still_blocked else "")
                      + (" or held for approval" if result.held else ""))


def _render_rollouts(rollouts: list[dict]) -> None:
    """One line per asset republished under changed code or configuration: what moved against
    the versions replaced, and where to look (the incident, or the versions held for approval)."""
    from rich.markup import escape

    from weir.cli.render import console, plural

    for r in rollouts:
        what = "code version changed" if r["cause"] == "code" else "configuration changed"
        n = r["replaced"] + r["held"]
        line = f"[bold]{r['asset']}[/]: {what} on {plural(n, 'published partition')}"
        if r["held"]:
            line += f", {'held' if not r['replaced'] else str(r['held']) + ' held'} for approval"
        moved = escape(r["moved"] or "no material change")
        line += f": {moved}"
        if r["event"]:
            line += " — 'weir incidents' for the incident"
        if r["held"]:
            line += f" — 'weir approvals' lists them, 'weir approve {r['asset']}' publishes them"
        style = "red" if r["moved"] else "dim"
        console.print(f"[{style}]{line}[/]", highlight=False, soft_wrap=True)


def _render_held(held: dict[str, int]) -> None:
    """One line on the partitions a stale run leaves alone while their held version is up to date."""
    from weir.cli.render import console, plural

    n = sum(held.values())
    if n:
        console.print(f"{plural(n, 'partition')} left alone: a version of {'it' if n == 1 else 'them'} built by this "
                      "code is held for approval ('weir approvals' lists them)", highlight=False)


def _render_conflicts(c: dict) -> None:
    """One line on the partitions other live runs were building or had built since this one planned."""
    from weir.cli.render import console, plural

    if not c["runs"]:
        return
    parts = []
    if c["waited"]:
        parts.append(f"waited for {plural(c['waited'], 'partition')} they were building")
    if c["up_to_date"]:
        parts.append(f"{plural(c['up_to_date'], 'partition')} they built were up to date, not rebuilt")
    if c["skipped"]:
        parts.append(f"skipped {plural(c['skipped'], 'partition')} they were building or that read one "
                     "('weir run --stale' builds what is still out of date)")
    if parts:
        runs = ", ".join(c["runs"])
        console.print(f"[yellow]other runs ({runs})[/]: " + "; ".join(parts), highlight=False)


def _render_still_blocked(blocked: list[dict]) -> None:
    """One line on the open blocks a stale run left alone: how many, since when, the first one."""
    from weir.cli.render import console, plural

    if not blocked:
        return
    since = min((b["since"] for b in blocked if b["since"]), default=None)
    first = blocked[0]
    message = first["message"] if len(first["message"]) <= 160 else first["message"][:159] + "…"
    what = f"{'source ' if first['kind'] == 'source' else ''}{first['name']} {first['partition'] or '—'}: {message}"
    more = f"; +{len(blocked) - 1} more" if len(blocked) > 1 else ""
    its = "its" if len(blocked) == 1 else "their"
    key = f" --partition {first['partition']}" if first["partition"] else ""
    retry = (f"'weir ingest {first['name']}{key} --force' checks it again" if first["kind"] == "source"
             else f"'weir run {first['name']}{key}' retries it")
    console.print(f"[magenta]{plural(len(blocked), 'partition')} still blocked{' since ' + since[:10] if since else ''}[/] "
                  f"({what}{more}); not retried: {its} inputs and code are unchanged ({retry})", highlight=False)


@runs_app.callback()
def runs(
    ctx: typer.Context,
    limit: int = typer.Option(20, "--limit", min=1, metavar="N", help="How many runs, newest first."),
    state: str | None = typer.Option(None, "--state", metavar="STATE", help=f"Only runs in this state: {choices(RunState)}."),
    as_json: bool = JSON_OPT,
) -> None:
    """List recent runs."""
    if ctx.invoked_subcommand:
        return
    from weir.cli.render import console, print_json, short_time, styled, table
    from weir.runs.records import run_json

    chosen = choice(RunState, state, "--state")
    ws = open_workspace(recover=True, needs_project=False)
    rows = ws.runs.list(limit, chosen)
    if as_json:
        print_json([run_json(r) for r in rows])
        return finish(ws)
    t = table("run", "state", "trigger", "started", "seconds", "partitions")
    for r in rows:
        counts = r.counts
        seconds = f"{r.finished_at - r.started_at:.1f}" if r.finished_at and r.started_at else "—"
        t.add_row(r.id, styled(r.state), r.trigger, short_time(r.started_at or r.created_at), seconds,
                  ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    console.print(t)
    finish(ws)


@runs_app.command("show")
def runs_show(
    run_id: str = typer.Argument(..., metavar="ID", help="Run id or a unique prefix."),
    asset: str | None = typer.Option(None, "--asset", metavar="ASSET", callback=local_asset, help="Only the partitions of this asset."),
    state: str | None = typer.Option(None, "--state", metavar="STATE", help=f"Only partitions in this state: {choices(TaskState)}."),
    failed: bool = typer.Option(False, "--failed", help="Only partitions that failed, were blocked or failed a check."),
    limit: int = typer.Option(50, "--limit", min=1, metavar="N", help="List at most N partitions (--json lists all)."),
    code: str | None = typer.Option(None, "--code", metavar="ASSET", callback=local_asset, help="Print the definition ASSET was built from in this run."),
    as_json: bool = JSON_OPT,
) -> None:
    """One run: its partitions, errors, input versions and environment."""
    from weir.cli.render import print_json
    from weir.runs.records import code_json, run_detail_json

    chosen = choice(TaskState, state, "--state")
    ws = open_workspace(recover=True, needs_project=False)
    if code is not None:
        kept = ws.runs.code(run_id, code)
        if as_json:
            print_json(code_json(kept))
        else:
            _render_code(kept)
        return finish(ws)
    detail = ws.runs.detail(run_id, asset=asset, state=chosen, failed=failed)
    if as_json:
        print_json(run_detail_json(detail))
    else:
        _render_detail(detail, limit)
    finish(ws)


def _render_detail(d: dict, limit: int) -> None:
    from weir.cli.render import console, short_time, styled, table

    env = d["environment"] or {}
    console.print(f"run [bold]{d['id']}[/] {styled(d['state'])}  trigger {d['trigger']}  "
                  f"started {short_time(d['started_at'])}  finished {short_time(d['finished_at'])}")
    console.print(f"environment {env.get('id', '—')}: Python {env.get('python', '?')}, {len(env.get('packages') or {})} packages")
    if d["error"]:
        console.print(f"[red]error:[/] {d['error'].splitlines()[0]}", highlight=False)
    tasks = d["tasks"]
    t = table("asset", "partition", "state", "attempt", "rows", "version", "code", "seconds", "reason / error")
    for task in tasks[:limit]:
        t.add_row(
            task["asset"], task["partition_key"] or "—", styled(task["state"]), str(task["attempt"] or ""),
            "" if task["row_count"] is None else f"{task['row_count']:,}",
            "" if task["output_version"] is None else str(task["output_version"]), task["code_version"] or "",
            "" if task["seconds"] is None else f"{task['seconds']:.2f}", (task["error"] or task["reason"] or "")[:120],
        )
    if tasks:
        console.print(t)
    left_out = d["task_count"] - min(len(tasks), limit)
    if d["task_count"] and not tasks:
        console.print(f"none of its {d['task_count']:,} partitions match --asset, --state or --failed")
    elif left_out:
        console.print(f"[dim]{left_out:,} of {d['task_count']:,} partitions not shown; narrow down with --asset, --state "
                      "or --failed, or raise --limit[/]")


def _render_code(c: dict) -> None:
    import json

    from weir.cli.render import console, short_time

    console.print(f"[bold]{c['asset']}[/] at code version {c['code_version']} ({c['kind']}), first built "
                  f"{short_time(c['created_at'])}{'  ' + c['location'] if c['location'] else ''}")
    console.print(c["definition"].rstrip(), highlight=False, markup=False)
    console.print("settings:")
    console.print(json.dumps(c["settings"], indent=2, sort_keys=True, default=str), highlight=False, markup=False)
