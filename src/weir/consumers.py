"""The one after-write pump: every consumer of the event log that must react to what a command
wrote, run in order after the write, each reading the log from its own cursor. A consumer that
fails never fails the command (its events wait in the log for the next pump); its failure comes
back as a warning line. The CLI, the daemon and (later) the API call ``Workspace.pump()`` after
writes; nothing else calls the consumers one by one.

The consumers, in order: **incidents** (open, grow, fix or resolve incidents from the triggers
and builds logged; their changes queue alerts in the same unit of work), **openlineage** (send
the run events to the configured transport), **alerts** (deliver what is due in the outbox)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


class Consumer(Protocol):
    """Reads the event log from its own cursor and acts on what it finds."""

    @property
    def name(self) -> str: ...

    def consume(self) -> Any: ...


@dataclass(frozen=True)
class FnConsumer:
    """A consumer made of a service's method (``ws.incidents.sync``, ``ws.alerts.deliver``)."""

    name: str
    run: Callable[[], Any]
    wanted: Callable[[], bool] = lambda: True  # whether it has anything to do (an alerts config with routes)

    def consume(self) -> Any:
        return self.run() if self.wanted() else None


@dataclass
class Pumped:
    """What one pump did: each consumer's result by name, and a warning per consumer that failed
    (or reported a warning of its own)."""

    results: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def get(self, name: str) -> Any:
        return self.results.get(name)


def pump(consumers: list[Consumer]) -> Pumped:
    """Run every consumer once, in order; never raises for a consumer's failure."""
    out = Pumped()
    for consumer in consumers:
        try:
            result = consumer.consume()
        except Exception as exc:  # noqa: BLE001 - a consumer never fails the command that wrote
            out.warnings.append(f"{consumer.name}: {exc} (its events wait in the log for the next pump)")
            continue
        out.results[consumer.name] = result
        warning = getattr(result, "warning", None)
        if warning:
            out.warnings.append(str(warning))
    return out
