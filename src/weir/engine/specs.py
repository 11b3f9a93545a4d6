"""What a partition's build is told: the TaskSpec of one asset partition, assembled in one place
for runs and shadow builds. Where the partition is staged and where each upstream asset
partition is read from is the caller's business (``Reads``): a run reads the published tables,
a shadow build what its published version read and what it built itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from weir.engine.tasks import InputSpec, TaskSpec
from weir.model.definitions import Asset, Source
from weir.model.mappings import Previous
from weir.model.partitions import TimeScheme

if TYPE_CHECKING:
    import pyarrow as pa

    from weir.engine.inputs import InputResolver
    from weir.project.graph import Project
    from weir.storage.catalog import TableCatalog
    from weir.storage.delta import AssetTable


@dataclass(frozen=True, kw_only=True)
class Reading:
    """Where one upstream asset is read: (partition key, path) of each file, the folder the
    paths are in, and the schema to read them in."""

    files: tuple[tuple[str, str], ...]
    table_dir: str
    schema: pa.Schema | None


class Reads(Protocol):
    """Where a build writes and reads (a run: the published tables; a shadow build: its folders)."""

    def target(self, asset: Asset) -> tuple[str, pa.Schema | None]:
        """The folder a partition of ``asset`` is staged in and the schema it is written with."""
        ...

    def source(self, asset: Asset, key: str, source: Source, keys: list[str]) -> tuple[tuple[str, str], ...]:
        """(source key, file) of each landed file of ``source`` that ``asset``'s ``key`` reads."""
        ...

    def upstream(self, asset: Asset, key: str, upstream: Asset, keys: list[str]) -> Reading:
        """Where ``asset``'s ``key`` reads the partitions ``keys`` of ``upstream``."""
        ...


class SpecBuilder:
    """Assembles the TaskSpec of an asset partition for ``run_id``: its time window, its
    retries, and one InputSpec per parameter, read where ``reads`` says."""

    def __init__(self, project: Project, reads: Reads, *, run_id: str) -> None:
        self.project = project
        self.reads = reads
        self.run_id = run_id

    def spec(self, asset: Asset, key: str, keys: dict[str, list[str]]) -> TaskSpec:
        """The spec that builds ``key`` of ``asset``, reading ``keys`` (per parameter, the
        upstream keys its inputs resolved to)."""
        table_dir, table_schema = self.reads.target(asset)
        inputs = []
        for param, inp in asset.inputs.items():
            up = self.project.node(inp.upstream)
            lookback = isinstance(inp.mapping, Previous)
            if isinstance(up, Source):
                inputs.append(InputSpec(param=param, upstream=up.name, kind="source", frame=inp.frame,
                                        files=self.reads.source(asset, key, up, keys[param]), format=up.format,
                                        options=dict(up.options), columns=dict(up.columns), empty_is_none=lookback))
                continue
            read = self.reads.upstream(asset, key, up, keys[param])
            inputs.append(InputSpec(param=param, upstream=up.name, kind="model" if up.model is not None else "asset",
                                    frame=inp.frame, files=read.files, table_dir=read.table_dir, schema=read.schema,
                                    empty_is_none=lookback))
        start = end = None
        if isinstance(asset.partitions, TimeScheme):
            start, end = asset.partitions.window(key)
        return TaskSpec(project_root=str(self.project.root), asset=asset.name, key=key, start=start, end=end,
                        run_id=self.run_id, table_dir=table_dir, table_schema=table_schema, inputs=tuple(inputs),
                        attempts=asset.retry.attempts, backoff=asset.retry.backoff)


class PublishedTables:
    """The project's asset tables as a run reads them (``Reads``): each table's schema and file
    index loaded once, and again after a publish or a rival run's (``forget``)."""

    def __init__(self, project: Project, catalog: TableCatalog, resolver: InputResolver) -> None:
        self.project = project
        self.catalog = catalog
        self.resolver = resolver
        self._tables: dict[str, AssetTable] = {}
        self._schemas: dict[str, pa.Schema | None] = {}  # asset -> table schema, dropped when it publishes
        self._files: dict[str, dict[str, list[str]]] = {}

    def table(self, asset: str) -> AssetTable:
        if asset not in self._tables:
            partitioned = self.project.assets[asset].partitions.is_partitioned
            self._tables[asset] = self.catalog.table(self.project.name, asset, partitioned=partitioned)
        return self._tables[asset]

    def schema(self, asset: str) -> pa.Schema | None:
        """The asset table's schema, loaded once per run and again only after it publishes."""
        if asset not in self._schemas:
            self._schemas[asset] = self.table(asset).schema()
        return self._schemas[asset]

    def files(self, asset: str) -> dict[str, list[str]]:
        if asset not in self._files:
            self._files[asset] = self.table(asset).files()
        return self._files[asset]

    def forget_schema(self, asset: str) -> None:
        self._schemas.pop(asset, None)

    def forget_files(self, asset: str) -> None:
        self._files.pop(asset, None)

    # -- Reads ----------------------------------------------------------------------------------
    def target(self, asset: Asset) -> tuple[str, pa.Schema | None]:
        return self.table(asset.name).uri, self.schema(asset.name)

    def source(self, asset: Asset, key: str, source: Source, keys: list[str]) -> tuple[tuple[str, str], ...]:
        return tuple((uk, f) for uk in keys for f in self.resolver.source_files(source, uk))

    def upstream(self, asset: Asset, key: str, upstream: Asset, keys: list[str]) -> Reading:
        index = self.files(upstream.name)
        return Reading(files=tuple((uk, f) for uk in keys for f in index.get(uk, [])),
                       table_dir=self.table(upstream.name).uri, schema=self.schema(upstream.name))
