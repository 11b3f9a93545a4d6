"""Load a project folder: read weir.toml, import its modules, read its SQL files, validate."""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import TypeVar

from weir.errors import ConfigError, ProjectError, WeirError
from weir.model.definitions import Asset, Input, Insight, Location, Source
from weir.model.keys import AssetKey
from weir.model.partitions import PartitionScheme, Unpartitioned
from weir.model.scenarios import Scenario
from weir.project.authoring import sql_asset
from weir.project.config import ProjectConfig, load_config
from weir.project.graph import Project, validate

_Definition = TypeVar("_Definition", bound=Source | Asset | Insight)
_SQL_HEADER_KEYS = {"partitions", "description", "owners", "depends_on", "retry", "key"}


def load_project(root: str | Path) -> Project:
    """Load and validate the project at ``root``. Raises ConfigError/ProjectError (exit 2)."""
    root = Path(root).resolve()
    config = load_config(root)
    objects: dict[str, Source | Asset | Insight] = {}
    scenarios: dict[str, Scenario] = {}
    schemes: dict[str, PartitionScheme] = {}
    _forget_modules(config)
    for module_name in config.modules:
        module = _import(config, module_name)
        for var, value in vars(module).items():
            if isinstance(value, PartitionScheme) and not var.startswith("_"):
                schemes.setdefault(var, value)
            if isinstance(value, (Source, Asset, Insight)):
                _add(objects, _with_defaults(value, config))
            elif isinstance(value, Scenario):
                _add_scenario(scenarios, value, config)
    for sql_dir in config.sql_dirs:
        folder = root / sql_dir
        if folder.is_dir():
            for path in sorted(folder.glob("*.sql")):
                _add(objects, _with_defaults(_sql_file(path, schemes), config))
    known = {n for n, o in objects.items() if not isinstance(o, Insight)}
    from weir.project.checks_file import load_checks_file

    declared = load_checks_file(root, {n for n, o in objects.items() if isinstance(o, (Asset, Source))})
    for n, (extra, metrics, monitors) in declared.items():
        node = objects[n]
        assert isinstance(node, (Asset, Source))  # load_checks_file takes only their names
        objects[n] = dataclasses.replace(
            node, checks=tuple(node.checks) + tuple(extra), metrics={**node.metrics, **metrics},
            monitors=tuple(node.monitors) + tuple(monitors),
        )
    from weir.project.scenarios_file import load_scenarios_file

    for found in load_scenarios_file(root, config.name):
        _add_scenario(scenarios, found, config)
    for n, o in list(objects.items()):
        if isinstance(o, Asset) and o.inputs_inferred:
            if o.sql is not None:
                _check_sql_tables(o, known)
            kept = {p: i for p, i in o.inputs.items() if i.upstream in known}
            objects[n] = dataclasses.replace(o, inputs=kept)
    for n, o in list(objects.items()):
        if isinstance(o, Asset):
            objects[n] = dataclasses.replace(o, inputs={p: _keyed(o, i, config.name) for p, i in o.inputs.items()})
    project = Project(
        config=config,
        sources={n: o for n, o in objects.items() if isinstance(o, Source)},
        assets={n: o for n, o in objects.items() if isinstance(o, Asset)},
        insights={n: o for n, o in objects.items() if isinstance(o, Insight)},
        scenarios=scenarios,
    )
    return validate(project)


def _keyed(asset: Asset, inp: Input, project: str) -> Input:
    """``inp`` with its key: ``orders`` and ``<project>.orders`` are the same input (the same code
    version: ``upstream`` keeps the bare name). Another project's key is refused, for now."""
    try:
        key = AssetKey.parse(inp.upstream, project)
    except ConfigError as exc:
        raise ConfigError(f"asset {asset.name!r}: {exc.message}", where=str(asset.location)) from None
    if key.project != project:
        raise ConfigError(f"asset {asset.name!r} reads {str(key)!r}, an asset of project {key.project!r}: "
                          f"reading another project's assets is not supported yet", where=str(asset.location))
    return dataclasses.replace(inp, upstream=key.name, key=key)


def _forget_modules(config: ProjectConfig) -> None:
    """Drop modules of an earlier load (this project edited, or another one of the same name), so
    ``from . import helpers`` reads the files as they are now, from this root."""
    package = f"weir_project_{config.name}"
    for stale in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        del sys.modules[stale]


def _import(config: ProjectConfig, module_name: str) -> ModuleType:
    path = config.root / f"{module_name}.py"
    if not path.is_file():
        path = config.root / module_name / "__init__.py"
    qualified = f"weir_project_{config.name}.{module_name}"
    package = f"weir_project_{config.name}"
    if package not in sys.modules:
        pkg = ModuleType(package)
        pkg.__path__ = [str(config.root)]
        sys.modules[package] = pkg
    spec = importlib.util.spec_from_file_location(qualified, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[qualified] = module
    try:
        spec.loader.exec_module(module)
    except WeirError as exc:
        sys.modules.pop(qualified, None)
        if exc.where:
            raise
        raise type(exc)(exc.message, where=_failing_line(exc, path)) from None
    except Exception as exc:  # noqa: BLE001 - any import error of user code becomes one line
        sys.modules.pop(qualified, None)
        raise ConfigError(
            f"importing module {module_name!r} failed: {type(exc).__name__}: {exc}", where=_failing_line(exc, path)
        ) from None
    return module


def _failing_line(exc: BaseException, path: Path) -> str:
    line = 0
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename).resolve() == path.resolve():
            line = frame.lineno or 0
    if isinstance(exc, SyntaxError) and exc.lineno:
        line = exc.lineno
    return f"{path}:{line}" if line else str(path)


def _add(objects: dict[str, Source | Asset | Insight], obj: Source | Asset | Insight) -> None:
    other = objects.get(obj.name)
    if other is not None and other is not obj:
        raise ProjectError(
            f"duplicate name {obj.name!r}: also defined at {other.location}", where=str(obj.location)
        )
    objects[obj.name] = obj


def _add_scenario(scenarios: dict[str, Scenario], scenario: Scenario, config: ProjectConfig) -> None:
    other = scenarios.get(scenario.name)
    if other is not None and other.location != scenario.location:
        raise ProjectError(f"duplicate scenario {scenario.name!r}: also defined at {other.location}",
                           where=str(scenario.location))
    scenarios[scenario.name] = dataclasses.replace(scenario, project=config.name)


def _with_defaults(obj: _Definition, config: ProjectConfig) -> _Definition:
    changes: dict = {"project": config.name}
    if isinstance(obj, Asset):
        if not obj.owners and config.owners:
            changes["owners"] = config.owners
        if obj.retry.attempts == 1 and config.retry.attempts > 1:
            changes["retry"] = config.retry
    return dataclasses.replace(obj, **changes)


def _sql_file(path: Path, schemes: dict[str, PartitionScheme]) -> Asset:
    """A ``.sql`` file is an asset named after the file; leading ``-- key: value`` lines configure it."""
    text = path.read_text()
    header: dict[str, tuple[str, int]] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("--"):
            break
        body = stripped[2:].strip()
        if ":" not in body:
            continue
        key, value = (part.strip() for part in body.split(":", 1))
        if key in _SQL_HEADER_KEYS:
            header[key] = (value, lineno)
        elif key.replace("_", "").isalpha() and key.islower() and " " not in key:
            raise ConfigError(
                f"unknown header key {key!r} (allowed: {', '.join(sorted(_SQL_HEADER_KEYS))})", where=f"{path}:{lineno}"
            )
    partitions: PartitionScheme = Unpartitioned()
    if "partitions" in header:
        value, lineno = header["partitions"]
        if value != "unpartitioned":
            if value not in schemes:
                known = ", ".join(sorted(schemes)) or "none defined"
                raise ConfigError(
                    f"partitions {value!r} names no partition scheme of the project's modules (known: {known})",
                    where=f"{path}:{lineno}",
                )
            partitions = schemes[value]

    def listed(key: str) -> list[str] | None:
        return [v.strip() for v in header[key][0].split(",") if v.strip()] if key in header else None

    retry = None
    if "retry" in header:
        value, lineno = header["retry"]
        if not value.isdigit():
            raise ConfigError(f"retry must be a number of attempts, got {value!r}", where=f"{path}:{lineno}")
        retry = int(value)
    return sql_asset(
        path.stem,
        text,
        partitions=partitions,
        depends_on=listed("depends_on"),
        owners=listed("owners"),
        description=header.get("description", ("", 0))[0],
        retry=retry,
        key=listed("key"),
        _location=Location(file=str(path), line=1),
    )


_SQL_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def _check_sql_tables(asset: Asset, known: set[str]) -> None:
    """A SQL asset may read only the project's assets and sources: a table it names that is
    neither (a typo like ``FROM ordrs``) is an error at load, with a suggestion. The query is
    parsed by DuckDB, so CTEs, subqueries and ``EXTRACT(year FROM ts)`` are told apart from
    tables; a query DuckDB cannot parse without running it (table functions over files) is left
    to the run."""
    import duckdb

    try:
        names = duckdb.get_table_names(_SQL_PARAM.sub("NULL", asset.sql or ""), qualified=False)
    except duckdb.Error:
        return
    unknown = sorted(n for n in names if n not in known)
    if unknown:
        from weir.project.graph import suggest

        raise ProjectError(
            f"SQL asset {asset.name!r} reads {unknown[0]!r}, which is no asset or source of this project"
            f"{suggest(unknown[0], sorted(known))}",
            where=_line_naming(asset, unknown[0]),
        )


def _line_naming(asset: Asset, table: str) -> str:
    """Where ``asset``'s SQL names ``table``: the file and line of the ``FROM``/``JOIN`` that
    reads it (else the first line naming it), from the line the asset is defined at on (the top
    of a ``.sql`` file; the ``sql_asset`` call in a module), comments aside. The definition's own
    location when the file cannot be read or does not name it."""
    location = asset.location
    try:
        lines = Path(location.file).read_text().splitlines()
    except OSError:
        return str(location)
    name = re.escape(table)
    read = re.compile(rf'\b(?:from|join)\s+(?:\w+\.)?"?{name}"?(?![\w"])', re.IGNORECASE)
    named = re.compile(rf'(?<![\w.]){name}(?!\w)', re.IGNORECASE)
    code = [line.split("--", 1)[0] for line in lines]
    for pattern in (read, named):
        for i in range(max(location.line - 1, 0), len(code)):
            if pattern.search(code[i]):
                return f"{location.file}:{i + 1}"
    return str(location)
