"""The audit hook between "staged" and "published": checks decide what may be published."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Protocol

from weir.model.definitions import Asset
from weir.storage.delta import StagedPartition


@dataclass(frozen=True, kw_only=True)
class AuditVerdict:
    """``publish`` False quarantines the partition: its staged file stays, readers keep the old one."""

    publish: bool = True
    state: str = "succeeded"
    message: str = ""


class Auditor(Protocol):
    def audit(self, asset: Asset, table_dir: str, staged: list[StagedPartition], run_id: str) -> dict[str, AuditVerdict]: ...

    def measured(self, asset: str, key: str) -> Mapping[tuple[str, str], float | None] | None:
        """The metric points the audit of ``key`` measured and has not flushed yet, by (column,
        metric); None when it measured nothing."""

    def withhold(self, asset: str, keys: Collection[str]) -> dict[str, dict]:
        """Keep the measurements of ``keys`` out of the next flush (versions held for approval:
        readers and monitors stay on the published ones); returns them as JSON by key
        (``store.quality.KeptProfile``), to record when they are published."""

    def flush(self) -> None:
        """Write what the audits found; called inside the transaction that records the publish."""


class PassAll:
    """The default until checks exist: everything staged is published."""

    def audit(self, asset: Asset, table_dir: str, staged: list[StagedPartition], run_id: str) -> dict[str, AuditVerdict]:
        return {s.key: AuditVerdict() for s in staged}

    def measured(self, asset: str, key: str) -> Mapping[tuple[str, str], float | None] | None:
        return None

    def withhold(self, asset: str, keys: Collection[str]) -> dict[str, dict]:
        return {}

    def flush(self) -> None:
        pass
