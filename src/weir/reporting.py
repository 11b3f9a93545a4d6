"""How the core tells a shell what is happening; the core itself never prints.

A reporter is an event sink: the run subscribes it to the store's bus for its duration, so
partition outcomes (published, blocked, failed, upstream failed) reach it as the committed
events everyone else sees. The calls below carry only what has no event: the run's size when
it starts, which asset is being opened, partitions skipped because an input is absent, and the
final result."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from weir.events import Event


class RunOutcome(Protocol):
    """What a reporter reads of a finished run (the engine's ``RunResult``)."""

    @property
    def run_id(self) -> str: ...

    @property
    def state(self) -> str: ...

    @property
    def counts(self) -> Mapping[str, int]: ...


class Reporter(Protocol):
    def run_started(self, run_id: str, total: int) -> None: ...

    def asset_started(self, asset: str, count: int) -> None: ...

    def partition_skipped(self, asset: str, key: str, reason: str) -> None: ...

    def receive(self, events: Sequence[Event]) -> None: ...

    def run_finished(self, result: RunOutcome) -> None: ...


class SilentReporter:
    def run_started(self, run_id: str, total: int) -> None:
        pass

    def asset_started(self, asset: str, count: int) -> None:
        pass

    def partition_skipped(self, asset: str, key: str, reason: str) -> None:
        pass

    def receive(self, events: Sequence[Event]) -> None:
        pass

    def run_finished(self, result: RunOutcome) -> None:
        pass
