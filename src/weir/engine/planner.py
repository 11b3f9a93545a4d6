"""The planner: which asset partitions to build, and why."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from weir.engine.blocked import Block, OpenBlocks, normalized
from weir.engine.inputs import InputResolver
from weir.errors import PartitionError
from weir.model.definitions import Asset
from weir.model.partitions import PartitionScheme, TimeScheme
from weir.project.graph import Project

REASONS = ("requested", "missing", "code changed", "upstream changed", "upstream rebuilt")


@dataclass(frozen=True, kw_only=True)
class PartitionSelection:
    """What the user asked for: one key, a range, or everything."""

    first: str | None = None
    last: str | None = None

    @property
    def everything(self) -> bool:
        return self.first is None

    def check_order(self, scheme: PartitionScheme) -> None:
        """Raise PartitionError when the range runs backwards in ``scheme``'s key order."""
        if self.first is None or self.first == self.last or not scheme.is_partitioned:
            return
        assert self.last is not None
        if isinstance(scheme, TimeScheme):
            backwards = runs_backwards(self.first, self.last)
        else:
            keys = scheme.keys()
            backwards = self.first in keys and self.last in keys and keys.index(self.first) > keys.index(self.last)
        if backwards:
            raise PartitionError(reversed_range(self.first, self.last))

    def keys_for(self, scheme: PartitionScheme) -> list[str] | None:
        """Keys of ``scheme`` the selection covers; None when the key is not of this scheme's kind."""
        if self.first is None or not scheme.is_partitioned:
            return scheme.keys()
        assert self.last is not None
        try:
            return scheme.key_range(self.first, self.last)
        except PartitionError:
            if not isinstance(scheme, TimeScheme):
                return None
        window = _window(self.first, self.last, scheme)
        if window is None:
            return None
        start, end = window
        return [k for k in scheme.keys() if scheme.window(k)[1] > start and scheme.window(k)[0] < end]


_TIME_KEY = re.compile(r"^\d{4}-\d{2}(-\d{2}(T\d{2}([+-]\d{4})?)?)?$")


def time_shaped(key: str) -> bool:
    """Whether ``key`` looks like a time key (month, day or hour): such keys sort in time order."""
    return bool(_TIME_KEY.match(key))


def runs_backwards(first: str, last: str) -> bool:
    """Whether time keys ``first``..``last`` run backwards (keys of any granularity: a month
    holding a day is no reversal)."""
    coarser_holds_it = len(last[:13]) < len(first[:13]) and first.startswith(last)
    return time_shaped(first) and time_shaped(last) and first > last and not coarser_holds_it


def reversed_range(first: str, last: str) -> str:
    return f"range {first!r}..{last!r} runs backwards: {first!r} comes after {last!r} (use --from {last} --to {first})"


def _window(first: str, last: str, like: TimeScheme) -> tuple[datetime, datetime] | None:
    from weir.model.partitions import daily, hourly, monthly

    for maker in (daily, hourly, monthly):
        try:
            s = maker(start=first, end=last, tz=like.tz)
            s.validate_key(first)
            s.validate_key(last)
        except Exception:  # noqa: BLE001, S112 - keys this scheme cannot read: try the next one
            continue
        return s.window(first)[0], s.window(last)[1]
    return None


@dataclass(frozen=True, kw_only=True)
class PlannedTask:
    asset: str
    key: str
    reason: str


class Causes(Protocol):
    """Why a new version of a published partition would be judged against it (``engine.republish``)."""

    def prime(self, published: Iterable[tuple[Asset, Mapping[str, Any]]]) -> None: ...

    def of(self, asset: Asset, row: Mapping[str, Any] | None) -> str | None: ...


@dataclass(frozen=True, kw_only=True)
class Replacement:
    """Published partitions of one asset that a plan would replace under changed code (``cause``
    ``code``) or configuration (``configuration``): the code versions they have, and the new one."""

    asset: str
    cause: str
    partitions: tuple[str, ...]
    from_code_versions: Mapping[str, int]
    to_code_version: str

    @property
    def from_code_version(self) -> str:
        return max(self.from_code_versions.items(), key=lambda kv: (kv[1], kv[0]))[0]

    def describe(self) -> str:
        n = len(self.partitions)
        what = f"{n:,} published partition{'' if n == 1 else 's'} would be replaced"
        if self.cause == "code":
            was = ", ".join(self.from_code_versions) if len(self.from_code_versions) <= 3 else \
                f"{self.from_code_version} and {len(self.from_code_versions) - 1} others"
            return f"{what} by code version {self.to_code_version} (was {was})"
        return f"{what} under a changed configuration (checks, monitors, metrics or schema; code version {self.to_code_version})"

    def to_json(self) -> dict[str, Any]:
        return {"asset": self.asset, "cause": self.cause, "count": len(self.partitions),
                "partitions": list(self.partitions), "from_code_version": self.from_code_version,
                "from_code_versions": dict(self.from_code_versions), "to_code_version": self.to_code_version}


@dataclass(frozen=True, kw_only=True)
class Plan:
    tasks: list[PlannedTask]
    waiting: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # asset -> [(key, why)]
    up_to_date: dict[str, int] = field(default_factory=dict)
    # open blocks a stale plan leaves out, each once: nothing that decided them changed since
    still_blocked: list[Block] = field(default_factory=list)
    # published partitions the tasks would replace under changed code or configuration, per asset
    replaces: list[Replacement] = field(default_factory=list)
    # partitions a stale plan leaves out because a version held for approval is up to date
    held: dict[str, int] = field(default_factory=dict)

    def by_asset(self) -> dict[str, list[PlannedTask]]:
        out: dict[str, list[PlannedTask]] = {}
        for t in self.tasks:
            out.setdefault(t.asset, []).append(t)
        return out


def make_plan(
    project: Project,
    resolver: InputResolver,
    *,
    assets: list[str] | None,
    selection: PartitionSelection,
    stale: bool,
    blocks: OpenBlocks | None = None,
    causes: Causes | None = None,
    held: Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
) -> Plan:
    """Tasks in build order. Without ``stale`` every selected partition is built; with it only
    those missing, built by other code, or whose inputs changed since (and what that ripples to),
    except those ``blocks`` hold: blocked by checks with the same code, checks and inputs, or
    reading a blocked source delivery that did not change (``Plan.still_blocked`` names them),
    and those with a version ``held`` for approval built by this code from these inputs
    (``Plan.held`` counts them). With ``causes``, ``Plan.replaces`` names the published
    partitions the tasks would replace under changed code or configuration.

    A selection of partitions must name keys of at least one selected partitioned asset, in
    order: else PartitionError naming the keys and the assets' ranges. A model is planned by a
    selection of partitions only when it is named, or when its own partitions are selected:
    retraining is never the side effect of building some days."""
    named = {project.asset(a).name for a in assets or ()}
    names = list(named) if assets else [n for n in project.order if n in project.assets]
    names = [n for n in project.order if n in set(names)]
    if not selection.everything:
        for n in names:
            selection.check_order(project.assets[n].partitions)
        names = [n for n in names if n in named or project.assets[n].model is None or project.assets[n].partitions.is_partitioned]
    current = resolver.current
    tasks: list[PlannedTask] = []
    waiting: dict[str, list[tuple[str, str]]] = {}
    up_to_date: dict[str, int] = {}
    still_blocked: dict[tuple[str, str, str], Block] = {}
    held_up_to_date: dict[str, int] = {}
    held = held or {}
    blocks = blocks or OpenBlocks()
    blocked: set[tuple[str, str]] = set(blocks.partitions)  # and the held ones: what reads them waits
    planned: set[tuple[str, str]] = set()
    matched_any = False
    for name in names:
        asset = project.assets[name]
        keys = selection.keys_for(asset.partitions)
        if not keys:
            continue
        matched_any = matched_any or asset.partitions.is_partitioned or selection.everything
        code = asset.code_version
        current_codes = {code, asset.legacy_code_version}  # built before ranges left the code version: current
        for key in keys:
            resolved = resolver.resolve(asset, key)
            rebuilt_upstream = any(
                (inp.upstream, uk) in planned
                for param, inp in asset.inputs.items()
                for uk in resolved.keys.get(param, [])
            )
            row = current.get((name, key))
            if stale:
                if row is None:
                    reason = "missing"
                elif row["code_version"] not in current_codes:
                    reason = "code changed"
                elif rebuilt_upstream:
                    reason = "upstream rebuilt"
                elif normalized(row.get("input_versions")) != normalized(resolved.versions):
                    reason = "upstream changed"
                else:
                    up_to_date[name] = up_to_date.get(name, 0) + 1
                    continue
                holding = blocks.holding(asset, key, resolved, current_codes, upstream_rebuilt=rebuilt_upstream)
                if holding:
                    for b in holding:
                        still_blocked.setdefault((b.kind, b.name, b.key), b)
                    blocked.add((name, key))
                    continue
                kept = held.get((name, key))
                if (kept is not None and not rebuilt_upstream and kept["code_version"] in current_codes
                        and normalized(kept.get("input_versions")) == normalized(resolved.versions)):
                    held_up_to_date[name] = held_up_to_date.get(name, 0) + 1
                    continue
            else:
                reason = "requested"
            absent = resolved.describe_missing(planned, blocked=blocked)
            if absent:
                waiting.setdefault(name, []).append((key, absent))
                continue
            tasks.append(PlannedTask(asset=name, key=key, reason=reason))
            planned.add((name, key))
    if not matched_any and not selection.everything:
        partitioned = [n for n in names if project.assets[n].partitions.is_partitioned]
        for n in partitioned:
            try:
                project.assets[n].partitions.validate_key(selection.first or "")
            except PartitionError as exc:
                if "is not a" in exc.message:
                    raise
        what = repr(selection.first) if selection.first == selection.last else f"range {selection.first!r}..{selection.last!r}"
        if not partitioned:
            raise PartitionError(f"partition {what} was given, but the selected assets are unpartitioned")
        schemes = sorted({project.assets[n].partitions.describe() for n in partitioned})
        raise PartitionError(f"partition {what} is in none of the selected assets' partitions ({'; '.join(schemes)})")
    return Plan(tasks=tasks, waiting=waiting, up_to_date=up_to_date, still_blocked=list(still_blocked.values()),
                replaces=replacements(project, tasks, current, causes) if causes is not None else [],
                held=held_up_to_date)


def replacements(project: Project, tasks: list[PlannedTask], current: Mapping[tuple[str, str], Mapping[str, Any]],
                 causes: Causes) -> list[Replacement]:
    """Per asset, the published partitions ``tasks`` would replace under changed code or configuration."""
    causes.prime([(project.assets[t.asset], current[(t.asset, t.key)]) for t in tasks if (t.asset, t.key) in current])
    found: dict[tuple[str, str], list[str]] = {}
    versions: dict[tuple[str, str], Counter[str]] = {}
    for t in tasks:
        row = current.get((t.asset, t.key))
        cause = causes.of(project.assets[t.asset], row)
        if row is None or cause is None:
            continue
        found.setdefault((t.asset, cause), []).append(t.key)
        versions.setdefault((t.asset, cause), Counter())[row["code_version"]] += 1
    return [Replacement(asset=asset, cause=cause, partitions=tuple(keys), from_code_versions=dict(versions[(asset, cause)]),
                        to_code_version=project.assets[asset].code_version)
            for (asset, cause), keys in found.items()]
