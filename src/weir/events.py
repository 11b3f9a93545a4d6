"""Events: every state change someone else may react to, as frozen values.

An event is appended to the durable log (the ``events`` table) in the same transaction as the
change it describes, so a consumer that reads the log from its cursor after a crash misses
nothing and sees nothing that did not happen. After the commit, the store hands the events to
the in-process :class:`EventBus`, which fans them out to live sinks (the progress bar). No I/O
here: this module sits on the ground floor with the vocabulary and the errors."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from weir.model.keys import AssetKey


class EventKind(StrEnum):
    RUN_STARTED = "run_started"
    RUN_FINISHED = "run_finished"
    PARTITION_BUILT = "partition_built"  # staged and audited; published or blocked follows in the same transaction
    PARTITION_PUBLISHED = "partition_published"
    PARTITION_BLOCKED = "partition_blocked"  # a block check failed: quarantined, the last good version stays
    PARTITION_FAILED = "partition_failed"  # the build raised, or an upstream failed
    CHECK_FAILED = "check_failed"
    SIGNAL_RAISED = "signal_raised"  # a monitor alert
    SOURCE_ADMITTED = "source_admitted"
    SOURCE_BLOCKED = "source_blocked"
    SCHEMA_CHANGED = "schema_changed"
    INCIDENT_OPENED = "incident_opened"
    INCIDENT_UPDATED = "incident_updated"  # a trigger joined, acknowledged, reopened, severity changed
    INCIDENT_RESOLVED = "incident_resolved"
    # a run republished partitions because their code or configuration changed, and the new
    # versions differ materially from those they replaced (row counts, profile metrics, row diff)
    ROLLOUT_CHANGED = "rollout_changed"


@dataclass(frozen=True, kw_only=True)
class Event:
    """One thing that happened. ``id`` is set once the event is in the log (the cursor)."""

    kind: EventKind
    project: str
    asset: str | None = None
    partition_key: str | None = None
    run_id: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.time)
    id: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", EventKind(self.kind))

    @property
    def key(self) -> AssetKey | None:
        """The asset (or source) the event is about, or None for an event of the whole run."""
        return AssetKey(self.project, self.asset) if self.asset else None

    def to_json(self) -> dict[str, Any]:
        """The documented JSON form (``weir events --json``); ``key`` is ``project.asset``."""
        key = self.key
        return {
            "id": self.id, "kind": str(self.kind), "at": self.at, "project": self.project, "asset": self.asset,
            "key": str(key) if key else None, "partition": self.partition_key, "run_id": self.run_id,
            "data": dict(self.data),
        }


class EventSink(Protocol):
    """A live consumer of events, called after they are committed. A sink must be quick and
    must not raise: consumers that can fail or be slow read the durable log instead."""

    def receive(self, events: Sequence[Event]) -> None: ...


class EventBus:
    """Fans committed events out to the sinks subscribed in this process."""

    def __init__(self, sinks: Iterable[EventSink] = ()) -> None:
        self._sinks: list[EventSink] = list(sinks)

    def subscribe(self, sink: EventSink) -> None:
        self._sinks.append(sink)

    def unsubscribe(self, sink: EventSink) -> None:
        if sink in self._sinks:
            self._sinks.remove(sink)

    def publish(self, events: Sequence[Event]) -> None:
        if not events:
            return
        for sink in list(self._sinks):
            sink.receive(events)
