"""Scenarios: automation a daemon runs without anyone typing a command. Triggers (when) ->
steps (what, in order) -> reporters (who hears how it went). Values; no I/O here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from weir.errors import ConfigError
from weir.model.definitions import Location, check_name
from weir.model.steps import Build, Call, Check, Diagnose, Ingest, Rebuild, Retrain, Step, Wait
from weir.model.triggers import Cron, IncidentChange, Landed, Manual, Published, Trigger

REPORT_CONDITIONS = ("failed", "succeeded", "incident_opened")
_TRIGGERS = (Cron, Landed, Published, IncidentChange, Manual)
_STEPS = (Ingest, Build, Retrain, Check, Rebuild, Diagnose, Call, Wait)


@dataclass(frozen=True, kw_only=True)
class Reporter:
    """Tell alert route ``route`` (``[alerts.routes.NAME]`` in weir.toml) when a tick ends in
    one of ``on``: ``failed``, ``succeeded``, ``incident_opened`` (the tick's work opened or
    reopened an incident; one it only grew is named in the report, but does not call for one)."""

    route: str
    on: tuple[str, ...] = ("failed",)
    where: str = ""

    def __post_init__(self) -> None:
        on = (self.on,) if isinstance(self.on, str) else tuple(self.on)
        bad = [c for c in on if c not in REPORT_CONDITIONS]
        if bad or not on:
            raise ConfigError(f"reporter {self.route!r}: condition {bad[0] if bad else 'none'!r} is not one of "
                              f"{', '.join(REPORT_CONDITIONS)}", where=self.where or None)
        object.__setattr__(self, "on", on)


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """A named automation of one project."""

    name: str
    triggers: tuple[Trigger, ...] = ()
    steps: tuple[Step, ...] = ()
    reporters: tuple[Reporter, ...] = ()
    enabled: bool = True
    description: str = ""
    project: str = ""
    location: Location = field(default_factory=Location)

    kind = "scenario"

    def __post_init__(self) -> None:
        where = str(self.location)
        check_name(self.name, "scenario", where)
        for t in self.triggers:
            if not isinstance(t, _TRIGGERS):
                raise ConfigError(f"scenario {self.name!r}: {t!r} is not a trigger (weir.triggers.cron, landed, "
                                  "published, incident, manual)", where=where)
        if not self.steps:
            raise ConfigError(f"scenario {self.name!r} has no steps", where=where)
        for s in self.steps:
            if not isinstance(s, _STEPS):
                raise ConfigError(f"scenario {self.name!r}: {s!r} is not a step (weir.steps.ingest, build, retrain, "
                                  "check, rebuild, diagnose, call, wait)", where=where)
        for r in self.reporters:
            if not isinstance(r, Reporter):
                raise ConfigError(f"scenario {self.name!r}: {r!r} is not a reporter (weir.reporter(ROUTE, on=...))",
                                  where=where)
        if not isinstance(self.enabled, bool):
            raise ConfigError(f"scenario {self.name!r}: enabled must be true or false", where=where)

    def trigger_ids(self) -> list[str]:
        return [t.id for t in self.triggers]


def reporter(route: str, *, on: Iterable[str] | str = ("failed",), where: str = "") -> Reporter:
    return Reporter(route=route, on=(on,) if isinstance(on, str) else tuple(on), where=where)


__all__ = ["REPORT_CONDITIONS", "Reporter", "Scenario", "reporter"]
