"""Source partitions are checked on arrival, before any asset reads them: the contract (declared
columns and types, malformed-row tolerance), the source's checks and its profile, in one scan of
the rows as read. The decision is stored per partition with the fingerprint of the files it
judged, so a partition is checked once per delivery and again when new files land."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from weir.errors import DataError
from weir.events import Event, EventKind
from weir.model.definitions import Source
from weir.quality.auditor import ReferencesOf, audit_partition, failed_check_events, tally
from weir.quality.scan import ScanInput, ScanStats
from weir.storage.sources import fingerprint, read_source, source_files

ACCEPTED, BLOCKED = "accepted", "blocked"


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

    @property
    def blocked(self) -> bool:
        return self.state == BLOCKED

    def to_dict(self) -> dict:
        return {
            "source": self.source, "partition": self.key, "state": self.state, "rows": self.rows,
            "malformed_rows": self.malformed, "message": self.message, "sample": self.sample,
            "checked_now": self.checked_now, "fingerprint": self.fingerprint,
        }


class SourceGate:
    """Admits or blocks landed source partitions; remembers its decisions in the metadata store."""

    def __init__(self, project, store, *, references: ReferencesOf | None = None, stats: ScanStats | None = None,
                 outcomes: dict | None = None) -> None:
        self.project = project
        self.store = store
        self.root = Path(project.root)
        self.references = references
        self.stats = stats or ScanStats()
        self._known: dict[str, dict[str, dict]] = {}
        self.outcomes = outcomes if outcomes is not None else {}  # check outcomes per source

    def _decided(self, source: str) -> dict[str, dict]:
        if source not in self._known:
            with self.store.read():
                self._known[source] = self.store.sources.get(self.project.name, source)
        return self._known[source]

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
                             malformed=known["malformed_rows"], message=known["message"] or "", sample=known["sample"] or [])
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
        return decision

    def _judge(self, source: Source, key: str, files: list[str], fp: str, run_id: str | None):
        base = {"source": source.name, "key": key, "fingerprint": fp, "checked_now": True}
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
