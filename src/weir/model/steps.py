"""What a scenario does, step by step: ingest landed files, build (what is stale, or a
selection), retrain a model, re-run checks, rebuild partitions, diagnose the open incidents,
call a Python function, or wait for partitions until a deadline. Values, validated on construction; no I/O.

A step that fails stops the scenario unless it says ``continue_on_failure``. A step is
``resumable`` when doing it again after a daemon died in the middle of it cannot do its work
twice: ingesting keeps the decision on files already judged, a stale build builds only what
is still stale; a build of a selection, a retrain, a rebuild and a Python function are not,
unless a function says so."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

from weir.errors import ConfigError


def _names(value: Iterable[str] | str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


@dataclass(frozen=True, kw_only=True)
class Ingest:
    """Check landed partitions of ``sources`` (none named: the sources a landing trigger saw,
    else every source). With a landing, only the partitions that landed."""

    kind: ClassVar[str] = "ingest"
    sources: tuple[str, ...] = ()
    continue_on_failure: bool = False
    where: str = ""
    resumable: ClassVar[bool] = True

    def describe(self) -> str:
        return f"ingest {', '.join(self.sources) or 'what landed'}"


@dataclass(frozen=True, kw_only=True)
class Build:
    """Build ``assets`` (none: every asset): what is stale, or with ``stale=False`` the
    partitions selected (``partition``, or ``first``..``last``)."""

    kind: ClassVar[str] = "build"
    assets: tuple[str, ...] = ()
    stale: bool = True
    partition: str | None = None
    first: str | None = None
    last: str | None = None
    continue_on_failure: bool = False
    where: str = ""

    def __post_init__(self) -> None:
        if self.partition and (self.first or self.last):
            raise ConfigError("build step: use either partition or first/last, not both", where=self.where or None)
        if bool(self.first) != bool(self.last):
            raise ConfigError("build step: first and last go together", where=self.where or None)

    @property
    def resumable(self) -> bool:
        return self.stale

    def describe(self) -> str:
        what = ", ".join(self.assets) or "every asset"
        keys = self.partition or (f"{self.first}..{self.last}" if self.first else "")
        return f"build {'stale ' if self.stale else ''}{what}{' ' + keys if keys else ''}"


@dataclass(frozen=True, kw_only=True)
class Retrain:
    """Train ``model`` (a ``weir.model`` asset) again, whatever its state, then with
    ``downstream`` build what is stale below it (its predictions, their quality)."""

    kind: ClassVar[str] = "retrain"
    model: str
    downstream: bool = True
    continue_on_failure: bool = False
    where: str = ""
    resumable: ClassVar[bool] = False  # done again, it would train again

    def describe(self) -> str:
        return f"retrain {self.model}{' and build what depends on it' if self.downstream else ''}"


@dataclass(frozen=True, kw_only=True)
class Check:
    """Run the checks of ``asset`` again on its published ``partition`` (default: its newest)."""

    kind: ClassVar[str] = "check"
    asset: str
    partition: str | None = None
    continue_on_failure: bool = False
    where: str = ""
    resumable: ClassVar[bool] = True

    def describe(self) -> str:
        return f"check {self.asset}{' ' + self.partition if self.partition else ''}"


@dataclass(frozen=True, kw_only=True)
class Rebuild:
    """Build partitions of ``asset`` again (and with ``downstream`` what depends on them), in
    this environment or that of run ``env_of``."""

    kind: ClassVar[str] = "rebuild"
    asset: str
    partition: str | None = None
    first: str | None = None
    last: str | None = None
    downstream: bool = False
    env_of: str | None = None
    continue_on_failure: bool = False
    where: str = ""
    resumable: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if not (self.partition or (self.first and self.last)):
            raise ConfigError("rebuild step: say which partitions: partition, or first and last",
                              where=self.where or None)

    def describe(self) -> str:
        keys = self.partition or f"{self.first}..{self.last}"
        return f"rebuild {self.asset} {keys}{' and downstream' if self.downstream else ''}"


@dataclass(frozen=True, kw_only=True)
class Diagnose:
    """Bring incidents up to date with the log, and diagnose those opened, reopened or grown
    (a new trigger joined) during the tick."""

    kind: ClassVar[str] = "diagnose"
    continue_on_failure: bool = False
    where: str = ""
    resumable: ClassVar[bool] = True

    def describe(self) -> str:
        return "diagnose incidents"


@dataclass(frozen=True, kw_only=True)
class Call:
    """Call ``function(context)``: the context has ``workspace``, ``scenario``, ``tick`` (its
    id, what fired it) and ``log(text)``. Raising fails the step; the return value, if it is
    JSON-like, is kept with the step."""

    kind: ClassVar[str] = "call"
    function: Callable[..., Any]
    name: str = ""
    resumable: bool = False
    continue_on_failure: bool = False
    where: str = ""

    def __post_init__(self) -> None:
        if not callable(self.function):
            raise ConfigError(f"call step: {self.function!r} is not callable", where=self.where or None)
        if not self.name:
            object.__setattr__(self, "name", getattr(self.function, "__qualname__", None) or repr(self.function))

    def describe(self) -> str:
        return f"call {self.name}"


@dataclass(frozen=True, kw_only=True)
class Wait:
    """Wait until ``partition`` of ``name`` (a source: landed; an asset: published) is there,
    at most ``deadline`` after the step first waited. ``partition`` may hold a strftime
    template of the tick's scheduled time in the trigger's time zone, e.g. ``{scheduled:%Y-%m-%d}``."""

    kind: ClassVar[str] = "wait"
    name: str
    partition: str | None = None
    deadline: float = 3600.0
    continue_on_failure: bool = False
    where: str = ""
    resumable: ClassVar[bool] = True

    def describe(self) -> str:
        return f"wait for {self.name}{' ' + self.partition if self.partition else ''}"


Step = Ingest | Build | Retrain | Check | Rebuild | Diagnose | Call | Wait


def ingest(*sources: str, continue_on_failure: bool = False, where: str = "") -> Ingest:
    return Ingest(sources=_names(sources), continue_on_failure=continue_on_failure, where=where)


def build(*assets: str, stale: bool | None = None, partition: str | None = None, first: str | None = None,
          last: str | None = None, continue_on_failure: bool = False, where: str = "") -> Build:
    """Build what is stale (the default), or with ``partition`` or ``first``/``last`` those
    partitions whatever their state (``stale=True`` too: only the stale ones among them)."""
    if stale is None:
        stale = not (partition or first or last)
    return Build(assets=_names(assets), stale=bool(stale), partition=partition, first=first, last=last,
                 continue_on_failure=continue_on_failure, where=where)


def retrain(model: str, *, downstream: bool = True, continue_on_failure: bool = False, where: str = "") -> Retrain:
    return Retrain(model=model, downstream=downstream, continue_on_failure=continue_on_failure, where=where)


def check(asset: str, *, partition: str | None = None, continue_on_failure: bool = False, where: str = "") -> Check:
    return Check(asset=asset, partition=partition, continue_on_failure=continue_on_failure, where=where)


def rebuild(asset: str, *, partition: str | None = None, first: str | None = None, last: str | None = None,
            downstream: bool = False, env_of: str | None = None, continue_on_failure: bool = False,
            where: str = "") -> Rebuild:
    return Rebuild(asset=asset, partition=partition, first=first, last=last, downstream=downstream, env_of=env_of,
                   continue_on_failure=continue_on_failure, where=where)


def diagnose(*, continue_on_failure: bool = False, where: str = "") -> Diagnose:
    return Diagnose(continue_on_failure=continue_on_failure, where=where)


def call(function: Callable[..., Any], *, name: str = "", resumable: bool = False, continue_on_failure: bool = False,
         where: str = "") -> Call:
    return Call(function=function, name=name, resumable=resumable, continue_on_failure=continue_on_failure, where=where)


def wait(name: str, *, partition: str | None = None, deadline: float | str | timedelta = 3600.0,
         continue_on_failure: bool = False, where: str = "") -> Wait:
    from weir.model.checks import parse_duration

    try:
        seconds = float(deadline) if isinstance(deadline, (int, float)) and not isinstance(deadline, bool) \
            else parse_duration(deadline).total_seconds()  # type: ignore[arg-type]
    except (ConfigError, TypeError, ValueError):
        seconds = -1.0
    if seconds <= 0:
        raise ConfigError(f"wait step: deadline={deadline!r} must be a duration like 30m or 2h", where=where or None)
    return Wait(name=name, partition=partition, deadline=seconds, continue_on_failure=continue_on_failure, where=where)


CONSTRUCTORS = {"ingest": ingest, "build": build, "retrain": retrain, "check": check, "rebuild": rebuild, "diagnose": diagnose,
                "call": call, "wait": wait}

__all__ = ["CONSTRUCTORS", "Build", "Call", "Check", "Diagnose", "Ingest", "Rebuild", "Retrain", "Step", "Wait", "build",
           "call", "check", "diagnose", "ingest", "rebuild", "retrain", "wait"]
