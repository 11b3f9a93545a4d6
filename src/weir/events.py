"""Events: every state change someone else may react to, as frozen values.

An event is appended to the durable log (the ``events`` table) in the same transaction as the
change it describes, so a consumer that reads the log from its cursor after a crash misses
nothing and sees nothing that did not happen. After the commit, the store hands the events to
the in-process :class:`EventBus`, which fans them out to live sinks (the progress bar). No I/O
here: this module sits on the ground floor with the vocabulary and the errors."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any, Protocol, Self, TypeVar, overload

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


# -- typed payloads ------------------------------------------------------------------------------
# What each kind carries in ``data``, as a frozen value. The log keeps ``data`` as JSON, as it was
# written; a payload is read from it with every field optional, so an event logged before a field
# existed reads with that field's default.


@dataclass(frozen=True, slots=True, kw_only=True)
class _Payload:
    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Self:
        return cls(**_known(cls, data))


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFinished(_Payload):
    state: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PartitionPublished(_Payload):
    version: int | None = None
    rows: int | None = None
    state: str | None = None
    code_version: str | None = None
    inputs: dict[str, Any] | None = None  # {upstream: {partition: version or fingerprint}}
    table: str | None = None
    recovered: bool = False  # recorded after the run died, from the table's log
    approved_by: str | None = None  # a held version approved ('weir approve')


@dataclass(frozen=True, slots=True, kw_only=True)
class PartitionBlocked(_Payload):
    rows: int | None = None
    message: str | None = None
    staged_path: str | None = None
    checks: str | None = None  # the checks version the block was judged by


@dataclass(frozen=True, slots=True, kw_only=True)
class PartitionFailed(_Payload):
    state: str | None = None  # failed | upstream_failed
    reason: str | None = None
    error: str | None = None
    attempts: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SignalRaised(_Payload):
    """A monitor alert (``signal_raised``; ``schema_changed`` carries the same and ``details``)."""

    kind: str | None = None
    column: str | None = None
    metric: str | None = None
    method: str | None = None
    rule: str | None = None
    value: float | None = None
    center: float | None = None
    lower: float | None = None
    upper: float | None = None
    direction: str | None = None
    message: str | None = None
    details: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RolloutChanged(_Payload):
    cause: str | None = None  # code | configuration
    from_code_version: str | None = None
    to_code_version: str | None = None
    partitions: list[str] = field(default_factory=list)
    moved: str | None = None
    changes: list[dict[str, Any]] = field(default_factory=list)
    message: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentOpened(_Payload):
    incident: int = 0
    title: str | None = None
    severity: str | None = None
    asset: str | None = None  # the trigger's (see ``names_asset``)
    partition: str | None = None
    names_asset: bool = False  # the event names the trigger's asset (else the incident's root is the event's)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Self:
        return cls(**{**_known(cls, data), "names_asset": "asset" in data})


@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentUpdated(_Payload):
    """A change to an incident: ``change`` says which (joined, reopened, acknowledged, severity,
    scope, partly fixed); the other fields are those that change carries."""

    incident: int = 0
    change: str | None = None
    member: str | None = None  # joined, reopened: the trigger's summary line
    why: str | None = None
    asset: str | None = None  # joined: the trigger's asset (see ``names_asset``)
    partition: str | None = None
    names_asset: bool = False  # the event names the trigger's asset (else the incident's root is the event's)
    severity: str | None = None
    was: str | None = None
    by: str | None = None
    note: str | None = None
    actor: str | None = None
    added: list[str] = field(default_factory=list)
    scope: str | None = None
    fixed: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Self:
        return cls(**{**_known(cls, data), "names_asset": "asset" in data})


@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentResolved(_Payload):
    incident: int = 0
    reason: str | None = None
    note: str | None = None
    automatic: bool = False  # weir saw its scope rebuilt good (or its root delivered again)
    actor: str | None = None


def _known(cls: type[_Payload], data: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of ``cls`` that ``data`` has (a field it lacks keeps its default)."""
    return {f.name: data[f.name] for f in fields(cls) if f.name in data}


Payload = (RunFinished | PartitionPublished | PartitionBlocked | PartitionFailed | SignalRaised | RolloutChanged
           | IncidentOpened | IncidentUpdated | IncidentResolved)
PAYLOADS: dict[EventKind, type[Payload]] = {
    EventKind.RUN_FINISHED: RunFinished,
    EventKind.PARTITION_PUBLISHED: PartitionPublished,
    EventKind.PARTITION_BLOCKED: PartitionBlocked,
    EventKind.PARTITION_FAILED: PartitionFailed,
    EventKind.SIGNAL_RAISED: SignalRaised,
    EventKind.SCHEMA_CHANGED: SignalRaised,
    EventKind.ROLLOUT_CHANGED: RolloutChanged,
    EventKind.INCIDENT_OPENED: IncidentOpened,
    EventKind.INCIDENT_UPDATED: IncidentUpdated,
    EventKind.INCIDENT_RESOLVED: IncidentResolved,
}
P = TypeVar("P", bound=_Payload)


@overload
def payload(event: Event) -> Payload | None: ...


@overload
def payload(event: Event, of: type[P]) -> P: ...


def payload(event: Event, of: type[Any] | None = None) -> Any:
    """The typed payload of ``event`` (None for a kind without one). With ``of``, the payload as
    that type: a ``ValueError`` when the event is of another kind."""
    cls = PAYLOADS.get(event.kind)
    if of is not None and cls is not of:
        raise ValueError(f"a {event.kind} event has no {of.__name__} payload")
    return None if cls is None else cls.from_data(event.data)


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
