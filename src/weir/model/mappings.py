"""Partition mappings: which upstream partitions one downstream partition reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar

from weir.model.partitions import (
    UNPARTITIONED_KEY,
    PartitionScheme,
    Static,
    TimeScheme,
)

_GRAIN = {"hourly": 1, "daily": 2, "monthly": 3}


@dataclass(frozen=True, kw_only=True)
class PartitionMapping:
    """Base: ``upstream_keys`` maps one downstream key to the upstream keys it reads."""

    kind: ClassVar[str] = "base"

    def problem(self, down: PartitionScheme, up: PartitionScheme) -> str | None:
        """Why this mapping cannot work between the two schemes, or None."""
        return None

    def upstream_keys(self, down: PartitionScheme, up: PartitionScheme, key: str) -> list[str]:
        raise NotImplementedError

    def describe(self) -> str:
        return self.kind


@dataclass(frozen=True, kw_only=True)
class Auto(PartitionMapping):
    """The natural mapping: identity on equal schemes, every finer partition inside a coarser
    one (monthly from daily), the coarser partition holding a finer one (daily from monthly),
    everything from or into an unpartitioned asset."""

    kind: ClassVar[str] = "auto"

    def problem(self, down: PartitionScheme, up: PartitionScheme) -> str | None:
        if not up.is_partitioned or not down.is_partitioned:
            return None
        if isinstance(up, Static) or isinstance(down, Static):
            if isinstance(up, Static) and isinstance(down, Static):
                missing = set(down.values) - set(up.values)
                return f"static keys {sorted(missing)} have no upstream partition" if missing else None
            return f"cannot map {up.describe()} onto {down.describe()}"
        return None

    def upstream_keys(self, down: PartitionScheme, up: PartitionScheme, key: str) -> list[str]:
        if not up.is_partitioned:
            return [UNPARTITIONED_KEY]
        if not down.is_partitioned:
            return up.keys()
        if isinstance(up, Static):
            return [key]
        assert isinstance(up, TimeScheme) and isinstance(down, TimeScheme)
        start, end = down.window(key)
        if _GRAIN[up.kind] <= _GRAIN[down.kind]:
            return up.keys_within(start, end)
        holder = up.key_of(start)
        return [holder] if holder in up._key_set() else []


@dataclass(frozen=True, kw_only=True)
class Previous(PartitionMapping):
    """The partition ``n`` steps before on the same grid (``previous(1)``: yesterday's)."""

    kind: ClassVar[str] = "previous"
    n: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.n, int) or self.n < 1:
            raise ValueError(f"previous(n) needs a positive whole n, got {self.n!r}")

    def problem(self, down: PartitionScheme, up: PartitionScheme) -> str | None:
        if not (up.is_partitioned and down.is_partitioned) or up.kind != down.kind:
            return f"previous({self.n}) needs both sides on the same partition kind, got {up.describe()} and {down.describe()}"
        return None

    def upstream_keys(self, down: PartitionScheme, up: PartitionScheme, key: str) -> list[str]:
        if isinstance(down, TimeScheme):
            assert isinstance(up, TimeScheme)  # problem(): both sides have the same kind
            start, _ = down.window(key)
            t = start
            for _ in range(self.n):
                t = down.window(down.key_of(t - timedelta(seconds=1)))[0]
            k = up.key_of(t)
        else:
            shifted = down.shift(key, -self.n)
            if shifted is None:
                return []
            k = shifted
        return [k] if k in up._key_set() else []

    def describe(self) -> str:
        return f"previous({self.n})"


@dataclass(frozen=True, kw_only=True)
class AllPartitions(PartitionMapping):
    """Every upstream partition (e.g. a model trained on the whole history)."""

    kind: ClassVar[str] = "all"

    def upstream_keys(self, down: PartitionScheme, up: PartitionScheme, key: str) -> list[str]:
        return up.keys()


@dataclass(frozen=True, kw_only=True)
class Window(PartitionMapping):
    """A fixed range of upstream partitions, ``first`` to ``last`` inclusive (e.g. a model trained
    on January): the same keys whatever partition reads them."""

    kind: ClassVar[str] = "window"
    first: str
    last: str

    def problem(self, down: PartitionScheme, up: PartitionScheme) -> str | None:
        from weir.errors import PartitionError

        try:
            keys = up.key_range(self.first, self.last)
        except PartitionError as exc:
            return f"window({self.first}, {self.last}): {exc}"
        return None if keys else f"window({self.first}, {self.last}) selects no partition"

    def upstream_keys(self, down: PartitionScheme, up: PartitionScheme, key: str) -> list[str]:
        return up.key_range(self.first, self.last)

    def describe(self) -> str:
        return f"window({self.first}, {self.last})"


def window(first: str, last: str) -> Window:
    """The upstream partitions from ``first`` to ``last`` (inclusive), whatever the partition."""
    return Window(first=first, last=last)


def previous(n: int = 1) -> Previous:
    """Map each partition to the one ``n`` steps before it (a lookback)."""
    return Previous(n=n)


def all_partitions() -> AllPartitions:
    return AllPartitions()
