"""How the core tells a shell what is happening; the core itself never prints."""

from __future__ import annotations

from typing import Protocol


class Reporter(Protocol):
    def run_started(self, run_id: str, total: int) -> None: ...

    def asset_started(self, asset: str, count: int) -> None: ...

    def task_finished(self, asset: str, key: str, state: str) -> None: ...

    def run_finished(self, result) -> None: ...


class SilentReporter:
    def run_started(self, run_id: str, total: int) -> None:
        pass

    def asset_started(self, asset: str, count: int) -> None:
        pass

    def task_finished(self, asset: str, key: str, state: str) -> None:
        pass

    def run_finished(self, result) -> None:
        pass
