"""Open blocks: partitions whose newest build was blocked by its checks, and landed source
deliveries blocked on arrival. Built again from the same inputs, code and checks they would be
blocked again, so ``--stale`` leaves them until one of those changes; they stay reported."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from weir.engine.inputs import ResolvedInputs
from weir.model.definitions import Asset
from weir.model.records import iso

ASSET, SOURCE = "asset", "source"


def checks_version(asset: Asset) -> str:
    """Hash of what judges a staged partition: the asset's checks and its schema policy."""
    digest = hashlib.sha256(repr((asset.checks, asset.schema)).encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True, kw_only=True)
class Block:
    """One open block: an asset partition (``kind`` asset) or a source delivery (``kind`` source)."""

    kind: str
    name: str
    key: str
    since: float | None  # when it was blocked
    run_id: str | None
    message: str
    code_version: str | None = None  # asset: what built it, read what, judged by which checks
    input_versions: Mapping[str, Any] | None = None
    checks_version: str | None = None
    fingerprint: str | None = None  # source: the files judged

    def __post_init__(self) -> None:
        if self.kind not in (ASSET, SOURCE):
            raise ValueError(f"a block is of an asset or a source, not {self.kind!r}")

    def to_json(self) -> dict[str, Any]:
        """The documented form (``still_blocked`` in ``weir run --json``)."""
        return {"kind": self.kind, "name": self.name, "partition": self.key, "since": iso(self.since),
                "run_id": self.run_id, "message": self.message}


@dataclass(frozen=True, kw_only=True)
class OpenBlocks:
    """The open blocks of one project, by (asset or source, key)."""

    partitions: Mapping[tuple[str, str], Block] = field(default_factory=dict)
    deliveries: Mapping[tuple[str, str], Block] = field(default_factory=dict)

    @classmethod
    def of(cls, tasks: Iterable[dict], sources: Iterable[dict]) -> OpenBlocks:
        """From the store: ``tasks`` the newest builds that were blocked (``Runs.blocked``) and
        ``sources`` the source partitions whose decision is blocked."""
        partitions = {
            (t["asset"], t["partition_key"]): Block(
                kind=ASSET, name=t["asset"], key=t["partition_key"], since=t["finished_at"], run_id=t["run_id"],
                message=t["reason"] or "", code_version=t["code_version"], input_versions=t["input_versions"],
                checks_version=t["checks"],
            )
            for t in tasks
        }
        deliveries = {
            (s["source"], s["partition_key"]): Block(
                kind=SOURCE, name=s["source"], key=s["partition_key"], since=s["checked_at"], run_id=s["run_id"],
                message=s["message"] or "", fingerprint=s["fingerprint"],
            )
            for s in sources if s["state"] == "blocked"
        }
        return cls(partitions=partitions, deliveries=deliveries)

    def holding(self, asset: Asset, key: str, resolved: ResolvedInputs, code_versions: set[str], *,
                upstream_rebuilt: bool = False) -> list[Block]:
        """Why building ``key`` of ``asset`` now would change nothing: the source deliveries it
        reads that are blocked and unchanged since, or else its own block when its code, checks
        and inputs are those it was blocked with (and no upstream partition it reads is being
        rebuilt). Empty when it may be built."""
        held = [
            b for up, parts in resolved.versions.items() for uk, version in parts.items()
            if (b := self.deliveries.get((up, uk))) is not None and b.fingerprint == version
        ]
        if held:
            return held
        own = self.partitions.get((asset.name, key))
        if own is None or upstream_rebuilt or own.code_version not in code_versions:
            return []
        same_inputs = normalized(own.input_versions) == normalized(resolved.versions)
        return [own] if same_inputs and own.checks_version == checks_version(asset) else []


def normalized(versions: Mapping[str, Mapping[str, Any]] | None) -> dict:
    """Input versions in one order, without upstreams nothing was read from: equal when the same."""
    if not versions:
        return {}
    return {up: dict(sorted(parts.items())) for up, parts in sorted(versions.items()) if parts}
