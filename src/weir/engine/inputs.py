"""Resolve what one asset partition reads: upstream keys and their versions right now."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path

from weir.model.definitions import Asset, Input, Source
from weir.project.graph import Project
from weir.storage.sources import fingerprint, source_files


@dataclass(frozen=True, kw_only=True)
class ResolvedInputs:
    """Per upstream, the version of each partition read; ``missing`` says what is not there yet."""

    versions: dict[str, dict[str, object]]
    keys: dict[str, list[str]]  # per parameter
    missing: list[tuple[str, str, str]]  # (kind, upstream, key)

    def describe_missing(self, skip: AbstractSet[tuple[str, str]] = frozenset(),
                         blocked: AbstractSet[tuple[str, str]] = frozenset()) -> str | None:
        """One line about what is absent, ignoring (upstream, key) pairs in ``skip`` and saying
        so of those in ``blocked`` (not built because blocked); None if nothing."""
        absent = [m for m in self.missing if (m[1], m[2]) not in skip]
        if not absent:
            return None
        absent.sort(key=lambda m: (m[1], m[2]) not in blocked)  # a block is the likelier news
        kind, name, key = absent[0]
        same = [m for m in absent if m[1] == name]
        what = "has not arrived" if kind == "source" else "is blocked" if (name, key) in blocked else "is not built"
        more = f" (+{len(same) - 1} more)" if len(same) > 1 else ""
        part = f"partition {key!r}{more}" if key else "data"
        return f"{kind} {name!r} {part} {what}"


class InputResolver:
    """Maps partitions through each input's mapping and looks up versions.

    ``current`` is ``{(asset, key): {"version": int, ...}}`` for published asset partitions; the
    runner updates it as it publishes. Source files are looked up once per partition."""

    def __init__(self, project: Project, current: dict[tuple[str, str], dict]) -> None:
        self.project = project
        self.current = current
        self._source_cache: dict[tuple[str, str], list[str]] = {}
        self._key_cache: dict[tuple[str, str, str], list[str]] = {}

    def upstream_keys(self, asset: Asset, param: str, inp: Input, key: str) -> list[str]:
        cache_key = (asset.name, param, key)
        keys = self._key_cache.get(cache_key)
        if keys is None:
            up = self.project.node(inp.upstream)
            keys = inp.mapping.upstream_keys(asset.partitions, up.partitions, key)
            self._key_cache[cache_key] = keys
        return keys

    def source_files(self, source: Source, key: str) -> list[str]:
        found = self._source_cache.get((source.name, key))
        if found is None:
            found = source_files(source, Path(self.project.root), key)
            self._source_cache[(source.name, key)] = found
        return found

    def forget_sources(self) -> None:
        self._source_cache.clear()

    def resolve(self, asset: Asset, key: str) -> ResolvedInputs:
        versions: dict[str, dict[str, object]] = {}
        keys: dict[str, list[str]] = {}
        missing: list[tuple[str, str, str]] = []
        for param, inp in asset.inputs.items():
            up = self.project.node(inp.upstream)
            ukeys = self.upstream_keys(asset, param, inp, key)
            keys[param] = ukeys
            seen = versions.setdefault(inp.upstream, {})
            for uk in ukeys:
                if isinstance(up, Source):
                    files = self.source_files(up, uk)
                    if files:
                        seen[uk] = fingerprint(files)
                    else:
                        missing.append(("source", up.name, uk))
                else:
                    row = self.current.get((up.name, uk))
                    if row is None:
                        missing.append(("asset", up.name, uk))
                    else:
                        seen[uk] = row["version"]
        return ResolvedInputs(versions=versions, keys=keys, missing=missing)
