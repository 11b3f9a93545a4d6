"""One weir installation: the metadata store (one pool of connections), the table catalog, the
environment cache and the event bus, built once per process from an ``InstanceConfig`` and
shared by every project served from it (``instance.project(folder)`` gives the services bound to
one project: a ``Workspace``).

The configuration is read here and only here: ``<workspace>/instance.toml`` when it exists,
then the environment (``WEIR_DATABASE_URL``, ``WEIR_DATA_ROOT``), which wins. Nothing below
reads the environment or a configuration file for the installation. ``config.ref()`` is plain
data that a worker or a daemon rebuilds the same instance from (``Instance.from_ref``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from weir.errors import ConfigError
from weir.events import EventBus

if TYPE_CHECKING:
    from weir.storage.catalog import TableCatalog
    from weir.store.store import MetadataStore
    from weir.workspace import Workspace

WORKSPACE_ENV = "WEIR_HOME"
DATABASE_ENV = "WEIR_DATABASE_URL"
DATA_ROOT_ENV = "WEIR_DATA_ROOT"
DEFAULT_WORKSPACE = ".weir"
CONFIG_FILE = "instance.toml"
KEYS = {"store": ("url",), "storage": ("root",)}


def resolve_workspace(option: str | Path | None, environ: Mapping[str, str] | None = None) -> Path:
    """``--workspace``, else ``WEIR_HOME``, else ``./.weir``."""
    env = os.environ if environ is None else environ
    return Path(option or env.get(WORKSPACE_ENV) or DEFAULT_WORKSPACE).resolve()


@dataclass(frozen=True, kw_only=True)
class InstanceConfig:
    """Where an installation keeps its state. ``database_url`` None: SQLite in the workspace;
    ``data_root`` None: ``<workspace>/data``."""

    home: Path
    database_url: str | None = None
    data_root: str | None = None

    @classmethod
    def load(cls, home: str | Path | None = None, environ: Mapping[str, str] | None = None) -> InstanceConfig:
        """The configuration of the workspace ``home`` (``--workspace``, ``WEIR_HOME``, ``./.weir``):
        its ``instance.toml``, then the environment. Raises ConfigError naming the file and field
        of a malformed one."""
        env = os.environ if environ is None else environ
        where = resolve_workspace(home, env)
        values = _read_file(where / CONFIG_FILE)
        return cls(home=where, database_url=env.get(DATABASE_ENV) or values.get("store.url"),
                   data_root=env.get(DATA_ROOT_ENV) or values.get("storage.root"))

    @property
    def store_url(self) -> str:
        from weir.store.database import database_url

        return database_url(self.home, self.database_url)

    @property
    def tables_root(self) -> str:
        return self.data_root or str(self.home / "data")

    @property
    def embedded(self) -> bool:
        """Whether the store is the workspace's own SQLite file."""
        return not self.database_url

    def ref(self) -> dict[str, Any]:
        """Plain data to rebuild this instance from in another process."""
        return {"home": str(self.home), "database_url": self.database_url, "data_root": self.data_root}

    @classmethod
    def from_ref(cls, ref: Mapping[str, Any]) -> InstanceConfig:
        return cls(home=Path(ref["home"]), database_url=ref.get("database_url"), data_root=ref.get("data_root"))


def _read_file(path: Path) -> dict[str, str]:
    """``{"section.key": value}`` of an instance.toml ({} when there is none)."""
    import tomllib

    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    out: dict[str, str] = {}
    for section, body in data.items():
        if section not in KEYS or not isinstance(body, dict):
            raise ConfigError(f"{path}: unknown section [{section}] (known: {', '.join(f'[{k}]' for k in KEYS)})")
        for key, value in body.items():
            if key not in KEYS[section]:
                raise ConfigError(f"{path}: unknown key {key!r} in [{section}] (known: {', '.join(KEYS[section])})")
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{path}: [{section}] {key} must be a non-empty string, not {value!r}")
            out[f"{section}.{key}"] = value
    return out


class Instance:
    """The installation's shared state, opened on first use and closed once."""

    def __init__(self, config: InstanceConfig, *, bus: EventBus | None = None) -> None:
        self.config = config
        self.bus = bus or EventBus()  # live sinks subscribe here; durable consumers read the log
        self._store: MetadataStore | None = None
        self._catalog: TableCatalog | None = None

    @classmethod
    def open(cls, home: str | Path | None = None) -> Instance:
        """The instance of workspace ``home`` with its configuration (file and environment)."""
        return cls(InstanceConfig.load(home))

    @classmethod
    def from_ref(cls, ref: Mapping[str, Any]) -> Instance:
        return cls(InstanceConfig.from_ref(ref))

    @property
    def home(self) -> Path:
        return self.config.home

    @property
    def store(self) -> MetadataStore:
        """The metadata store: one engine, one pool, for every project of the instance."""
        if self._store is None:
            from weir.store.store import MetadataStore

            self._store = MetadataStore.for_workspace(self.home, url=self.config.database_url, bus=self.bus)
        return self._store

    @property
    def opened(self) -> bool:
        return self._store is not None

    @property
    def catalog(self) -> TableCatalog:
        if self._catalog is None:
            from weir.storage.catalog import TableCatalog

            self._catalog = TableCatalog(self.config.tables_root)
        return self._catalog

    def project(self, folder: str | Path | None = None, *, reading: bool = False) -> Workspace:
        """The services bound to the project in ``folder`` (default: the current folder), over
        this instance's store and catalog."""
        from weir.workspace import Workspace

        return Workspace(instance=self, project_dir=folder, reading=reading)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
