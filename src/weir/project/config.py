"""``weir.toml``: the project's name, modules and defaults, validated field by field."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from weir.errors import ConfigError
from weir.model.definitions import NAME_PATTERN, Retry
from weir.project.alerts import AlertsConfig, parse_alerts

CONFIG_FILE = "weir.toml"

_PROJECT_KEYS = {"name", "description", "modules", "sql"}
_DEFAULT_KEYS = {"owners", "retry"}
_TOP_KEYS = {"project", "defaults", "openlineage", "run", "alerts"}
_RUN_KEYS = {"on_conflict", "republish"}
# What a run does with a partition another live run is building: wait for it (then build it
# only if it is still out of date), or skip it and what reads it.
ON_CONFLICT = ("wait", "skip")
# What a run does with a new version of a published partition built by changed code or
# configuration: publish it in place of the old one (judged against it), or hold it staged
# until 'weir approve' publishes it (readers stay on the old version meanwhile).
REPUBLISH = ("replace", "hold")
_OPENLINEAGE_KEYS = {"transport", "url", "endpoint", "namespace", "timeout"}
OPENLINEAGE_TRANSPORTS = ("file", "http", "off")


@dataclass(frozen=True, kw_only=True)
class OpenLineageConfig:
    """``[openlineage]``: where OpenLineage events go. ``file`` appends them to
    ``<workspace>/openlineage/events.jsonl``; ``http`` posts them to ``url`` + ``endpoint``
    (Marquez's path by default); ``off`` sends nothing. ``namespace`` defaults to the project name."""

    transport: str = "file"
    url: str | None = None
    endpoint: str = "api/v1/lineage"
    namespace: str | None = None
    timeout: float = 2.0  # per HTTP attempt: a receiver that does not answer must not hold up the command


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """``[run]``: defaults of ``weir run``. ``on_conflict`` says what a run does with a partition
    another live run is building: ``wait`` for it, or ``skip`` it (and what reads it).
    ``republish`` says what becomes of a new version of a published partition whose code or
    configuration changed: ``replace`` publishes it, ``hold`` keeps it staged for ``weir approve``."""

    on_conflict: str = "wait"
    republish: str = "replace"


@dataclass(frozen=True, kw_only=True)
class ProjectConfig:
    """What ``weir.toml`` says."""

    root: Path
    name: str
    description: str = ""
    modules: tuple[str, ...] = ()
    sql_dirs: tuple[str, ...] = ("sql",)
    owners: tuple[str, ...] = ()
    retry: Retry = field(default_factory=Retry)
    openlineage: OpenLineageConfig = field(default_factory=OpenLineageConfig)
    run: RunConfig = field(default_factory=RunConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    text: str = field(default="", repr=False, compare=False)  # the file as read: each run keeps it

    @property
    def file(self) -> Path:
        return self.root / CONFIG_FILE


def _unknown(where: str, got: dict[str, Any], allowed: set[str], section: str) -> None:
    extra = sorted(set(got) - allowed)
    if extra:
        raise ConfigError(f"unknown key {section + extra[0]!r} (allowed: {', '.join(sorted(allowed))})", where=where)


_IMPORTS_WEIR = re.compile(r"^\s*(?:import weir\b|from weir\b)", re.MULTILINE)


def _imports_weir(path: Path) -> bool:
    try:
        return bool(_IMPORTS_WEIR.search(path.read_text(errors="replace")))
    except OSError:
        return False


def _str_list(value: Any, key: str, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{key} must be a list of strings, got {value!r}", where=where)
    return tuple(value)


def load_config(root: Path) -> ProjectConfig:
    """Read and validate ``root/weir.toml``. Raises ConfigError naming the file and field."""
    path = root / CONFIG_FILE
    where = str(path)
    if not path.is_file():
        raise ConfigError(f"no {CONFIG_FILE} here; pass --project DIR or run 'weir init DIR'", where=str(root))
    text = path.read_text()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", where=where) from None
    _unknown(where, data, _TOP_KEYS, "")
    project = data.get("project")
    if not isinstance(project, dict):
        raise ConfigError("missing [project] table with at least name = \"...\"", where=where)
    _unknown(where, project, _PROJECT_KEYS, "project.")
    name = project.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ConfigError(f"project.name {name!r} must be letters, digits and '_'", where=where)
    modules = _str_list(project.get("modules", []), "project.modules", where)
    if not modules:
        # scripts that sit in the folder (a landing script, a notebook export) are not imported:
        # only files that import weir define sources and assets
        modules = tuple(sorted(p.stem for p in root.glob("*.py") if not p.name.startswith("_") and _imports_weir(p)))
    for m in modules:
        if not (root / f"{m}.py").is_file() and not (root / m / "__init__.py").is_file():
            raise ConfigError(f"project.modules names {m!r} but neither {m}.py nor {m}/__init__.py exists", where=where)
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise ConfigError("[defaults] must be a table", where=where)
    _unknown(where, defaults, _DEFAULT_KEYS, "defaults.")
    retry_cfg = defaults.get("retry", {})
    if not isinstance(retry_cfg, dict) or set(retry_cfg) - {"attempts", "backoff"}:
        raise ConfigError(f"defaults.retry must be {{attempts = N, backoff = SECONDS}}, got {retry_cfg!r}", where=where)
    try:
        retry = Retry(**retry_cfg)
    except ConfigError as exc:
        raise ConfigError(f"defaults.retry: {exc.message}", where=where) from None
    return ProjectConfig(
        root=root,
        openlineage=_openlineage(data.get("openlineage", {}), where),
        run=_run(data.get("run", {}), where),
        alerts=parse_alerts(data.get("alerts", {}), where),
        name=name,
        description=str(project.get("description", "")),
        modules=modules,
        sql_dirs=_str_list(project.get("sql", ["sql"]), "project.sql", where),
        owners=_str_list(defaults.get("owners", []), "defaults.owners", where),
        retry=retry,
        text=text,
    )


def _run(section: Any, where: str) -> RunConfig:
    if not isinstance(section, dict):
        raise ConfigError("[run] must be a table", where=where)
    _unknown(where, section, _RUN_KEYS, "run.")
    on_conflict = section.get("on_conflict", "wait")
    if on_conflict not in ON_CONFLICT:
        raise ConfigError(f"run.on_conflict {on_conflict!r} must be one of: {', '.join(ON_CONFLICT)}", where=where)
    republish = section.get("republish", "replace")
    if republish not in REPUBLISH:
        raise ConfigError(f"run.republish {republish!r} must be one of: {', '.join(REPUBLISH)}", where=where)
    return RunConfig(on_conflict=on_conflict, republish=republish)


def _openlineage(section: Any, where: str) -> OpenLineageConfig:
    if not isinstance(section, dict):
        raise ConfigError("[openlineage] must be a table", where=where)
    _unknown(where, section, _OPENLINEAGE_KEYS, "openlineage.")
    transport = section.get("transport", "file")
    if transport not in OPENLINEAGE_TRANSPORTS:
        raise ConfigError(f"openlineage.transport {transport!r} must be one of: {', '.join(OPENLINEAGE_TRANSPORTS)}",
                          where=where)
    url = section.get("url")
    if url is not None and (not isinstance(url, str) or not re.match(r"^https?://[^/\s]+", url)):
        raise ConfigError(f"openlineage.url {url!r} must be an http:// or https:// URL", where=where)
    if transport == "http" and url is None:
        raise ConfigError('openlineage.transport = "http" needs openlineage.url (e.g. "http://localhost:5000")',
                          where=where)
    if transport != "http" and url is not None:
        raise ConfigError(f'openlineage.url is only used with transport = "http" (transport is {transport!r})',
                          where=where)
    for key in ("endpoint", "namespace"):
        value = section.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ConfigError(f"openlineage.{key} must be a non-empty string, got {value!r}", where=where)
    timeout = section.get("timeout", 2.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 60:
        raise ConfigError(f"openlineage.timeout must be seconds between 0 and 60, got {timeout!r}", where=where)
    return OpenLineageConfig(
        transport=transport, url=url, endpoint=section.get("endpoint", "api/v1/lineage"),
        namespace=section.get("namespace"), timeout=float(timeout),
    )
