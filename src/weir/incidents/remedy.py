"""The fix for an incident's whole scope, as steps: each a command a person can type and that
``weir incidents fix`` can run. The steps follow the cause:

- **library**: rebuild every bad partition of the cause's asset in the environment of the last
  good build, with what depends on them (``weir rebuild A --from F --to L --downstream --env-of RUN``);
- **code, configuration**: revert the change (a person's step: weir will not edit code), then
  rebuild every bad partition with what depends on them;
- **data, delivery**: have the bad deliveries delivered again, check them (``weir ingest``) and
  build what is stale; a bad partition of an asset that reads no bad source is rebuilt.

Anything in scope that those rebuilds do not reach (a partition downstream under another key, a
monthly summary of bad days) is built by a last ``weir run --stale``. No I/O here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from weir.incidents.scope import IncidentCause, runs_of

if TYPE_CHECKING:
    from weir.model.rows import ScopeRecord
    from weir.project.graph import Project

STEP_KINDS = ("revert", "deliver", "ingest", "rebuild", "approve", "run", "pin")
MANUAL = ("revert", "deliver", "pin")  # steps a person does; ``weir incidents fix`` checks what it can and goes on


@dataclass(frozen=True, kw_only=True)
class Step:
    kind: str
    command: str  # what to type, or what to do for a manual step
    asset: str | None = None
    first: str | None = None
    last: str | None = None
    keys: tuple[str, ...] = ()
    downstream: bool = False
    env_of: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in STEP_KINDS:
            raise ValueError(f"a fix step is one of {', '.join(STEP_KINDS)}, not {self.kind!r}")

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "command": self.command, "asset": self.asset, "first": self.first,
                "last": self.last, "keys": list(self.keys), "downstream": self.downstream, "env_of": self.env_of}


def _range(first: str, last: str) -> str:
    return f"--partition {first}" if first == last else f"--from {first} --to {last}"


def remedy(cause: IncidentCause | None, scope: list[ScopeRecord], *, sources: set[str],
           keys_of: Callable[[str], list[str]], code_now: Mapping[str, str | None],
           below: Callable[[str], set[str]] = lambda asset: set(),
           above: Callable[[str], set[str]] = lambda asset: set(),
           where: Callable[[str], str] = lambda asset: "", hold: bool = False) -> list[Step]:
    """The steps that rebuild every bad partition of ``scope`` (rows of ``store.incidents.scope``)
    under a fix for ``cause``. ``keys_of(asset)`` lists an asset's partition keys in order;
    ``code_now`` is each asset's code version today; ``below(asset)`` is what depends on it and
    ``above(asset)`` what it depends on;
    ``where(asset)`` says where it is declared; ``hold``: the project keeps changed versions of
    published partitions for approval (``[run] republish = "hold"``), so a rebuild is approved,
    then what reads it is built."""
    bad = [r for r in scope if r.fixed_run_id is None]
    if not bad:
        return []
    by: dict[str, list[str]] = {}
    for r in bad:
        by.setdefault(r.asset, []).append(r.partition_key)
    steps: list[Step] = []
    covered: set[tuple[str, str]] = set()

    def rebuild(asset: str, env_of: str | None = None) -> None:
        for first, last in runs_of(by.get(asset, []), lambda: keys_of(asset)):
            env = f" --env-of {env_of}" if env_of else ""
            steps.append(Step(kind="rebuild", asset=asset, first=first, last=last, downstream=True, env_of=env_of,
                              command=f"weir rebuild {asset} {_range(first, last)} --downstream{env}"))
            reached = {asset} | below(asset)
            covered.update((r.asset, r.partition_key) for r in bad
                           if r.asset in reached and first <= r.partition_key <= last)

    kind = cause.kind if cause else "data"
    if kind == "library" and cause is not None and cause.asset in by:
        if cause.good_run_id:
            rebuild(cause.asset, cause.good_run_id)
            pins = ", ".join(f"{p}=={v}" for p, v in cause.good_packages.items() if v)
            if pins:  # the rebuild uses the old environment once; the project's own still has the new versions
                steps.append(Step(kind="pin", asset=cause.asset, command=(
                    f"pin {pins} in the project's environment, or every new build of {cause.asset} is bad again")))
        else:
            pins = ", ".join(f"{p}=={v}" for p, v in cause.good_packages.items() if v)
            steps.append(Step(kind="revert", asset=cause.asset, command=f"pin {pins} in the project's environment"))
            rebuild(cause.asset)
    elif kind in ("code", "configuration") and cause is not None and cause.asset in by:
        if cause.code_version and code_now.get(cause.asset) == cause.code_version:
            at = where(cause.asset)
            steps.append(Step(kind="revert", asset=cause.asset, command=(
                f"revert the change to {cause.asset}'s {'code' if kind == 'code' else 'configuration'}"
                + (f" ({at})" if at else "") + f" (to version {cause.good_code_version or 'the last good one'})")))
        rebuild(cause.asset)
    else:
        # the deliveries to have again: bad source partitions, else those the bad partitions were built from
        feeding = {s: set(keys) for s, keys in by.items() if s in sources}
        if not feeding:
            for asset, keys in by.items():
                for source in above(asset) & sources:
                    feeding.setdefault(source, set()).update(keys)
        bad_sources = sorted(feeding)
        for source in bad_sources:
            keys = sorted(feeding[source])
            steps.append(Step(kind="deliver", asset=source, keys=tuple(keys), command=(
                f"have {source} {', '.join(keys[:5])}{' …' if len(keys) > 5 else ''} delivered again")))
            steps.append(Step(kind="ingest", asset=source, keys=tuple(keys),
                              command=f"weir ingest {source} " + " ".join(f"--partition {k}" for k in keys)))
            covered.update((source, k) for k in keys)
        if bad_sources:
            steps.append(Step(kind="run", command="weir run --stale"))
            covered.update((r.asset, r.partition_key) for r in bad)
        else:
            top = [a for a in sorted(by) if a not in sources and not any(r.via == "lineage" for r in bad
                                                                          if r.asset == a)]
            for asset in top or sorted(by)[:1]:
                rebuild(asset)
    if hold:  # the rebuilt versions wait for approval; what reads them is built once they are published
        for rebuilt in [s for s in steps if s.kind == "rebuild"]:
            name, first, last = rebuilt.asset or "", rebuilt.first or "", rebuilt.last or ""
            held = tuple(sorted(k for k in by.get(name, []) if first <= k <= last))
            steps.append(Step(kind="approve", asset=name, keys=held, command=(
                f"weir approve {name} " + " ".join(f"--partition {k}" for k in held))))
        if any(s.kind == "approve" for s in steps) and not any(s.kind == "run" for s in steps):
            steps.append(Step(kind="run", command="weir run --stale"))
    if any((r.asset, r.partition_key) not in covered for r in bad) and not any(s.kind == "run" for s in steps):
        steps.append(Step(kind="run", command="weir run --stale"))
    return steps


def remedy_for(project: Project, cause: IncidentCause | None, scope: list[ScopeRecord]) -> list[Step]:
    """``remedy`` with what ``project`` knows: its sources, grids, code versions and lineage."""
    def keys_of(asset: str) -> list[str]:
        scheme = project.node(asset).partitions
        return list(scheme.keys()) if scheme.is_partitioned else []

    def closure(asset: str, upstream: bool) -> set[str]:
        try:
            return set(project.closure([asset], upstream=upstream)) - {asset}
        except Exception:  # noqa: BLE001 - an asset no longer in the project
            return set()

    def where(asset: str) -> str:
        from weir.incidents.diagnosis import declared_at

        try:
            return declared_at(project, project.node(asset))
        except Exception:  # noqa: BLE001 - an asset no longer in the project
            return ""

    code_now = {name: getattr(a, "code_version", None) for name, a in project.assets.items()}
    return remedy(cause, scope, sources=set(project.sources), keys_of=keys_of, code_now=code_now,
                  below=lambda a: closure(a, False), above=lambda a: closure(a, True), where=where,
                  hold=project.config.run.republish == "hold")
