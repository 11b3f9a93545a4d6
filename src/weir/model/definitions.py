"""The objects a project defines: sources, assets, insights."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from weir.errors import ConfigError
from weir.model.keys import AssetKey
from weir.model.mappings import Auto, PartitionMapping
from weir.model.partitions import PartitionScheme, Unpartitioned

NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SOURCE_FORMATS = ("csv", "parquet", "jsonl")
FRAME_KINDS = ("pandas", "polars", "arrow")
# How an asset's table schema may change. "strict" (the default): the table's column types stay;
# a partition is published when its columns have them or cast up to them safely (int to double),
# new columns are added. "evolve" declares that a table column may widen (int to double, int32 to
# int64) when a partition brings the wider type.
SCHEMA_POLICIES = ("strict", "evolve")
RESERVED_COLUMN = "partition_key"  # weir stores each partition's key in it (storage.arrow.PARTITION_COLUMN)


def check_name(name: str, what: str, where: str | None = None) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ConfigError(f"{what} name {name!r} must be letters, digits and '_', not starting with a digit", where=where)
    return name


def deadline(value: timedelta | str | None, what: str, where: Location) -> timedelta | None:
    """A ``fresh_within`` setting (``36h``, ``2d`` or a ``timedelta``) as a positive timedelta;
    ConfigError naming ``what`` otherwise."""
    from weir.model.checks import parse_duration

    if value is None:
        return None
    try:
        parsed = parse_duration(value) if isinstance(value, (str, timedelta)) else None
    except ConfigError:
        parsed = None
    if parsed is None or parsed <= timedelta(0):
        raise ConfigError(f"{what}: fresh_within={value!r} must be a duration like 90m, 36h or 2d", where=str(where))
    return parsed


def row_key(value: object, what: str, where: Location) -> tuple[str, ...]:
    """A ``key=`` setting as a tuple of distinct column names; ConfigError naming ``what`` otherwise."""
    if value is None:
        return ()
    names = (value,) if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) and n.strip() for n in names):
        raise ConfigError(f"{what}: key={value!r} must be a list of column names, e.g. key=[\"carrier\", \"flight\"]",
                          where=str(where))
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        raise ConfigError(f"{what}: key names column {doubled[0]!r} twice", where=str(where))
    if RESERVED_COLUMN in names:
        raise ConfigError(f"{what}: key cannot name {RESERVED_COLUMN!r}, which weir reserves for the partition key "
                          f"(rows of one partition share it)", where=str(where))
    return tuple(names)


@dataclass(frozen=True, kw_only=True)
class Location:
    """Where an object was defined, for error messages."""

    file: str = "<unknown>"
    line: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True, kw_only=True)
class Retry:
    """How often a failed partition build is retried, waiting ``backoff`` seconds doubled each time."""

    attempts: int = 1
    backoff: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.attempts, int) or self.attempts < 1:
            raise ConfigError(f"retry attempts must be a whole number ≥ 1, got {self.attempts!r}")
        if not isinstance(self.backoff, (int, float)) or self.backoff < 0:
            raise ConfigError(f"retry backoff must be seconds ≥ 0, got {self.backoff!r}")

    def delay(self, attempt: int) -> float:
        """Seconds to wait before ``attempt`` (2, 3, ...)."""
        return float(self.backoff) * (2 ** max(0, attempt - 2))


@dataclass(frozen=True, kw_only=True)
class Input:
    """One upstream an asset reads, under a parameter name, with its partition mapping.

    ``upstream`` is the key as written (``orders`` or ``sales.orders``) until the project is
    loaded; the loader then sets ``key`` and leaves in ``upstream`` the name in the project."""

    upstream: str
    mapping: PartitionMapping = field(default_factory=Auto)
    frame: str = "pandas"
    key: AssetKey | None = None

    def __post_init__(self) -> None:
        if self.frame not in FRAME_KINDS:
            raise ConfigError(f"input frame {self.frame!r} must be one of {', '.join(FRAME_KINDS)}")


@dataclass(frozen=True, kw_only=True)
class Source:
    """External input weir observes but does not produce: files landing in a folder."""

    name: str
    path: str
    format: str
    partitions: PartitionScheme = field(default_factory=Unpartitioned)
    options: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    owners: tuple[str, ...] = ()
    project: str = ""
    location: Location = field(default_factory=Location)
    # the input contract: declared columns and types, checks, user metrics, malformed-row tolerance
    columns: Mapping[str, str] = field(default_factory=dict)
    checks: tuple = ()
    metrics: Mapping[str, str] = field(default_factory=dict)
    max_malformed: float = 0.0  # share of malformed rows above which the partition is blocked
    profile: bool = True
    monitors: tuple = ()
    fresh_within: timedelta | None = None  # each partition is due this long after its window ends

    def __post_init__(self) -> None:
        check_name(self.name, "source", str(self.location))
        object.__setattr__(self, "fresh_within", deadline(self.fresh_within, f"source {self.name!r}", self.location))
        if not isinstance(self.max_malformed, (int, float)) or not 0 <= self.max_malformed <= 1:
            raise ConfigError(
                f"source {self.name!r}: max_malformed={self.max_malformed!r} must be a share between 0 and 1",
                where=str(self.location),
            )
        if self.format not in SOURCE_FORMATS:
            raise ConfigError(
                f"source {self.name!r}: format {self.format!r} must be one of {', '.join(SOURCE_FORMATS)}",
                where=str(self.location),
            )
        if self.partitions.is_partitioned and "{partition" not in self.path and "{start" not in self.path:
            raise ConfigError(
                f"source {self.name!r}: a partitioned source's path needs '{{partition}}' (got {self.path!r})",
                where=str(self.location),
            )

    kind = "source"


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """What a model asset learns from: its feature columns and target, and the task kind."""

    features: tuple[str, ...] = ()
    target: str | None = None
    task: str = "regression"  # or "classification"


@dataclass(frozen=True, kw_only=True)
class Asset:
    """A dataset weir produces from its inputs: a Python function or a SQL query."""

    name: str
    partitions: PartitionScheme = field(default_factory=Unpartitioned)
    inputs: Mapping[str, Input] = field(default_factory=dict)
    fn: Callable[..., Any] | None = None
    sql: str | None = None
    wants_context: bool = False
    owners: tuple[str, ...] = ()
    description: str = ""
    retry: Retry = field(default_factory=Retry)
    project: str = ""
    location: Location = field(default_factory=Location)
    definition_text: str = ""
    inputs_inferred: bool = False
    checks: tuple = ()  # weir.checks.* objects, run on every staged partition before publish
    metrics: Mapping[str, str] = field(default_factory=dict)  # user metrics: name -> SQL aggregate
    profile: bool = True  # measure the profile metrics of every partition
    model: ModelSpec | None = None  # set for models: the function returns a trained estimator
    monitors: tuple = ()  # weir.monitor / weir.mute / weir.drift settings
    schema: str = "strict"  # one of SCHEMA_POLICIES
    # the columns that identify a row (``key=["carrier", "flight"]``): outputs are compared row by
    # row on them (``weir rehearse``); without a key, as multisets of rows
    key: tuple[str, ...] = ()

    kind = "asset"

    def __post_init__(self) -> None:
        check_name(self.name, "asset", str(self.location))
        if (self.fn is None) == (self.sql is None):
            raise ConfigError(f"asset {self.name!r} needs exactly one of a function or SQL", where=str(self.location))
        if self.schema not in SCHEMA_POLICIES:
            raise ConfigError(
                f"asset {self.name!r}: schema={self.schema!r} must be one of {', '.join(map(repr, SCHEMA_POLICIES))}",
                where=str(self.location),
            )
        object.__setattr__(self, "key", row_key(self.key, f"asset {self.name!r}", self.location))

    @property
    def upstream_names(self) -> list[str]:
        return [i.upstream for i in self.inputs.values()]

    @property
    def code_settings(self) -> dict:
        """The settings besides the definition text that shape what a partition contains: the
        partition grid (kind, time zone) but not its range, so widening a range builds only the
        new partitions."""
        grid = {k: v for k, v in self.partitions.to_dict().items() if k not in ("start", "end", "values")}
        return self._settings(grid)

    def _settings(self, partitions: dict) -> dict:
        settings: dict = {
            "partitions": partitions,
            "inputs": {p: [i.upstream, i.mapping.describe(), i.frame] for p, i in sorted(self.inputs.items())},
        }
        if self.model is not None:
            settings["model"] = [list(self.model.features), self.model.target, self.model.task]
        return settings

    @property
    def code_version(self) -> str:
        """Hash of the definition (function source or SQL) plus the settings that shape its data."""
        return _code_hash(self.definition_text, self.code_settings)

    @property
    def legacy_code_version(self) -> str:
        """The code version as weir computed it before ranges were left out of it (the whole
        partition scheme, range included): partitions built then are current if it matches."""
        return _code_hash(self.definition_text, self._settings(self.partitions.to_dict()))


def _code_hash(definition: str, settings: dict) -> str:
    digest = hashlib.sha256()
    digest.update(definition.encode())
    digest.update(json.dumps(settings, sort_keys=True).encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True, kw_only=True)
class Insight:
    """A business-facing output (dashboard, report, export) built on assets, with owners."""

    name: str
    depends_on: tuple[str, ...]
    owners: tuple[str, ...] = ()
    url: str = ""
    description: str = ""
    project: str = ""
    location: Location = field(default_factory=Location)
    # the newest partition of each input is due this long after its window ends (unpartitioned:
    # published at most this long ago); later, the insight is stale
    fresh_within: timedelta | None = None

    kind = "insight"

    def __post_init__(self) -> None:
        check_name(self.name, "insight", str(self.location))
        object.__setattr__(self, "fresh_within", deadline(self.fresh_within, f"insight {self.name!r}", self.location))
        if not self.depends_on:
            raise ConfigError(f"insight {self.name!r} must depend on at least one asset", where=str(self.location))
