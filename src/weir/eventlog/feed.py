"""Reading the durable event log (``weir events``; consumers that follow it from a cursor)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from weir.events import Event, EventKind
from weir.model.choice import parse_choice

if TYPE_CHECKING:
    from weir.store.store import MetadataStore


class EventFeed:
    def __init__(self, *, store: Callable[[], MetadataStore]) -> None:
        self._store = store

    def newest(self, *, before: int | None = None, kinds: tuple[str, ...] = (), limit: int = 100) -> list[Event]:
        """The ``limit`` newest events of the log (below the id ``before``, if given), oldest
        first: a log is read from its newest end. Raises UsageError for a kind that is not an
        event kind."""
        chosen = tuple(parse_choice(EventKind, k, "an event kind") for k in kinds)
        store = self._store()
        with store.read():
            return store.events.newest(before=before, kinds=chosen, limit=limit)

    def list(self, *, after: int = 0, kinds: tuple[str, ...] = (), limit: int | None = 100) -> list[Event]:
        """Events of the log with an id above ``after``, oldest first. Raises UsageError for a
        kind that is not an event kind."""
        chosen = tuple(parse_choice(EventKind, k, "an event kind") for k in kinds)
        store = self._store()
        with store.read():
            return store.events.after(after, kinds=chosen, limit=limit)
