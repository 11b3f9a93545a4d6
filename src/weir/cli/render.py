"""Rendering for the CLI: Rich tables, progress bars and stable JSON."""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from weir.events import Event
    from weir.reporting import RunOutcome


def _console(stderr: bool = False) -> Console:
    c = Console(stderr=stderr)
    if not c.is_terminal and "COLUMNS" not in os.environ:
        c = Console(stderr=stderr, width=160)  # piped output: don't fold tables at 80 columns
    return c


console = _console()
err_console = _console(stderr=True)

STATE_STYLE = {
    "succeeded": "green", "failed": "red", "upstream_failed": "red", "blocked": "magenta", "cancelled": "yellow",
    "running": "cyan", "queued": "cyan", "skipped": "yellow", "failed_check": "red", "accepted": "green",
    "error": "red", "warning": "yellow", "info": "cyan",
}


def short_time(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else "—"


def styled(state: str) -> str:
    return f"[{STATE_STYLE.get(state, 'white')}]{state}[/]"


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def print_json_rows(rows: Sequence[Any]) -> None:
    """A JSON array of many small records, one compact record per line: a long series stays a
    fraction of its indented size and each line is one record for grep and head."""
    out = sys.stdout
    out.write("[\n" if rows else "[]\n")
    for i, row in enumerate(rows):
        out.write(json.dumps(row, separators=(",", ":"), default=str) + (",\n" if i < len(rows) - 1 else "\n]\n"))


def table(*columns: str, title: str | None = None) -> Table:
    t = Table(title=title, title_justify="left", header_style="bold")
    for c in columns:
        t.add_column(c, overflow="fold")
    return t


class ProgressReporter:
    """One progress bar for the whole run with per-state counts. It is an event sink: partition
    outcomes arrive as the run's committed events; skipped partitions (no event) as a call."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=err_console,
            transient=False,
        )
        self.task: TaskID | None = None
        self.run_id: str | None = None
        self.counts: dict[str, int] = {}

    def run_started(self, run_id: str, total: int) -> None:
        self.run_id = run_id
        err_console.print(f"run [bold]{run_id}[/]: {total} partition builds")
        if total:
            self.progress.start()
            self.task = self.progress.add_task("building", total=total, detail="")

    def asset_started(self, asset: str, count: int) -> None:
        if self.task is not None:
            self.progress.update(self.task, description=asset)

    def receive(self, events: Sequence[Event]) -> None:
        from weir.events import EventKind

        for e in events:
            if e.run_id != self.run_id:
                continue
            if e.kind == EventKind.PARTITION_PUBLISHED:
                self._advance(e.data.get("state") or "succeeded")
            elif e.kind == EventKind.PARTITION_BLOCKED:
                self._advance("blocked")
            elif e.kind == EventKind.PARTITION_FAILED:
                self._advance(e.data.get("state") or "failed")
            elif e.kind == EventKind.PARTITION_BUILT and e.data.get("held"):
                self._advance("held")

    def partition_skipped(self, asset: str, key: str, reason: str) -> None:
        self._advance("skipped")

    def _advance(self, state: str) -> None:
        self.counts[state] = self.counts.get(state, 0) + 1
        if self.task is not None:
            detail = "  ".join(f"[{STATE_STYLE.get(s, 'white')}]{n} {s}[/]" for s, n in sorted(self.counts.items()))
            self.progress.update(self.task, advance=1, detail=detail)

    def run_finished(self, result: RunOutcome) -> None:
        if self.task is not None:
            self.progress.stop()
        if result.state == "cancelled":
            published = sum(n for s, n in result.counts.items() if s in ("succeeded", "failed_check"))
            rest = sum(result.counts.values()) - published
            err_console.print(
                f"[yellow]run {result.run_id} cancelled (interrupted)[/]: the {published} partitions it published "
                f"before the interrupt stay published; its other {rest} were not published "
                "('weir run --stale' builds them)",
                highlight=False, soft_wrap=True,
            )


class counting_progress:
    """A progress bar for a known number of steps; yields the function that advances it."""

    def __init__(self, what: str, total: int, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=err_console, transient=True)
        self.task = self.progress.add_task(what, total=total) if enabled else None

    def __enter__(self) -> Callable[[], None]:
        if self.enabled:
            self.progress.start()
        return self.advance

    def advance(self) -> None:
        if self.task is not None:
            self.progress.update(self.task, advance=1)

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.progress.stop()


def cell(value: Any) -> str:
    """A value for a table cell. Floats keep their integer part and a readable precision:
    thousands separated with two decimals from 1 up, three significant digits below 1."""
    if value is None:
        return ""
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value.is_integer() and abs(value) < 1e15:
            return f"{value:,.0f}"
        if abs(value) >= 1:
            return f"{value:,.2f}"
        return f"{value:.3g}"
    return str(value)


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 partition``, ``2 partitions``, ``1,841 partitions``."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"
