"""OpenLineage: the first consumer of weir's durable event log.

``send_pending`` reads the project's events after its cursor (``openlineage:<project>`` in
``consumer_cursors``), turns them into OpenLineage RunEvents, hands them to the transport set
in ``[openlineage]`` of weir.toml, and moves the cursor only past what the transport accepted:
every event goes out at least once, and an endpoint that is down leaves the rest in the log for
the next send. It runs after the run's last commit and never raises: a failure is a one-line
warning in the returned :class:`Delivery`.

Light to import: openlineage-python is imported only when something is sent."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from weir.lineage.ol_events import Translator
    from weir.lineage.ol_transport import LineageTransport
    from weir.project.config import ProjectConfig
    from weir.project.graph import Project
    from weir.store.store import MetadataStore

CURSOR_PREFIX = "openlineage:"
EVENTS_FILE = Path("openlineage") / "events.jsonl"  # under the workspace
BATCH = 500


def cursor_name(project: str) -> str:
    return CURSOR_PREFIX + project


@dataclass(frozen=True, kw_only=True)
class Delivery:
    """What one send did. ``cursor`` is the id of the last weir event handled; ``warning`` is
    set when some events could not be sent (they stay in the log) or could not be translated
    (they were skipped, and named)."""

    transport: str
    target: str | None
    read: int = 0  # weir events handled (sent, or with nothing to send)
    sent: int = 0  # RunEvents the transport accepted
    cursor: int = 0
    warning: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"transport": self.transport, "target": self.target, "read": self.read, "sent": self.sent,
                "cursor": self.cursor, "warning": self.warning}


def send_pending(store: MetadataStore, config: ProjectConfig, *, workspace: Path, data_root: Path | None = None,
                 sources: Mapping[str, str] | None = None, transport: LineageTransport | None = None,
                 batch: int = BATCH) -> Delivery:
    """Send the project's events that are after its cursor. ``config`` is the project's
    ProjectConfig (name, root, ``openlineage`` settings); ``data_root`` holds the asset tables
    (``<workspace>/data`` by default); ``sources`` maps source names to their path templates
    (dataset names of source inputs); ``transport`` replaces the configured one. Never raises
    an Exception: failures come back as ``Delivery.warning``."""
    emitter = OpenLineageEmitter(store, config, workspace=workspace, data_root=data_root, sources=sources,
                                 transport=transport, batch=batch)
    try:
        return emitter.send()
    except Exception as exc:  # noqa: BLE001 - lineage must never fail the work it describes
        return Delivery(transport=emitter.settings.transport, target=None,
                        warning=f"OpenLineage: nothing sent ({_reason(exc)}); the events wait in the log")


class OpenLineageEmitter:
    """Sends one project's pending events; see :func:`send_pending`."""

    def __init__(self, store: MetadataStore, config: ProjectConfig, *, workspace: Path, data_root: Path | None = None,
                 sources: Mapping[str, str] | None = None, transport: LineageTransport | None = None,
                 batch: int = BATCH) -> None:
        self.store = store
        self.config = config
        self.settings = config.openlineage
        self.workspace = Path(workspace)
        self.data_root = Path(data_root) if data_root is not None else self.workspace / "data"
        self.sources = dict(sources or {})
        self._transport = transport
        self.batch = batch
        self._skipped: list[tuple[int, Exception]] = []  # events weir could not translate, in this send

    @property
    def cursor(self) -> str:
        return cursor_name(self.config.name)

    def open_transport(self) -> LineageTransport:
        if self._transport is not None:
            return self._transport
        from weir.lineage.ol_transport import HttpEndpoint, JsonLinesFile

        if self.settings.transport == "http":
            assert self.settings.url is not None  # the config refuses transport "http" without a url
            return HttpEndpoint(self.settings.url, self.settings.endpoint, self.settings.timeout)
        return JsonLinesFile(self.workspace / EVENTS_FILE)

    def send(self) -> Delivery:
        if self.settings.transport == "off" and self._transport is None:
            return Delivery(transport="off", target=None)
        from weir.lineage.ol_events import Naming, Translator

        naming = Naming(project=self.config.name, namespace=self.settings.namespace or self.config.name,
                        data_root=self.data_root, project_root=Path(self.config.root), sources=self.sources)
        translator = Translator(self.store, naming)
        self._skipped = []
        with self.store.read():
            position = self.store.cursors.get(self.cursor)
        transport = self.open_transport()
        read = sent = 0
        failure: Exception | None = None
        try:
            while failure is None:
                batch = self._translated(translator, position)
                if not batch:
                    break
                done, accepted, failure = self._deliver(transport, batch, position)
                if done > position:
                    with self.store.transaction():
                        self.store.cursors.advance(self.cursor, done)
                read += sum(1 for event_id, _ in batch if event_id <= done)
                sent += accepted
                position = done
        finally:
            transport.close()
        warning = None
        if failure is not None:
            warning = (f"OpenLineage: {transport.target} did not accept events ({_reason(failure)}); "
                       f"events after #{position} wait in the log for the next send")
        elif self._skipped:
            shown = ", ".join(f"#{i}" for i, _ in self._skipped[:5]) + (" ..." if len(self._skipped) > 5 else "")
            warning = (f"OpenLineage: skipped {len(self._skipped)} event(s) weir could not translate "
                       f"({shown}: {_reason(self._skipped[0][1])})")
        return Delivery(transport=self.settings.transport, target=transport.target, read=read, sent=sent,
                        cursor=position, warning=warning)

    def _translated(self, translator: Translator, position: int) -> list[tuple[int, list]]:
        """The next batch of the project's events after ``position``, each with its RunEvents."""
        out = []
        with self.store.read():
            for e in self.store.events.after(position, project=self.config.name, limit=self.batch):
                assert e.id is not None  # an event read from the log has its id
                try:
                    out.append((e.id, translator.translate(e)))
                except Exception as exc:  # noqa: BLE001 - one event weir cannot translate must not hold back the rest
                    self._skipped.append((e.id, exc))
                    out.append((e.id, []))
        return out

    @staticmethod
    def _deliver(transport: LineageTransport, batch: list[tuple[int, list]], position: int) -> tuple[int, int, Exception | None]:
        """Hand the batch to the transport: (id of the last weir event all of whose RunEvents
        were accepted and made durable, RunEvents accepted, the failure that stopped it)."""
        done, accepted = position, 0
        try:
            for event_id, run_events in batch:
                for run_event in run_events:
                    transport.emit(run_event)
                    accepted += 1
                done = event_id
            transport.flush()
            return done, accepted, None
        except Exception as exc:  # noqa: BLE001 - an endpoint that is down is a warning, not an error
            try:
                transport.flush()
            except Exception:  # noqa: BLE001 - not durable: nothing of this batch counts as delivered
                done = position
            return done, accepted, exc


def _reason(exc: BaseException) -> str:
    """One short line: the root cause of an HTTP client's nested errors, not its whole chain."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "Caused by " in text:
        text = text.split("Caused by ", 1)[1].rstrip(")")
    return text[:200]


class OpenLineageService:
    """The workspace's OpenLineage sender: ``send()`` delivers the project's pending events
    (after a run or an ingest, and on demand with ``weir openlineage send``)."""

    def __init__(self, *, project: Callable[[], Project], store: Callable[[], MetadataStore], home: Path,
                 data_root: Path | None = None) -> None:
        self._project = project
        self._store = store
        self._home = Path(home)
        self._data_root = data_root or self._home / "data"

    def send(self) -> Delivery:
        project = self._project()
        return send_pending(self._store(), project.config, workspace=self._home, data_root=self._data_root,
                            sources={n: s.path for n, s in project.sources.items()})
