"""``checks.yml``: checks declared as configuration, beside those declared in Python.

    flights:
      - not_null: {column: dep_delay, where: "NOT cancelled", mostly: 0.99}
      - row_count: {min: 100, max: 2000, severity: block}
      - unique: {columns: [carrier, flight, sched_dep]}
"""

from __future__ import annotations

import inspect
from pathlib import Path

from weir.errors import ConfigError
from weir.model.checks import CONSTRUCTORS, Check

CHECKS_FILE = "checks.yml"


def load_checks_file(root: Path, known: set[str]) -> dict[str, list[Check]]:
    """Checks per asset name from ``root/checks.yml`` (empty if absent). Errors name file:line."""
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
    out: dict[str, list[Check]] = {}
    for key_node, value_node in node.value:
        asset = key_node.value
        where = f"{path}:{key_node.start_mark.line + 1}"
        if asset not in known:
            import difflib

            close = difflib.get_close_matches(asset, sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"checks for unknown asset {asset!r}{hint}", where=where)
        if not isinstance(value_node, yaml.SequenceNode):
            raise ConfigError(f"checks of {asset!r} must be a list", where=where)
        for item in value_node.value:
            line = f"{path}:{item.start_mark.line + 1}"
            data = yaml.safe_load(yaml.serialize(item))
            out.setdefault(asset, []).append(_one(data, line))
    return out


def _one(data, where: str) -> Check:
    if not isinstance(data, dict) or len(data) != 1:
        raise ConfigError("each check is one mapping like '- not_null: {column: x}'", where=where)
    kind, args = next(iter(data.items()))
    if kind not in CONSTRUCTORS:
        raise ConfigError(f"unknown check {kind!r} (known: {', '.join(sorted(CONSTRUCTORS))})", where=where)
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
