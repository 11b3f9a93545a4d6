"""Source partitions are checked on arrival, before any asset reads them: the contract (declared
columns and types, malformed-row tolerance), the source's checks and its profile, in one scan of
the rows as read. A source without a contract is held to the column types of its earlier admitted
deliveries instead. The decision is stored per partition with the fingerprint of the files it
judged, so a partition is checked once per delivery and again when new files land."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from weir.errors import DataError
from weir.events import Event, EventKind
from weir.model.definitions import Source
from weir.quality.auditor import (
    ReferencesOf,
    audit_partition,
    delivery_schema_problems,
    failed_check_events,
    result_rows,
    schema_result,
    tally,
    verdict_of,
)
from weir.quality.scan import ScanInput, ScanStats
from weir.storage.sources import fingerprint, read_source, source_files

if TYPE_CHECKING:
    import pyarrow as pa

    from weir.project.graph import Project
    from weir.quality.profile import Profile
    from weir.store.store import MetadataStore

ACCEPTED, BLOCKED = "accepted", "blocked"


def new_ingest_id() -> str:
    """The id of one ingest (``weir ingest``, a scenario's ingest step): what a run id is to a
    build, it is to the source decisions, check results, metrics, events and monitor signals the
    ingest records. Shaped like a run id, so it sorts by time, and marked ``ingest-``."""
    return "ingest-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(4)


@dataclass(kw_only=True)
class Admission:
    """What the check of one landed source partition decided."""

    source: str
    key: str
    state: str  # accepted | blocked
    fingerprint: str
    rows: int | None = None
    malformed: int = 0
    message: str = ""
    sample: list[dict] = field(default_factory=list)
    checked_now: bool = False
    failed_checks: int = 0
    run_id: str | None = None  # the run or ingest that judged these files


    @property
    def blocked(self) -> bool:
        return self.state == BLOCKED

    def to_dict(self) -> dict:
        return {
            "source": self.source, "partition": self.key, "state": self.state, "rows": self.rows,
            "malformed_rows": self.malformed, "message": self.message, "sample": self.sample,
            "checked_now": self.checked_now, "fingerprint": self.fingerprint, "run_id": self.run_id,
        }


class SourceGate:
    """Admits or blocks landed source partitions; remembers its decisions in the metadata store."""

    def __init__(self, project: Project, store: MetadataStore, *, references: ReferencesOf | None = None, stats: ScanStats | None = None,
                 outcomes: dict | None = None) -> None:
        self.project = project
        self.store = store
        self.root = Path(project.root)
        self.references = references
        self.stats = stats or ScanStats()
        self._known: dict[str, dict[str, dict]] = {}
        self._schemas: dict[str, dict[str, dict]] = {}  # per source: admitted partition -> {column: type}
        self.outcomes = outcomes if outcomes is not None else {}  # check outcomes per source

    def _decided(self, source: str) -> dict[str, dict]:
        if source not in self._known:
            with self.store.read():
                self._known[source] = self.store.sources.get(self.project.name, source)
        return self._known[source]

    def _admitted_schemas(self, source: str) -> dict[str, dict]:
        """The column types of the source's admitted partitions, from their profiles."""
        if source not in self._schemas:
            with self.store.read():
                profiles = self.store.metrics.profiles(self.project.name, source)
            self._schemas[source] = {k: p["schema"] or {} for k, p in profiles.items() if not p["quarantined"]}
        return self._schemas[source]

    def admit(self, source: Source, key: str, files: list[str] | None = None, run_id: str | None = None,
              *, force: bool = False) -> Admission | None:
        """The decision for ``key`` as landed now: stored if these files were judged before,
        otherwise made now and stored. None when nothing has landed."""
        files = files if files is not None else source_files(source, self.root, key)
        if not files:
            return None
        fp = fingerprint(files)
        known = self._decided(source.name).get(key)
        if known and known["fingerprint"] == fp and not force:
            return Admission(source=source.name, key=key, state=known["state"], fingerprint=fp, rows=known["row_count"],
                             malformed=known["malformed_rows"], message=known["message"] or "", sample=known["sample"] or [],
                             run_id=known.get("run_id"))
        decision, check_rows, measured = self._judge(source, key, files, fp, run_id)
        row = {
            "project": self.project.name, "source": source.name, "partition_key": key, "fingerprint": fp,
            "state": decision.state, "row_count": decision.rows, "malformed_rows": decision.malformed,
            "message": decision.message, "sample": decision.sample, "run_id": run_id, "checked_at": time.time(),
        }
        with self.store.transaction():
            self.store.sources.record(row)
            self.store.checks.record(check_rows)
            self.store.emit(*failed_check_events(check_rows), Event(
                kind=EventKind.SOURCE_BLOCKED if decision.blocked else EventKind.SOURCE_ADMITTED, project=self.project.name,
                asset=source.name, partition_key=key, run_id=run_id,
                data={"fingerprint": fp, "rows": decision.rows, "malformed_rows": decision.malformed,
                      "message": decision.message, "files": len(files)},
            ))
            if measured is not None:
                prof, _ = measured
                if prof.new_bins:
                    self.store.metrics.fix_bins(self.project.name, source.name, prof.new_bins, fixed_by=key)
                self.store.metrics.record(self.project.name, source.name, key, run_id, prof, quarantined=decision.blocked)
        self._decided(source.name)[key] = row
        schemas = self._admitted_schemas(source.name)
        if decision.blocked or measured is None:
            schemas.pop(key, None)
        else:
            schemas[key] = measured[0].schema
        return decision

    def _untyped_first_delivery(self, source: Source, key: str, files: list[str], rows: int, table: pa.Table) -> list[str]:
        """A delivery with a header and no rows gives its columns no type. With the source's
        ``columns`` they have the declared ones, and after an admitted delivery the assets'
        tables have theirs; before that, nothing would type them (strings would fix the wrong
        type on every table downstream): blocked, saying so."""
        import pyarrow as pa

        if rows or source.columns:
            return []
        untyped = [f.name for f in table.schema if pa.types.is_null(f.type)]
        if not untyped or any(k != key and d["state"] == ACCEPTED for k, d in self._decided(source.name).items()):
            return []
        where = Path(files[0]).relative_to(self.root) if Path(files[0]).is_relative_to(self.root) else files[0]
        return [f"{where} has a header and no rows, and no type is known for {', '.join(untyped)} (declare columns= "
                "on the source, or check it again with --force once a delivery with rows is admitted)"]

    def _judge(
        self, source: Source, key: str, files: list[str], fp: str, run_id: str | None,
    ) -> tuple[Admission, list[dict], tuple[Profile, dict[str, list[float]]] | None]:
        base: dict[str, Any] = {"source": source.name, "key": key, "fingerprint": fp, "checked_now": True,
                                "run_id": run_id}
        try:
            read = read_source(files, source.format, dict(source.options), what=source.name, columns=source.columns)
        except DataError as exc:
            return Admission(**base, state=BLOCKED, message=exc.message), [], None
        malformed_note = ""
        if read.malformed:
            malformed_note = f"{read.malformed:,} of {read.rows:,} rows malformed ({read.malformed_fraction:.2%})"
        if read.malformed_fraction > source.max_malformed:
            limit = f"{source.max_malformed:.2%}" if source.max_malformed else "none allowed"
            return Admission(**base, state=BLOCKED, rows=read.rows, malformed=read.malformed, sample=read.sample,
                             message=f"{malformed_note}; tolerance {limit}"), [], None
        table = read.table
        with self.store.read():
            bins = self.store.metrics.bins(self.project.name, source.name)
        audit = audit_partition(
            source, key, ScanInput(table=table, schema={f.name: str(f.type) for f in table.schema}),
            project=self.project.name, run_id=run_id, references=self.references, bins=bins, profile=source.profile,
            stats=self.stats,
        )
        problems = self._untyped_first_delivery(source, key, files, read.rows, table)
        if not source.columns and source.profile:  # without a contract, earlier deliveries' types are the contract
            seen: dict[str, set[str]] = {}
            for k, schema in self._admitted_schemas(source.name).items():
                if k != key:
                    for col, typ in schema.items():
                        seen.setdefault(col, set()).add(typ)
            problems += delivery_schema_problems(seen, table)
        if problems:
            found = schema_result(problems, table.num_rows)
            audit.results.insert(0, found)
            audit.rows += result_rows(self.project.name, source.name, key, run_id, [found])
            audit.verdict = verdict_of(audit.results)
        verdict = audit.verdict
        if audit.results:
            tally(self.outcomes, source.name, audit.results)
        rows = audit.rows
        message = "; ".join(m for m in (malformed_note, verdict.message) if m)
        state = ACCEPTED if verdict.publish else BLOCKED
        measured = (audit.profile, bins) if audit.profile is not None else None
        return (
            Admission(**base, state=state, rows=read.rows, malformed=read.malformed, sample=read.sample, message=message,
                      failed_checks=sum(1 for r in audit.results if not r.passed)),
            rows,
            measured,
        )
