"""Partition keys as users type them, checked against the scheme of the asset or source they name."""

from __future__ import annotations

from weir.errors import PartitionError
from weir.model.partitions import UNPARTITIONED_KEY
from weir.project.graph import Project


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
