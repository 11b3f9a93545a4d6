"""The audit hook between "staged" and "published": checks decide what may be published."""

from __future__ import annotations

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

    def flush(self) -> None:
        """Write what the audits found; called inside the transaction that records the publish."""


class PassAll:
    """The default until checks exist: everything staged is published."""

    def audit(self, asset: Asset, table_dir: str, staged: list[StagedPartition], run_id: str) -> dict[str, AuditVerdict]:
        return {s.key: AuditVerdict() for s in staged}

    def flush(self) -> None:
        pass
