"""Partition keys as users type them, checked against the scheme of the asset or source they name."""

from __future__ import annotations

import re

from weir.errors import PartitionError
from weir.model.partitions import UNPARTITIONED_KEY, PartitionScheme, TimeScheme
from weir.project.graph import Node, Project


def partition_key(project: Project, name: str, partition: str | None, *, sources: bool = False) -> str:
    """The stored key of ``partition`` of ``name`` (an asset, or with ``sources`` a source too).
    Raises UnknownObjectError for an unknown name, PartitionError for a key that does not fit."""
    node = project.node(name) if sources else project.asset(name)
    if not node.partitions.is_partitioned:
        if partition not in (None, ""):
            raise PartitionError(f"{node.kind} {name!r} is unpartitioned; drop --partition")
        return UNPARTITIONED_KEY
    if partition is None:
        raise PartitionError(f"{node.kind} {name!r} is partitioned ({node.partitions.describe()}); pass --partition KEY")
    return node.partitions.validate_key(partition)


def check_range(project: Project, name: str | None, first: str | None, last: str | None) -> None:
    """Raise PartitionError naming both keys when ``first`` (``--from``) comes after ``last``
    (``--to``) in the scheme of ``name``, or without a name in a scheme of the project's assets
    and sources that takes both keys. Keys that fit no scheme are left to the caller's check."""
    if first is None or last is None or first == last:
        return
    nodes: list[Node] = [project.node(name)] if name else [*project.sources.values(), *project.assets.values()]
    for scheme in {n.partitions.describe(): n.partitions for n in nodes if n.partitions.is_partitioned}.values():
        try:
            a, b = scheme.validate_key(first), scheme.validate_key(last)
        except PartitionError:
            continue
        if _backwards(scheme, a, b):
            raise PartitionError(f"--from {first} comes after --to {last}: the range runs backwards "
                                 f"(use --from {last} --to {first})")


def _backwards(scheme: PartitionScheme, first: str, last: str) -> bool:
    if isinstance(scheme, TimeScheme):
        return scheme.window(first)[0] > scheme.window(last)[0]
    keys = scheme.keys()
    return keys.index(first) > keys.index(last)


def outside_measured(first: str | None, last: str | None, measured: dict[str, tuple[str, str]]) -> str | None:
    """One line saying which part of the range ``first``..``last`` lies outside the partitions
    measured (``measured``: name -> its first and last measured key), or None when none does.
    Only keys of the same shape as a name's measured keys (time keys of one granularity, which
    sort as text) are compared."""
    if first is None and last is None:
        return None
    spans = [(lo, hi) for lo, hi in measured.values()
             if all(k is None or (len(k) == len(lo) and _TIME_KEY.match(k)) for k in (first, last)) and _TIME_KEY.match(lo)]
    if not spans:
        return None
    lo, hi = min(s[0] for s in spans), max(s[1] for s in spans)
    parts = [f"before {lo}" for k in [first] if k is not None and k < lo] + [f"after {hi}" for k in [last] if k is not None and k > hi]
    if not parts:
        return None
    asked = " ".join(f"{o} {k}" for o, k in (("--from", first), ("--to", last)) if k is not None)
    return f"{asked}: the part {' and '.join(parts)} is outside the partitions measured ({lo}..{hi})"


_TIME_KEY = re.compile(r"^\d{4}-\d{2}(-\d{2}(T\d{2}([+-]\d{4})?)?)?$")
