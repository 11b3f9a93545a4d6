"""Typed records the metadata store hands out for runs, their tasks and incidents: frozen values
with one field per column, so services and shells read ``run.state`` rather than ``row["state"]``
and need not import the store. No SQL here: a repository builds them from a row with
``from_row`` (any mapping of column names, an SQLAlchemy ``RowMapping`` or an ``sqlite3.Row``
turned into a dict), and ``as_dict`` gives the columns back where a row is still wanted."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Self


class _Record:
    """What every record shares: built from a row by column name, its columns as a dict."""

    __slots__ = ()

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> Self:
        """The record of ``row``; columns the record does not name are ignored."""
        return cls(**{f.name: row[f.name] for f in fields(cls)})  # type: ignore[arg-type]

    def as_dict(self) -> dict[str, Any]:
        """The columns as a dict (a shallow copy: JSON bodies are shared)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRecord(_Record):
    """One run (the ``runs`` table)."""

    id: str
    project: str
    trigger: str
    state: str
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    heartbeat_at: float | None = None
    host: str | None = None
    pid: int | None = None
    environment_id: str | None = None
    configuration_id: str | None = None
    deployment_id: int | None = None
    actor: str | None = None
    request: Any = None  # what was asked: assets, partitions, flags
    summary: Any = None  # {"counts": {state: n}, ...}
    error: str | None = None

    @property
    def counts(self) -> dict[str, int]:
        """Task counts by state, as the run recorded them ({} before it did)."""
        return dict((self.summary or {}).get("counts", {}))


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskRecord(_Record):
    """One partition build of a run (the ``run_tasks`` table)."""

    run_id: str
    asset: str
    partition_key: str
    project: str
    state: str
    reason: str | None = None
    attempt: int = 0
    code_version: str | None = None
    input_versions: Any = None  # {upstream: {partition: version or source fingerprint}}
    output_version: int | None = None
    row_count: int | None = None
    started_at: float | None = None
    finished_at: float | None = None
    seconds: float | None = None
    staged_path: str | None = None
    error: str | None = None
    traceback: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildRecord(TaskRecord):
    """A finished build: its task with the environment and configuration its run had."""

    environment_id: str | None = None
    configuration_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BlockedBuild(_Record):
    """The newest blocked build of a partition, whose staged file is kept for forensics."""

    run_id: str
    staged_path: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentRecord(_Record):
    """One incident (the ``incidents`` table): one root cause."""

    id: int
    project: str
    root_asset: str
    root_partition: str | None
    state: str  # open | acknowledged | resolved
    severity: str
    title: str
    severity_by_hand: bool = False
    reason: str | None = None  # when resolved: fixed | expected | false-alarm
    note: str | None = None
    opened_at: float = 0.0
    updated_at: float = 0.0
    resolved_at: float | None = None
    reopened: int = 0
    cause: dict[str, Any] | None = None  # IncidentCause.to_json()


@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentMember(_Record):
    """A trigger that opened or joined an incident, and why it joined."""

    id: int
    incident_id: int
    event_id: int | None
    kind: str  # the event kind
    asset: str | None
    partition_key: str | None
    run_id: str | None
    summary: str
    why: str
    at: float
    series: str | None = None  # a monitor alert's series: its later alerts continue it
    project: str = ""  # the asset's project: (project, asset) is its key


@dataclass(frozen=True, slots=True, kw_only=True)
class ScopeRecord(_Record):
    """A partition built under an incident's cause, and whether it was rebuilt good."""

    id: int
    incident_id: int
    asset: str
    partition_key: str
    run_id: str | None
    via: str  # cause | lineage | trigger
    why: str
    added_at: float
    version: str | None = None  # which versions are bad (see the schema)
    fixed_run_id: str | None = None  # None: still bad
    fixed_at: float | None = None
    project: str = ""  # the asset's project: (project, asset) is its key

    @property
    def bad(self) -> bool:
        return self.fixed_run_id is None
