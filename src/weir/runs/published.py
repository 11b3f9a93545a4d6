"""What runs published: per asset what is there, every version of a partition, and its data
(published, earlier, or quarantined)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from weir.errors import UnknownObjectError
from weir.project.keys import partition_key

if TYPE_CHECKING:
    import pyarrow as pa

    from weir.project.graph import Project
    from weir.storage.delta import AssetTable
    from weir.store.light import LightReader
    from weir.store.store import MetadataStore


class AssetTables(Protocol):
    """The project's tables, as the workspace hands them over."""

    def get(self, asset: str) -> AssetTable: ...

    def uri(self, asset: str) -> str: ...


class PartitionSummaries(Protocol):
    """What ``status`` reads of the partitions (the store's repository or the light reader)."""

    def summary(self, project: str) -> dict[str, dict]: ...


class LastTaskStates(Protocol):
    """What ``status`` reads of the runs (the store's repository or the light reader)."""

    def last_task_states(self, project: str, asset: str) -> dict[str, str | int]: ...

    def blocked(self, project: str) -> list[dict]: ...


class PublishedData:
    """Reads the published state of a project's assets from the metadata store and the tables."""

    def __init__(self, *, project: Callable[[], Project], store: Callable[[], MetadataStore], tables: AssetTables,
                 light: Callable[[], LightReader | None] = lambda: None) -> None:
        self._project = project
        self._store = store
        self._tables = tables
        self._light = light

    def status(self, asset: str | None = None) -> list[dict]:
        """Per asset: partitions expected/published/stale-by-code, rows, newest key, last run's
        failures, and the partitions whose newest build was blocked (``blocked``, oldest first)."""
        project = self._project()
        names = [project.asset(asset).name] if asset else [n for n in project.order if n in project.assets]
        light = self._light()
        if light is not None:  # the embedded store, read without SQLAlchemy: same answers, quicker start
            try:
                return self._status(project, names, light, light)
            finally:
                light.close()
        store = self._store()
        with store.read():
            return self._status(project, names, store.partitions, store.runs)

    @staticmethod
    def _status(project: Project, names: list[str], partitions: PartitionSummaries, runs: LastTaskStates) -> list[dict]:
        out = []
        summary = partitions.summary(project.name)
        blocked: dict[str, list[dict]] = {}
        for b in runs.blocked(project.name):
            blocked.setdefault(b["asset"], []).append(b)
        for name in names:
            a = project.assets[name]
            s = summary.get(name, {})
            codes = s.get("by_code", {})
            last = runs.last_task_states(project.name, name)
            out.append({
                "asset": name,
                "kind": "sql" if a.sql else "python",
                "partitions": a.partitions.describe(),
                "expected": a.partitions.count(),
                "published": int(s.get("published") or 0),
                "outdated_code": sum(n for cv, n in codes.items() if cv not in (a.code_version, a.legacy_code_version)),
                "rows": int(s.get("rows") or 0),
                "first": s.get("first"),
                "last": s.get("last"),
                "published_at": s.get("published_at"),
                "last_run": last.get("run_id"),
                "last_run_failed": sum(int(last.get(k, 0)) for k in ("failed", "upstream_failed", "blocked")),
                "downstream_insights": project.insights_on(name),
                "blocked": blocked.get(name, []),
            })
        return out

    def history(self, asset: str, partition: str | None) -> list[dict]:
        """Every published version of a partition, oldest first, with the run that wrote it."""
        project = self._project()
        key = partition_key(project, asset, partition)
        store = self._store()
        with store.read():
            return store.partitions.history(project.name, asset, key)

    def read(self, asset: str, partition: str | None, version: int | None = None, limit: int | None = None) -> pa.Table:
        """Published data of one partition (at a table version) as Arrow."""
        key = partition_key(self._project(), asset, partition)
        table = self._tables.get(asset)
        if not table.exists():
            raise UnknownObjectError(f"asset {asset!r} has no published data yet; run 'weir run {asset}'")
        if version is not None:
            history = self.history(asset, partition)
            if not any(h["version"] == version for h in history):
                known = ", ".join(str(h["version"]) for h in history) or "none"
                raise UnknownObjectError(f"partition {key!r} of {asset!r} has no version {version} (versions: {known})")
        if key not in table.files(version):
            raise UnknownObjectError(f"partition {key!r} of {asset!r} is not published")
        try:
            data = table.read([key], version=version)
        except Exception as exc:
            from weir.errors import DataError
            from weir.health.damage import damage_message

            message = damage_message(exc, table.uri)
            if message is None:
                raise
            raise DataError(message) from None
        return data.slice(0, limit) if limit is not None else data

    def read_quarantined(self, asset: str, partition: str | None, limit: int | None = None) -> pa.Table:
        """The staged data of the newest blocked build of a partition (kept for forensics)."""
        from weir.storage.delta import read_files

        project = self._project()
        key = partition_key(project, asset, partition)
        store = self._store()
        with store.read():
            blocked = store.runs.newest_blocked(project.name, asset, key)
        if blocked is None or not blocked.staged_path:
            raise UnknownObjectError(f"partition {key!r} of {asset!r} has no quarantined build")
        data = read_files(self._tables.uri(asset), [(key, blocked.staged_path)], None)
        return data.slice(0, limit) if limit is not None else data
