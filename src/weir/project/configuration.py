"""What configured a run besides its code: ``weir.toml`` as read, and for every asset and source
the checks, monitor settings, user metrics and contract that judged its partitions. A run keeps
it once per content hash (as it keeps its environment), so a diagnosis can say which setting
changed between two builds, not only that something did. No I/O here."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from weir.model.definitions import Asset, Source

if TYPE_CHECKING:
    from weir.project.graph import Project

# fields that say where a setting was written, not what it does: moving it changes nothing
_PLACE_FIELDS = ("where",)
_LAST_FIELDS = ("mostly", "severity")  # every check has them: shown after what sets it apart


@dataclass(frozen=True, kw_only=True)
class ConfigurationSnapshot:
    """``project_file`` (weir.toml's text) and ``nodes``: asset or source -> setting -> one line
    per check, monitor setting, metric or declared column. ``id`` is the content hash."""

    project: str
    project_file: str
    nodes: Mapping[str, Mapping[str, list[str]]] = field(default_factory=dict)

    @property
    def id(self) -> str:
        body = json.dumps({"project": self.project, "project_file": self.project_file, "nodes": self.nodes},
                          sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()[:16]

    def to_row(self) -> dict:
        return {"id": self.id, "project": self.project, "project_file": self.project_file,
                "nodes": {n: dict(s) for n, s in self.nodes.items()}, "created_at": time.time()}


def describe(setting: object) -> str:
    """One line for a check or a monitor setting: its label, then the fields it sets away from
    their defaults, e.g. ``in_range(value): column='value', max=100, severity='block'``."""
    label = getattr(setting, "label", None) or str(getattr(setting, "kind", type(setting).__name__))
    if not dataclasses.is_dataclass(setting) or isinstance(setting, type):
        return f"{label}: {setting!r}"
    parts = []
    fields = dataclasses.fields(setting)
    for f in sorted(fields, key=lambda f: f.name in _LAST_FIELDS):
        if f.name in _PLACE_FIELDS:
            continue
        value = getattr(setting, f.name)
        if f.default is not dataclasses.MISSING and value == f.default:
            continue
        if f.default_factory is not dataclasses.MISSING and value == f.default_factory():
            continue
        parts.append(f"{f.name.rstrip('_')}={_shown(value)}")
    return f"{label}: {', '.join(parts)}" if parts else label


def _shown(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return repr(int(value))  # max=100 and max=100.0 are one setting
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k!r}: {_shown(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _settings(node: Asset | Source) -> dict[str, list[str]]:
    settings = {
        "checks": [describe(c) for c in node.checks],
        "monitors": [describe(m) for m in node.monitors],
        "metrics": [f"{name} = {sql}" for name, sql in sorted(node.metrics.items())],
    }
    if isinstance(node, Asset):
        settings["schema"] = [f"schema policy: {node.schema}"]
    else:
        settings["contract"] = [f"{c}: {t}" for c, t in node.columns.items()]
        settings["contract"] += [f"max_malformed: {node.max_malformed:g}"]
    return {k: v for k, v in settings.items() if v}


def capture(project: Project) -> ConfigurationSnapshot:
    """The configuration ``project`` was loaded with."""
    nodes: dict[str, dict[str, list[str]]] = {n: _settings(s) for n, s in project.sources.items()}
    nodes.update((n, _settings(a)) for n, a in project.assets.items())
    return ConfigurationSnapshot(project=project.name, project_file=project.config.text,
                                 nodes=dict(sorted(nodes.items())))


def version_digest(project: Project) -> str:
    """The version of ``project`` a deployment records: its configuration, every asset's code
    version and its pinned environment (``weir.lock`` in its folder, when it has one): what it
    defines, not where its folder is."""
    parts: dict = {"configuration": capture(project).id,
                   "code": {n: a.code_version for n, a in sorted(project.assets.items())}}
    lock = project.root / "weir.lock"
    if lock.is_file():
        parts["lock"] = hashlib.sha256(lock.read_bytes()).hexdigest()
    body = json.dumps(parts, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()[:16]
