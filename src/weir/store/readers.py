"""What a service that only reads needs of the store, per concept, as protocols: the
repositories implement them (``store/runs.py``, ``store/incidents.py``), and so does the light
reader where it answers the same questions (``store/light.py``). No SQLAlchemy here, so the light
reader can name them. The event log's are beside it (``store/events.py``)."""

from __future__ import annotations

import builtins
from typing import Protocol

from weir.model.rows import BuildRecord, IncidentMember, IncidentRecord, RunRecord, ScopeRecord, TaskRecord


class RunReader(Protocol):
    """What a service that only reads runs and their tasks needs."""

    def get(self, run_id: str) -> RunRecord | None: ...

    def by_ref(self, ref: str) -> RunRecord | None: ...

    def list(self, *, project: str | None = None, limit: int = 20, state: str | None = None) -> builtins.list[RunRecord]: ...

    def active(self) -> builtins.list[RunRecord]: ...

    def tasks(self, run_id: str) -> builtins.list[TaskRecord]: ...

    def builds(self, project: str, asset: str, *, key: str | None = None, states: tuple[str, ...] = (),
               before: float | None = None, key_before: str | None = None, limit: int = 1) -> builtins.list[BuildRecord]: ...


class RunSummaryReader(Protocol):
    """The per-asset run facts ``weir status`` reads: served by ``Runs`` and by the light reader."""

    def last_task_states(self, project: str, asset: str) -> dict[str, str | int]: ...

    def blocked(self, project: str) -> builtins.list[dict]: ...


class IncidentReader(Protocol):
    """What a service that only reads incidents, their members and scopes needs."""

    def get(self, incident_id: int) -> IncidentRecord | None: ...

    def select(self, project: str, *, states: tuple[str, ...] = (), limit: int | None = None) -> builtins.list[IncidentRecord]: ...

    def members(self, incident_ids: builtins.list[int]) -> dict[int, builtins.list[IncidentMember]]: ...

    def scope(self, incident_ids: builtins.list[int]) -> dict[int, builtins.list[ScopeRecord]]: ...

    def resolved_since(self, project: str, since: float) -> builtins.list[IncidentRecord]: ...


class PartitionSummaryReader(Protocol):
    """The per-asset published facts ``weir status`` reads: served by ``Partitions`` and by the light reader."""

    def summary(self, project: str) -> dict[str, dict]: ...

    def code_version_counts(self, project: str, asset: str) -> dict[str, int]: ...
