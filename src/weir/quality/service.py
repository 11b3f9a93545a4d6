"""Quality as users ask for it: check results, checking a published partition again, and
checking landed source partitions without building anything."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol

from weir.errors import UnknownObjectError
from weir.project.keys import partition_key

if TYPE_CHECKING:
    from weir.project.graph import Project
    from weir.quality.auditor import CheckAuditor, ReferencesOf
    from weir.quality.ingest import SourceGate
    from weir.storage.delta import AssetTable
    from weir.store.store import MetadataStore

# (source, partition keys measured just now, the run or ingest that measured them) -> the monitor
# alerts on them, which carry that id
Evaluate = Callable[[str, list[str], str | None], list[dict]]


class AssetTables(Protocol):
    """The project's tables, as the workspace hands them over."""

    def get(self, asset: str) -> AssetTable: ...

    def uri(self, asset: str) -> str: ...

    def files(self, asset: str) -> Mapping[str, list[str]]: ...


class QualityService:
    def __init__(self, *, project: Callable[[], Project], store: Callable[[], MetadataStore], tables: AssetTables,
                 evaluate: Evaluate) -> None:
        self._project = project
        self._store = store
        self._tables = tables
        self._evaluate = evaluate

    def auditor(self) -> CheckAuditor:
        """The audit step of a run: checks and profile of every staged partition, in one scan."""
        from weir.quality.auditor import CheckAuditor

        return CheckAuditor(self._store(), self._project(), references=self.references())

    def gate(self, outcomes: dict | None = None) -> SourceGate:
        """The source gate: admits or blocks landed source partitions."""
        from weir.quality.ingest import SourceGate

        return SourceGate(self._project(), self._store(), references=self.references(), outcomes=outcomes)

    def references(self) -> ReferencesOf:
        """Where the targets of references checks are: published tables and landed files."""
        from weir.quality.auditor import references_resolver
        from weir.storage.sources import source_files

        project = self._project()
        return references_resolver(project, table_uri=self._tables.uri, files_of=self._tables.files,
                                   source_files_of=lambda src, k: source_files(src, project.root, k))

    def check_results(self, asset: str | None = None, partition: str | None = None, failed: bool = False) -> list[dict]:
        """Newest result of every check on every partition (of an asset or source)."""
        project = self._project()
        if asset:
            project.node(asset)
        key = partition_key(project, asset, partition, sources=True) if asset and partition is not None else partition
        store = self._store()
        with store.read():
            return store.checks.list(project.name, asset=asset, partition=key, failed=failed)

    def range_check(self, name: str | None, first: str | None, last: str | None) -> str | None:
        """Check a ``--from``/``--to`` range of measured partitions (of ``name``, or of every
        asset and source): raises PartitionError naming both keys when it runs backwards;
        returns one line saying which part of it lies outside the partitions measured, or None."""
        from weir.project.keys import check_range, outside_measured

        project = self._project()
        check_range(project, name, first, last)
        if first is None and last is None:
            return None
        store = self._store()
        with store.read():
            measured = store.metrics.extent(project.name, name)
        return outside_measured(first, last, measured)

    def recheck(self, asset: str, partition: str | None) -> list[dict]:
        """Run ``asset``'s checks on its published partition now; records and returns the results."""
        from weir.quality.auditor import audit_partition, failed_check_events
        from weir.quality.scan import ScanInput

        project = self._project()
        a = project.asset(asset)
        key = partition_key(project, asset, partition)
        table = self._tables.get(asset)
        files = table.files().get(key) if table.exists() else None
        if not files:
            raise UnknownObjectError(f"partition {key!r} of {asset!r} is not published")
        if not a.checks:
            return []
        schema = table.schema()
        assert schema is not None  # the partition is published, so the table exists
        data = ScanInput(files=[f"{table.uri}/{f}" for f in files], schema={f.name: str(f.type) for f in schema})
        rows = audit_partition(a, key, data, project=project.name, run_id=None, references=self.references()).rows
        store = self._store()
        with store.transaction():
            store.checks.record(rows)
            store.emit(*failed_check_events(rows))
        return rows

    def ingest(self, source: str, partitions: list[str] | None = None, *, force: bool = False,
               on_progress: Callable[[], None] | None = None, ingest_id: str | None = None) -> list[dict]:
        """Check landed partitions of ``source`` (all that landed, or ``partitions``) without
        building anything. Partitions already judged for the same files keep their decision.
        What is checked now is recorded under ``ingest_id`` (a new ingest id by default), as a
        run's checks are under its run id: decisions, check results, metrics, events, signals."""
        project = self._project()
        src = project.sources.get(source)
        if src is None:
            from weir.project.graph import suggest

            if source in project.assets:
                raise UnknownObjectError(f"{source!r} is an asset, not a source")
            raise UnknownObjectError(f"unknown source {source!r}{suggest(source, list(project.sources))}")
        from weir.store.projects import claim_project

        claim_project(self._store(), project.name, str(project.root))
        keys = [partition_key(project, source, p, sources=True) for p in partitions] if partitions else list(src.partitions.keys())
        from weir.quality.ingest import new_ingest_id

        ingest_id = ingest_id or new_ingest_id()
        gate = self.gate()
        out = []
        for key in keys:
            admission = gate.admit(src, key, run_id=ingest_id, force=force)
            if admission is not None:
                out.append(admission.to_dict())
            if on_progress is not None:
                on_progress()
        checked = [a["partition"] for a in out if a["checked_now"]]
        alerts = self._evaluate(source, checked, ingest_id) if checked else []
        for a in out:
            a["signals"] = sum(1 for s in alerts if s["partition_key"] == a["partition"])
        return out

    def landed(self, source: str) -> int:
        """How many partitions of ``source`` ``ingest`` would look at (for a progress bar)."""
        src = self._project().sources.get(source)
        return len(src.partitions.keys()) if src is not None else 0
