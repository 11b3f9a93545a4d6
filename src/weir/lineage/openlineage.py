"""OpenLineage: the first consumer of weir's durable event log.

``send_pending`` reads the project's events after its cursor (``openlineage:<project>`` in
``consumer_cursors``), turns them into OpenLineage RunEvents, hands them to the transport set
in ``[openlineage]`` of weir.toml, and moves the cursor only past what the transport accepted:
every event goes out at least once, and an endpoint that is down leaves the rest in the log for
the next send. It runs after the run's last commit and never raises: a failure is a one-line
warning in the returned :class:`Delivery`.

Light to import: openlineage-python is imported only when something is sent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def send_pending(store, config, *, workspace: Path, data_root: Path | None = None,
                 sources: Mapping[str, str] | None = None, transport=None, batch: int = BATCH) -> Delivery:
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

    def __init__(self, store, config, *, workspace: Path, data_root: Path | None = None,
                 sources: Mapping[str, str] | None = None, transport=None, batch: int = BATCH) -> None:
        self.store = store
        self.config = config
        self.settings = config.openlineage
        self.workspace = Path(workspace)
        self.data_root = Path(data_root) if data_root is not None else self.workspace / "data"
        self.sources = dict(sources or {})
        self._transport = transport
        self.batch = batch

    @property
    def cursor(self) -> str:
        return cursor_name(self.config.name)

    def open_transport(self):
        if self._transport is not None:
            return self._transport
        from weir.lineage.ol_transport import HttpEndpoint, JsonLinesFile

        if self.settings.transport == "http":
            return HttpEndpoint(self.settings.url, self.settings.endpoint, self.settings.timeout)
        return JsonLinesFile(self.workspace / EVENTS_FILE)

    def send(self) -> Delivery:
        if self.settings.transport == "off" and self._transport is None:
            return Delivery(transport="off", target=None)
        from weir.lineage.ol_events import Naming, Translator

        naming = Naming(project=self.config.name, namespace=self.settings.namespace or self.config.name,
                        data_root=self.data_root, project_root=Path(self.config.root), sources=self.sources)
        translator = Translator(self.store, naming)
        with self.store.read():
            position = self.store.cursors.get(self.cursor)
        transport = self.open_transport()
        read = sent = 0
        skipped: list[int] = []
        first_error: Exception | None = None
        try:
            while True:
                with self.store.read():
                    events = self.store.events.after(position, project=self.config.name, limit=self.batch)
                    translated = []
                    for e in events:
                        try:
                            translated.append((e.id, translator.translate(e)))
                        except Exception as exc:  # noqa: BLE001 - one event weir cannot translate must not hold back the rest
                            first_error = first_error or exc
                            skipped.append(e.id)
                            translated.append((e.id, []))
                if not events:
                    break
                done, failure = position, None
                try:
                    for event_id, run_events in translated:
                        for run_event in run_events:
                            transport.emit(run_event)
                            sent += 1
                        done = event_id
                    transport.flush()
                except Exception as exc:  # noqa: BLE001 - an endpoint that is down is a warning, not an error
                    failure = exc
                    try:
                        transport.flush()
                    except Exception:  # noqa: BLE001 - not durable: nothing of this batch counts as sent
                        done = position
                if done > position:
                    with self.store.transaction():
                        self.store.cursors.advance(self.cursor, done)
                read += sum(1 for event_id, _ in translated if event_id <= done)
                position = done
                if failure is not None:
                    return Delivery(
                        transport=self.settings.transport, target=transport.target, read=read, sent=sent, cursor=position,
                        warning=f"OpenLineage: {transport.target} did not accept events ({_reason(failure)}); "
                                f"events after #{position} wait in the log for the next send",
                    )
        finally:
            transport.close()
        warning = None
        if skipped:
            shown = ", ".join(f"#{i}" for i in skipped[:5]) + (" ..." if len(skipped) > 5 else "")
            warning = f"OpenLineage: skipped {len(skipped)} event(s) weir could not translate ({shown}: {_reason(first_error)})"
        return Delivery(transport=self.settings.transport, target=transport.target, read=read, sent=sent,
                        cursor=position, warning=warning)


def _reason(exc: BaseException) -> str:
    """One short line: the root cause of an HTTP client's nested errors, not its whole chain."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "Caused by " in text:
        text = text.split("Caused by ", 1)[1].rstrip(")")
    return text[:200]
