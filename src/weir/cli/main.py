"""``weir``: the command line. The app, its global options and how errors end a command; the
commands live in one module per group, each parsing, calling one service and rendering.
Nothing heavy is imported here, so ``weir --help`` stays fast."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Protocol, TypeGuard

import typer

from weir.cli import (
    alerts,
    approvals,
    daemon,
    data,
    envs,
    events,
    health,
    incidents,
    monitors,
    project,
    quality,
    rehearse,
    runs,
    scenarios,
)
from weir.cli.context import G, show_help

app = typer.Typer(
    help="weir: partitioned data assets on Delta Lake, checked and published atomically.",
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: no Rich import, no type tag on flags
)
for group in (project.app, runs.app, approvals.app, envs.app, rehearse.app, data.app, quality.app, monitors.app, events.app, health.app,
              scenarios.app):
    app.add_typer(group)
app.add_typer(project.db_app, name="db")
app.add_typer(envs.env_app, name="env")
app.add_typer(events.openlineage_app, name="openlineage")
app.add_typer(incidents.app, name="incidents")
app.add_typer(alerts.app, name="alerts")
app.add_typer(incidents.trust_app)
app.add_typer(incidents.diagnose_app)
app.add_typer(daemon.app, name="daemon")


@app.callback()
def _global(
    ctx: typer.Context,
    workspace: Path | None = typer.Option(None, "--workspace", "-w", metavar="DIR",
                                          help="Workspace folder (else $WEIR_HOME, else ./.weir)."),
    project_dir: Path | None = typer.Option(None, "--project", "-p", metavar="DIR",
                                            help="Project folder holding weir.toml (else the current folder)."),
) -> None:
    G.workspace, G.project = workspace, project_dir
    if ctx.invoked_subcommand is None:
        show_help(ctx)


def main() -> None:
    """Run the command line: a WeirError or a usage error is one line on stderr (exit 2, or the
    error's own code); Ctrl-C exits 130."""
    from weir.errors import WeirError

    try:
        code = app(standalone_mode=False)
    except WeirError as exc:
        _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    except typer.Abort:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    except Exception as exc:
        if not _is_usage_error(exc):
            raise
        ctx = getattr(exc, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        _fail(exc.format_message() + hint, exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


class _UsageError(Protocol):
    """What main() uses of a Click usage error."""

    exit_code: int

    def format_message(self) -> str: ...


def _is_usage_error(exc: Exception) -> TypeGuard[_UsageError]:
    """Click's errors (an unknown option, a missing argument, a bad value), told apart by what
    they carry: Typer either vendors Click or depends on it, so their class is not one import."""
    return callable(getattr(exc, "format_message", None)) and isinstance(getattr(exc, "exit_code", None), int)


def _fail(message: str, code: int) -> None:
    from rich.markup import escape

    from weir.cli.render import err_console

    err_console.print(f"[red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
