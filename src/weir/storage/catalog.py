"""The table catalog: the one place that knows where each asset's Delta table lives.

Locations are URIs under one data root (``/srv/weir/data/shop/orders`` today; an object store
URI such as ``s3://bucket/weir/shop/orders`` once tables can live there), so callers never
build table paths themselves."""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from weir.errors import ConfigError

if TYPE_CHECKING:
    from weir.storage.delta import AssetTable


def _is_remote(uri: str) -> bool:
    scheme = urlparse(uri).scheme
    return len(scheme) > 1 and scheme != "file"  # one letter is a Windows drive, not a scheme


def _local_path(uri: str) -> str:
    return urlparse(uri).path if uri.startswith("file://") else uri


class TableCatalog:
    """Maps (project, asset) to its table URI and opens the AssetTable there."""

    def __init__(self, root: str | Path) -> None:
        self.root = str(root)

    def uri(self, project: str, asset: str) -> str:
        """The table location of ``asset`` in ``project``."""
        if _is_remote(self.root):
            return posixpath.join(self.root.rstrip("/"), project, asset)
        return str(Path(_local_path(self.root)) / project / asset)

    def table(self, project: str, asset: str, *, partitioned: bool | None = None) -> AssetTable:
        """The asset's table. ``partitioned`` None reads it from the table (True before the
        first publish). Raises ConfigError for a location weir cannot write yet."""
        uri = self.uri(project, asset)
        if _is_remote(uri):
            raise ConfigError(f"table location {uri!r}: only local paths are supported as the data root")
        if partitioned is None:
            partitioned = _is_partitioned(uri)
        from weir.storage.delta import AssetTable

        return AssetTable(Path(uri), partitioned=partitioned)


def _is_partitioned(uri: str) -> bool:
    path = Path(uri)
    if not (path / "_delta_log").is_dir():
        return True
    from deltalake import DeltaTable

    return bool(DeltaTable(uri).metadata().partition_columns)
