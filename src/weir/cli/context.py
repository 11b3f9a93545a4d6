"""What every command shares: the global options, opening the workspace, finishing."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, overload

import typer

if TYPE_CHECKING:
    from weir.workspace import Workspace

E = TypeVar("E", bound=StrEnum)


class _Globals:
    workspace: Path | None = None
    project: Path | None = None


G = _Globals()

JSON_OPT = typer.Option(False, "--json", help="Print JSON with stable keys (see docs/cli.md).")


def local_asset(value: str | None) -> str | None:
    """The callback of ASSET arguments: ``<this project>.orders`` is ``orders``; another project's
    key is refused in one line (exit 2). Bare names pass untouched, without reading anything."""
    if value is None or "." not in value:
        return value
    from weir.project.config import load_config
    from weir.project.graph import local_key

    return local_key(value, load_config(Path(G.project or ".").resolve()).name).name


def local_assets(values: list[str] | None) -> list[str] | None:
    """``local_asset`` for arguments that take several assets."""
    return None if values is None else [v for v in map(local_asset, values) if v is not None]


def open_workspace(*, recover: bool = False, needs_project: bool = True, reading: bool = False) -> Workspace:
    """The workspace of the global options. With ``recover``, runs whose process died are
    closed first (after the project loaded, when the command needs one: a project that does not
    load stops the command before the metadata store is opened). ``reading``: the command only
    reads, so the project may come from its cached manifest and the embedded store may be read
    without opening it fully (when no run is active, there is nothing to recover)."""
    from weir.workspace import Workspace

    ws = Workspace(G.workspace, G.project, reading=reading)
    if recover and needs_project:
        _ = ws.project
    if reading and needs_project:
        _warn_if_name_held_elsewhere(ws)
    if recover and not _nothing_active(ws):
        closed = ws.recover()
        if closed:
            from weir.cli.render import err_console

            for run in closed:
                err_console.print(f"[yellow]run {run['id']} was closed as failed: {run['error']}[/]", highlight=False)
    return ws


def _warn_if_name_held_elsewhere(ws: Workspace) -> None:
    """A read from a folder whose project name another folder holds shows that folder's data:
    one line says so (runs, ingests, repairs and vacuums from here are refused)."""
    other = ws.name_held_elsewhere()
    if other is not None:
        from rich.markup import escape

        from weir.cli.render import err_console

        line = (f"project name {ws.project.name!r} belongs to {other} in this workspace: what follows is the "
                "project of that folder, not of this one")
        err_console.print(f"[yellow]warning:[/] {escape(line)}", highlight=False, soft_wrap=True)


def _nothing_active(ws: Workspace) -> bool:
    light = ws.light()
    if light is None:
        return False
    try:
        return light.active_runs() == 0
    finally:
        light.close()


def show_help(ctx: typer.Context) -> None:
    """A group called without a command prints its help and exits 2 (it was not told what to do)."""
    import sys

    sys.stdout.write(ctx.get_help() + "\n")
    raise typer.Exit(2)


def actor() -> str:
    """Who is at the command line: the OS user (recorded with what the command writes)."""
    import getpass

    from weir.engine.heartbeat import this_host

    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name to be had (a container without one)
        user = "unknown"
    return f"{user}@{this_host()}"


def after_write(ws: Workspace) -> None:
    """After a command wrote: run the pump (incidents, OpenLineage, alerts; ``weir.pump``) and say
    what it did. A consumer's failure is one warning line, never the command's exit code (its
    events wait in the log for the next pump)."""
    from rich.markup import escape

    from weir.cli.alerts import report
    from weir.cli.incidents import tell_synced
    from weir.cli.render import err_console

    pumped = ws.pump()
    tell_synced(ws, pumped.get("incidents"))
    if pumped.get("alerts") is not None:
        report(pumped.get("alerts"), quiet=True)
    for warning in pumped.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)


def finish(ws: Workspace, code: int = 0) -> None:
    """Close the workspace; exit with ``code`` unless it is 0."""
    ws.close()
    if code:
        raise typer.Exit(code)


@overload
def choice(kind: type[E], value: str, option: str) -> E: ...
@overload
def choice(kind: type[E], value: str | None, option: str) -> E | None: ...
def choice(kind: type[E], value: str | None, option: str) -> E | None:
    """``value`` of ``option`` as a member of ``kind``; a one-line usage error naming the choices."""
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        from weir.errors import UsageError

        raise UsageError(f"{option} {value!r} is not one of {', '.join(kind)}") from None


def choices(kind: type[StrEnum]) -> str:
    """The choices of ``kind`` for a help text: ``a | b | c``."""
    return " | ".join(kind)
