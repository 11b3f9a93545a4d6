"""``checks.yml``: checks (and user metrics) declared as configuration, beside those declared in
Python, for assets and sources.

    flights:
      - not_null: {column: dep_delay, where: "NOT cancelled", mostly: 0.99}
      - row_count: {min: 100, max: 2000, severity: block}
      - unique: {columns: [carrier, flight, sched_dep]}
    weather_daily:
      checks:
        - in_range: {column: temp, min: -40, max: 130}
      metrics:
        wet_days: "avg(CASE WHEN precip > 0 THEN 1 ELSE 0 END)"
"""

from __future__ import annotations

import inspect
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from weir.errors import ConfigError
from weir.model.checks import CONSTRUCTORS, Check

if TYPE_CHECKING:
    from yaml import Node

CHECKS_FILE = "checks.yml"


def load_checks_file(root: Path, known: set[str]) -> dict[str, tuple[list[Check], dict[str, str], list]]:
    """(checks, metrics, monitor settings) per asset or source name from ``root/checks.yml``
    (empty if absent). Errors name file:line."""
    path = root / CHECKS_FILE
    if not path.is_file():
        return {}
    import yaml  # only when there is a file: keeps commands on projects without one quick

    text = path.read_text()
    try:
        node = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"invalid YAML: {getattr(exc, 'problem', exc)}", where=where) from None
    if node is None:
        return {}
    if not isinstance(node, yaml.MappingNode):
        raise ConfigError("must map asset names to lists of checks", where=f"{path}:1")
    out: dict[str, tuple[list[Check], dict[str, str], list]] = {}
    for key_node, value_node in node.value:
        asset = key_node.value
        where = f"{path}:{key_node.start_mark.line + 1}"
        if asset not in known:
            import difflib

            close = difflib.get_close_matches(asset, sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"checks for unknown asset {asset!r}{hint}", where=where)
        checks, metrics, monitors = out.setdefault(asset, ([], {}, []))
        items = value_node
        if isinstance(value_node, yaml.MappingNode):
            items = None
            for k, v in value_node.value:
                at = f"{path}:{k.start_mark.line + 1}"
                if k.value == "checks":
                    items = v
                elif k.value == "metrics":
                    metrics.update(_metrics(v, at, yaml))
                elif k.value == "monitors":
                    monitors.extend(_monitor_items(v, path, yaml))
                else:
                    raise ConfigError(f"unknown key {k.value!r} for {asset!r} (known: checks, metrics, monitors)", where=at)
            if items is None:
                continue
        if not isinstance(items, yaml.SequenceNode):
            raise ConfigError(f"checks of {asset!r} must be a list", where=where)
        for item in items.value:
            line = f"{path}:{item.start_mark.line + 1}"
            data = yaml.safe_load(yaml.serialize(item))
            checks.append(_one(data, line))
    return out


def _monitor_items(node: Node, path: Path, yaml: ModuleType) -> list:
    from weir.model.monitors import CONSTRUCTORS as MONITORS

    if not isinstance(node, yaml.SequenceNode):
        raise ConfigError("monitors must be a list like '- mute: {metric: max}'", where=f"{path}:{node.start_mark.line + 1}")
    out = []
    for item in node.value:
        where = f"{path}:{item.start_mark.line + 1}"
        data = yaml.safe_load(yaml.serialize(item))
        if not isinstance(data, dict) or len(data) != 1:
            raise ConfigError("each monitor setting is one mapping like '- monitor: {metric: mean, sigma: 4}'", where=where)
        kind, args = next(iter(data.items()))
        if kind not in MONITORS:
            raise ConfigError(f"unknown monitor setting {kind!r} (known: {', '.join(sorted(MONITORS))})", where=where)
        try:
            make = MONITORS[kind]
            inspect.signature(make).bind(**dict(args or {}))
            import dataclasses

            out.append(dataclasses.replace(make(**dict(args or {})), where=where))
        except TypeError as exc:
            raise ConfigError(f"{kind}: {exc}", where=where) from None
        except ConfigError as exc:
            raise ConfigError(exc.message, where=where) from None
    return out


def _metrics(node: Node, where: str, yaml: ModuleType) -> dict[str, str]:
    data = yaml.safe_load(yaml.serialize(node))
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and k.isidentifier() and isinstance(v, str) and v.strip() for k, v in data.items()
    ):
        raise ConfigError("metrics must map names to SQL aggregates, like 'late_share: avg(arr_delay > 15)'", where=where)
    return data


def _one(data: object, where: str) -> Check:
    if not isinstance(data, dict) or len(data) != 1:
        raise ConfigError("each check is one mapping like '- not_null: {column: x}'", where=where)
    kind, args = next(iter(data.items()))
    if kind not in CONSTRUCTORS:
        raise ConfigError(f"unknown check {kind!r} (known: {', '.join(sorted(CONSTRUCTORS))})", where=where)
    if args is not None and not isinstance(args, dict):
        raise ConfigError(f"{kind}: give its arguments as a mapping, e.g. '- {kind}: {{column: x}}' (got {args!r})",
                          where=where)
    args = dict(args or {})
    make = CONSTRUCTORS[kind]
    positional = []
    if kind == "unique":
        cols = args.pop("columns", args.pop("column", None))
        positional = [cols] if isinstance(cols, str) else list(cols or [])
    try:
        inspect.signature(make).bind(*positional, **args)
        return make(*positional, **args)
    except TypeError as exc:
        raise ConfigError(f"{kind}: {exc}", where=where) from None
    except ConfigError as exc:
        raise ConfigError(exc.message, where=where) from None
