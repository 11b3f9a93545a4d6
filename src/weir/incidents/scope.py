"""An incident's cause and scope. The **cause** is what the fault came from, read from the
diagnosis made when the incident opened: a library environment (the packages that changed, at
their bad versions), a code version, a configuration, or the data itself. The **scope** is every
partition built under that cause, and everything built from those partitions:

- ``cause``: a build of the cause's asset made under the cause (in an environment with the bad
  package versions, with the bad code or configuration version), whenever it is built;
- ``lineage``: a partition built from a partition in scope (its inputs name it);
- ``trigger``: a partition whose own trigger (an alert, a blocked delivery) joined the incident.

A partition leaves the scope's "bad" list only when it is built again **not** under the cause,
from inputs none of which is still bad, and raises nothing (``fixed``). The incident resolves
itself only when its whole scope is fixed.

No I/O here but through the ``Builds`` the service hands in."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from weir.model.rows import ScopeRecord

KINDS = ("library", "code", "configuration", "data", "delivery", "build")
PROVENANCE = ("library", "code", "configuration")  # causes later builds can be made under


@dataclass(frozen=True, kw_only=True)
class IncidentCause:
    """What an incident's fault came from (stored with the incident as JSON)."""

    kind: str
    asset: str
    summary: str = ""
    packages: Mapping[str, str | None] = field(default_factory=dict)  # library: name -> bad version (None: added)
    good_packages: Mapping[str, str | None] = field(default_factory=dict)  # ... -> the last good build's version
    environment_id: str | None = None
    good_run_id: str | None = None  # the last good build's run (whose environment a rebuild takes)
    code_version: str | None = None  # code, configuration: the bad version
    good_code_version: str | None = None
    configuration_id: str | None = None
    good_configuration_id: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"an incident's cause is one of {', '.join(KINDS)}, not {self.kind!r}")

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "asset": self.asset, "summary": self.summary, "packages": dict(self.packages),
                "good_packages": dict(self.good_packages), "environment_id": self.environment_id,
                "good_run_id": self.good_run_id, "code_version": self.code_version,
                "good_code_version": self.good_code_version, "configuration_id": self.configuration_id,
                "good_configuration_id": self.good_configuration_id}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> IncidentCause | None:
        if not data:
            return None
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def cause_of(diagnosis: Mapping[str, Any] | None, asset: str, *, broken: bool) -> IncidentCause:
    """The cause a diagnosis points at: the library, code or configuration change it found
    between the last good build and the bad one, else the data (a delivery or a build that was
    blocked or failed when ``broken``)."""
    d = diagnosis or {}
    build, good = d.get("build") or {}, d.get("last_good") or {}
    fallback = "delivery" if broken else "data"
    if d.get("packages"):
        changed = d["packages"]
        line = ", ".join(f"{p['package']} {p['from'] or '—'} → {p['to'] or '—'}" for p in changed[:5])
        return IncidentCause(kind="library", asset=asset, summary=f"library change: {line}",
                             packages={p["package"]: p["to"] for p in changed},
                             good_packages={p["package"]: p["from"] for p in changed},
                             environment_id=build.get("environment_id"), good_run_id=good.get("run_id"))
    if d.get("code"):
        return IncidentCause(kind="code", asset=asset, summary=f"{asset}'s code changed ({d['code']['from']} → "
                             f"{d['code']['to']})", code_version=build.get("code_version"),
                             good_code_version=good.get("code_version"), good_run_id=good.get("run_id"))
    shaping = [c["setting"] for c in (d.get("config") or {}).get("changes", []) if c["setting"] != "weir.toml"]
    if shaping:
        config = d["config"]
        return IncidentCause(kind="configuration", asset=asset, summary=f"{asset}'s configuration changed "
                             f"({', '.join(shaping)})", code_version=build.get("code_version"),
                             good_code_version=good.get("code_version"), configuration_id=config.get("to"),
                             good_configuration_id=config.get("from"), good_run_id=good.get("run_id"))
    return IncidentCause(kind=fallback, asset=asset, summary="a delivery or build was blocked or failed" if broken
                         else "the data moved")


@dataclass(frozen=True, kw_only=True)
class Build:
    """One published build, as the scope judges it."""

    asset: str
    key: str
    run_id: str | None
    code_version: str | None
    configuration_id: str | None
    packages: Mapping[str, str] | None  # the run's environment (None: not known)
    inputs: Mapping[str, Mapping[str, Any]]  # upstream -> partition read -> the version read (Delta version, fingerprint)
    version: str | None = None  # the version it published


def under(cause: IncidentCause, build: Build) -> bool:
    """Whether ``build`` was made under ``cause`` (only the cause's own asset can be)."""
    if build.asset != cause.asset or cause.kind not in PROVENANCE:
        return False
    if cause.kind == "library":
        if build.packages is None or not cause.packages:
            return False
        return all(build.packages.get(name) == version for name, version in cause.packages.items())
    if cause.kind == "code":
        return build.code_version is not None and build.code_version == cause.code_version
    if cause.code_version and build.code_version == cause.code_version and cause.good_code_version != cause.code_version:
        return True  # a configuration that shapes the data is hashed into the code version
    return build.configuration_id is not None and build.configuration_id == cause.configuration_id


UNPUBLISHED = "unpublished"  # a blocked or failed partition or delivery: nobody could read it


def bad_version(bad: str | None, read: Any) -> bool:
    """Whether reading version ``read`` of a partition whose bad versions are ``bad`` read bad
    data: ``bad`` None (not known) counts every read; an asset's first bad Delta version counts it
    and every later one; a source's bad delivery fingerprints count themselves."""
    if bad is None:
        return True
    if bad == UNPUBLISHED:
        return False
    if bad.isdigit() and str(read).isdigit():
        return int(str(read)) >= int(bad)
    return str(read) in bad.split()


def reads_bad(build: Build, bad: Mapping[tuple[str, str], str | None]) -> tuple[str, str] | None:
    """The first input partition of ``build`` whose version it read is bad in ``bad`` (partition ->
    its bad versions), if any."""
    for upstream, keys in sorted(build.inputs.items()):
        for key, version in sorted(keys.items()):
            if (upstream, key) in bad and bad_version(bad[(upstream, key)], version):
                return upstream, key
    return None


def runs_of(keys: Iterable[str], ordered: Callable[[], list[str]] | None = None) -> list[tuple[str, str]]:
    """Keys as runs of consecutive partitions ``(first, last)``: consecutive in ``ordered()``
    (the scheme's keys) when given, else each key alone."""
    wanted = sorted(set(keys))
    if not wanted:
        return []
    try:
        grid = ordered() if ordered else []
    except Exception:  # noqa: BLE001 - a scheme that cannot list its keys: one run per key
        grid = []
    place = {k: i for i, k in enumerate(grid)}
    out: list[tuple[str, str]] = []
    for key in wanted:
        if out and key in place and out[-1][1] in place and place[key] == place[out[-1][1]] + 1:
            out[-1] = (out[-1][0], key)
        else:
            out.append((key, key))
    return out


def describe(scope: list[ScopeRecord]) -> str:
    """One line: how many partitions are in scope, how many are still bad, per asset."""
    by: dict[str, list[ScopeRecord]] = {}
    for row in scope:
        by.setdefault(row.asset, []).append(row)
    parts = []
    for asset, rows in sorted(by.items()):
        left = [r for r in rows if r.fixed_run_id is None]
        keys = sorted(r.partition_key for r in rows)
        span = keys[0] if len(keys) == 1 else f"{len(keys)} partitions {keys[0]} … {keys[-1]}"
        parts.append(f"{asset} {span}" + (f" ({len(left)} still bad)" if left and len(rows) > 1 else ""))
    return "; ".join(parts)
