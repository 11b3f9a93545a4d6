"""What a user asks ``weir run`` to build, as one value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from weir.errors import PartitionError, UsageError

if TYPE_CHECKING:
    from weir.engine.planner import PartitionSelection


@dataclass(frozen=True, kw_only=True)
class RunRequest:
    assets: tuple[str, ...] = ()
    partition: str | None = None
    first: str | None = None
    last: str | None = None
    stale: bool = False
    executor: str = "auto"  # in process for a few partition builds, else a pool of worker processes
    workers: int | None = None
    trigger: str = "cli"
    publish_every: float = 10.0  # seconds a finished partition may wait for others to share its Delta commit
    on_conflict: str | None = None  # wait | skip for a partition another run is building; None: weir.toml's [run]
    environment: str | None = None  # the environment asked for (weir rebuild --env-of/--env); None: this one
    actor: str | None = None  # who asked: the OS user of the CLI, "daemon", later an API user or token
    deployment: int | None = None  # the deployment that runs it (set when the run starts)

    def __post_init__(self) -> None:
        from weir.project.config import ON_CONFLICT

        if self.on_conflict is not None and self.on_conflict not in ON_CONFLICT:
            raise UsageError(f"--on-conflict {self.on_conflict!r} is not one of {', '.join(ON_CONFLICT)}")
        if self.partition and (self.first or self.last):
            raise PartitionError("use either --partition or --from/--to, not both")
        if (self.first or self.last) and not (self.first and self.last):
            raise PartitionError("--from and --to go together")
        if self.first and self.last:
            from weir.engine.planner import reversed_range, runs_backwards

            if runs_backwards(self.first, self.last):
                raise PartitionError(reversed_range(self.first, self.last))

    def as_record(self) -> dict:
        """The request as the run record keeps it: what was set, and always the assets."""
        given = {k: v for k, v in self.__dict__.items() if v not in (None, (), False) and k != "publish_every"}
        return given | {"assets": list(self.assets)}

    def selection(self) -> PartitionSelection:
        """The partitions selected, for the planner."""
        from weir.engine.planner import PartitionSelection

        if self.partition:
            return PartitionSelection(first=self.partition, last=self.partition)
        return PartitionSelection(first=self.first, last=self.last)
