"""The authoring API users write: ``weir.asset``, ``weir.source``, ``weir.sql_asset``, ``weir.insight``,
``weir.scenario``."""

from __future__ import annotations

import ast
import inspect
import os
import re
import sys
import textwrap
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any

from weir.errors import ConfigError
from weir.model.definitions import Asset, Input, Insight, Location, Retry, Source, deadline
from weir.model.mappings import PartitionMapping
from weir.model.partitions import PartitionScheme, Unpartitioned
from weir.model.scenarios import Scenario

CONTEXT_PARAMETER = "context"


def _caller(depth: int = 2) -> Location:
    frame = sys._getframe(depth)
    return Location(file=frame.f_code.co_filename, line=frame.f_lineno)


def _owners(owners: Iterable[str] | str | None) -> tuple[str, ...]:
    if owners is None:
        return ()
    if isinstance(owners, str):
        return (owners,)
    return tuple(owners)


def _scheme(partitions: PartitionScheme | None, where: Location) -> PartitionScheme:
    if partitions is None:
        return Unpartitioned()
    if not isinstance(partitions, PartitionScheme):
        raise ConfigError(f"partitions must be weir.daily(...), weir.monthly(...), ... got {partitions!r}", where=str(where))
    return partitions


def _frame_of(annotation: Any) -> str:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__module__", "") + "." + getattr(annotation, "__qualname__", "")
    text = text.lower()
    if "polars" in text or text.startswith("pl."):
        return "polars"
    if "pyarrow" in text or text.startswith("pa.") or text.endswith("table"):
        return "arrow"
    return "pandas"


def upstream(name: str, mapping: PartitionMapping | None = None, *, frame: str = "pandas") -> Input:
    """Name an upstream explicitly (another parameter name, a lookback mapping, a frame kind).
    ``name`` is an asset or source of this project, bare or as its key (``project.name``)."""
    return Input(upstream=name, mapping=mapping, frame=frame) if mapping else Input(upstream=name, frame=frame)


def asset(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    partitions: PartitionScheme | None = None,
    inputs: Mapping[str, Input | str] | None = None,
    owners: Iterable[str] | str | None = None,
    description: str = "",
    retry: Retry | int | None = None,
    checks: Iterable[Any] = (),
    metrics: Mapping[str, str] | None = None,
    profile: bool = True,
    monitors: Iterable[Any] = (),
    schema: str = "strict",
    key: Iterable[str] | None = None,
    _model: Any = None,
) -> Any:
    """Declare a Python asset. Upstreams are named by the function's parameters.

    A parameter named ``context`` receives the build context (partition key, window, run id).
    ``inputs`` maps a parameter to another upstream (a name, or its key ``project.name``) or a
    mapping such as ``weir.previous(1)``.
    ``schema="evolve"`` declares that a table column may widen (int to double, int32 to int64)
    when a partition brings the wider type, instead of the partition being blocked.
    ``key`` names the columns that identify a row (``key=["carrier", "flight"]``): outputs are
    compared row by row on them (``weir rehearse``).
    Returns the :class:`Asset` (the function stays reachable as ``.fn``).
    """

    def wrap(func: Callable[..., Any]) -> Asset:
        where = Location(file=func.__code__.co_filename, line=func.__code__.co_firstlineno)
        explicit = dict(inputs or {})
        params: dict[str, Input] = {}
        wants_context = False
        for p in inspect.signature(func).parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise ConfigError(f"asset {func.__name__!r}: *args/**kwargs cannot name upstreams", where=str(where))
            if p.name == CONTEXT_PARAMETER:
                wants_context = True
                continue
            frame = _frame_of(p.annotation) if p.annotation is not p.empty else "pandas"
            spec = explicit.pop(p.name, None)
            if spec is None:
                params[p.name] = Input(upstream=p.name, frame=frame)
            elif isinstance(spec, str):
                params[p.name] = Input(upstream=spec, frame=frame)
            elif isinstance(spec, Input):
                params[p.name] = spec if spec.frame != "pandas" or frame == "pandas" else Input(upstream=spec.upstream, mapping=spec.mapping, frame=frame)
            elif isinstance(spec, PartitionMapping):
                params[p.name] = Input(upstream=p.name, mapping=spec, frame=frame)
            else:
                raise ConfigError(f"asset {func.__name__!r}: input {p.name!r} must be an upstream name or weir.upstream(...)", where=str(where))
        if explicit:
            raise ConfigError(
                f"asset {func.__name__!r}: inputs {sorted(explicit)} are not parameters of the function", where=str(where)
            )
        text = _function_text(func)
        return Asset(
            name=name or func.__name__,
            partitions=_scheme(partitions, where),
            inputs=params,
            fn=func,
            wants_context=wants_context,
            owners=_owners(owners),
            description=description or (inspect.getdoc(func) or "").split("\n\n")[0],
            retry=_retry(retry, where),
            location=where,
            definition_text=text,
            checks=_checks(checks, where),
            metrics=_metrics(metrics, where),
            profile=profile,
            model=_model,
            monitors=_monitors(monitors, where),
            schema=schema,
            key=_key(key),
        )

    return wrap(fn) if fn is not None else wrap


def model(
    fn: Callable[..., Any] | None = None,
    *,
    features: Iterable[str] = (),
    target: str | None = None,
    task: str = "regression",
    **options: Any,
) -> Any:
    """Declare a model: an asset whose function returns a trained estimator (anything picklable,
    e.g. a scikit-learn pipeline). Each build is stored as a versioned artifact next to the
    asset's table; the table holds one row per build (class, artifact, features, target, what it
    was trained on). An asset that names the model as a parameter receives the estimator.
    ``features`` and ``target`` say which columns it learns from: predictions assets built with
    it are compared against its training data (feature drift)."""
    from weir.model.definitions import ModelSpec

    if task not in ("regression", "classification"):
        raise ConfigError(f"model task {task!r} must be 'regression' or 'classification'", where=str(_caller()))
    spec = ModelSpec(features=tuple(features), target=target, task=task)
    options.setdefault("profile", False)
    return asset(fn, _model=spec, **options) if fn is not None else (lambda f: asset(f, _model=spec, **options))


def _checks(checks: Iterable[Any], where: Location) -> tuple:
    from weir.model.checks import Check

    out = tuple(checks or ())
    for c in out:
        if not isinstance(c, Check):
            raise ConfigError(f"checks must be weir.checks.* objects, got {c!r}", where=str(where))
    return out


def _function_text(func: Callable[..., Any]) -> str:
    """The function's code for its code version: without decorators and docstring, so editing
    ``description=`` or the docstring does not make its partitions stale."""
    try:
        text = textwrap.dedent(inspect.getsource(func))
    except (OSError, TypeError):
        return func.__code__.co_code.hex()
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return text
    node = next((n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))), None)
    if node is None:
        return text
    node.decorator_list = []
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
        node.body = body[1:] or [ast.Pass()]
    return ast.unparse(node)


def _retry(retry: Retry | int | None, where: Location) -> Retry:
    if retry is None:
        return Retry()
    if isinstance(retry, Retry):
        return retry
    if isinstance(retry, int):
        return Retry(attempts=retry)
    raise ConfigError(f"retry must be weir.Retry(...) or a number of attempts, got {retry!r}", where=str(where))


def sql_asset(
    name: str,
    sql: str,
    *,
    partitions: PartitionScheme | None = None,
    depends_on: Iterable[str] | None = None,
    owners: Iterable[str] | str | None = None,
    description: str = "",
    retry: Retry | int | None = None,
    checks: Iterable[Any] = (),
    metrics: Mapping[str, str] | None = None,
    profile: bool = True,
    monitors: Iterable[Any] = (),
    schema: str = "strict",
    key: Iterable[str] | None = None,
    _location: Location | None = None,
) -> Asset:
    """Declare a SQL asset run by DuckDB. Upstream assets are visible as tables; the partition
    key is the parameter ``$partition_key`` (``$partition_start``/``$partition_end`` for windows).
    Upstreams are read from the query unless ``depends_on`` names them."""
    where = _location or _caller()
    deps = list(depends_on) if depends_on is not None else sql_table_names(sql)
    return Asset(
        name=name,
        partitions=_scheme(partitions, where),
        inputs={d: Input(upstream=d, frame="arrow") for d in deps},
        sql=sql,
        owners=_owners(owners),
        description=description,
        retry=_retry(retry, where),
        location=where,
        definition_text=_sql_body(sql),
        inputs_inferred=depends_on is None,
        checks=_checks(checks, where),
        metrics=_metrics(metrics, where),
        profile=profile,
        monitors=_monitors(monitors, where),
        schema=schema,
        key=_key(key),
    )


def _key(key: Iterable[str] | str | None) -> Any:
    """A key as given, a list or tuple made a tuple (``Asset`` validates it and names what is wrong)."""
    return tuple(key) if isinstance(key, list | tuple) else key


_TABLE_REF = re.compile(r"\b(?:from|join)\s+([A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE)
_CTE_NAME = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s+as\s*\(", re.IGNORECASE)
_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)


def _sql_body(sql: str) -> str:
    """The query without its leading ``--`` header lines: editing a description is not a code change."""
    lines = sql.strip().splitlines()
    while lines and (not lines[0].strip() or lines[0].strip().startswith("--")):
        lines.pop(0)
    return "\n".join(lines)


def sql_table_names(sql: str) -> list[str]:
    """Names the query reads FROM or JOINs, minus its own CTEs (the loader keeps known objects)."""
    body = _COMMENT.sub(" ", sql)
    ctes = {m.lower() for m in _CTE_NAME.findall(body)}
    return sorted({m for m in _TABLE_REF.findall(body) if m.lower() not in ctes})


def source(
    name: str,
    *,
    path: str,
    format: str | None = None,
    partitions: PartitionScheme | None = None,
    options: Mapping[str, Any] | None = None,
    description: str = "",
    owners: Iterable[str] | str | None = None,
    columns: Mapping[str, str] | None = None,
    checks: Iterable[Any] = (),
    metrics: Mapping[str, str] | None = None,
    max_malformed: float = 0.0,
    monitors: Iterable[Any] = (),
    fresh_within: timedelta | str | None = None,
) -> Source:
    """Declare files landing in a folder: ``path`` is relative to the project, with ``{partition}``
    (or ``{start:%Y/%m/%d}``) for partitioned sources, and may hold glob characters.

    The input contract: ``columns`` maps column names to types (int, float, string, bool,
    timestamp, date); values that do not parse, and rows with the wrong number of fields, are
    malformed: counted, sampled and left out. Above ``max_malformed`` (a share of rows) the
    partition is blocked, as it is when a ``block`` check fails; nothing downstream reads it.

    ``fresh_within`` (``36h``, ``2d``): each partition is due that long after its window ends;
    while the newest admitted delivery is older than the one due, insights on it are stale."""
    where = _caller()
    fmt = format or _format_of(path, where)
    return Source(
        name=name,
        path=path,
        format=fmt,
        partitions=_scheme(partitions, where),
        options=dict(options or {}),
        description=description,
        owners=_owners(owners),
        location=where,
        columns=_columns(columns, name, where),
        checks=_checks(checks, where),
        metrics=_metrics(metrics, where),
        max_malformed=max_malformed,
        monitors=_monitors(monitors, where),
        fresh_within=deadline(fresh_within, f"source {name!r}", where),
    )


def _columns(columns: Mapping[str, str] | None, name: str, where: Location) -> dict[str, str]:
    from weir.model.checks import type_family

    out = dict(columns or {})
    known = ("int", "float", "string", "bool", "timestamp", "date")
    for col, typ in out.items():
        if not isinstance(typ, str) or type_family(typ) not in known:
            raise ConfigError(
                f"source {name!r}: column {col!r} has type {typ!r}; use one of {', '.join(known)}", where=str(where)
            )
    return out


def _monitors(monitors: Iterable[Any], where: Location) -> tuple:
    from weir.model.monitors import Drift, Monitor

    out = tuple(monitors or ())
    for m in out:
        if not isinstance(m, (Monitor, Drift)):
            raise ConfigError(f"monitors must be weir.monitor/weir.mute/weir.drift objects, got {m!r}", where=str(where))
    return out


def _metrics(metrics: Mapping[str, str] | None, where: Location) -> dict[str, str]:
    out = dict(metrics or {})
    for name, sql in out.items():
        if not isinstance(name, str) or not name.isidentifier() or not isinstance(sql, str) or not sql.strip():
            raise ConfigError(f"metrics must map names to SQL aggregates, got {name!r}: {sql!r}", where=str(where))
    return out


def _format_of(path: str, where: Location) -> str:
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    fmt = {"csv": "csv", "parquet": "parquet", "pq": "parquet", "jsonl": "jsonl", "ndjson": "jsonl", "json": "jsonl"}.get(ext)
    if fmt is None:
        raise ConfigError(f"cannot tell the format of {path!r}; pass format='csv'|'parquet'|'jsonl'", where=str(where))
    return fmt


def insight(
    name: str,
    *,
    depends_on: Iterable[str],
    owners: Iterable[str] | str | None = None,
    url: str = "",
    description: str = "",
    fresh_within: timedelta | str | None = None,
) -> Insight:
    """Declare a business-facing output (dashboard, report) and who owns it. ``fresh_within``
    (``36h``, ``2d``): the newest partition of each input it depends on is due that long after
    its window ends (an unpartitioned input: published at most that long ago); later, the
    insight is stale. Raises ConfigError naming the insight for a duration that is not one."""
    deps = (depends_on,) if isinstance(depends_on, str) else tuple(depends_on)
    where = _caller()
    return Insight(name=name, depends_on=deps, owners=_owners(owners), url=url, description=description, location=where,
                   fresh_within=deadline(fresh_within, f"insight {name!r}", where))


def scenario(
    name: str,
    *,
    steps: Iterable[Any],
    triggers: Iterable[Any] = (),
    reporters: Iterable[Any] = (),
    enabled: bool = True,
    description: str = "",
) -> Scenario:
    """Declare a scenario: ``triggers`` (``weir.triggers.cron``, ``landed``, ``published``,
    ``incident``, ``manual``; none: only by hand) start a tick that runs ``steps`` in order
    (``weir.steps.ingest``, ``build``, ``check``, ``rebuild``, ``diagnose``, ``call``, ``wait``);
    ``reporters`` (``weir.reporter(ROUTE, on=[...])``) tell an alert route how it ended. The
    project's loader checks the names it uses. Raises ConfigError naming the scenario."""
    return Scenario(name=name, triggers=tuple(triggers), steps=tuple(steps), reporters=tuple(reporters),
                    enabled=enabled, description=description, location=_caller())


def regression_metrics(prediction: str = "prediction", label: str = "label") -> dict[str, str]:
    """User metrics of a regression model's quality, for an asset with prediction and label
    columns: mean absolute error, root mean squared error and bias (mean of prediction - label)."""
    p, y = _ident(prediction), _ident(label)
    return {
        "mae": f"avg(abs({p} - {y}))",
        "rmse": f"sqrt(avg(({p} - {y}) * ({p} - {y})))",
        "bias": f"avg({p} - {y})",
    }


def classification_metrics(prediction: str = "prediction", label: str = "label", score: str | None = None) -> dict[str, str]:
    """User metrics of a classifier: accuracy (prediction = label), the positive rate predicted
    and observed, and with ``score`` (the predicted probability of the positive class, label
    0/1) the Brier score."""
    p, y = _ident(prediction), _ident(label)
    out = {
        "accuracy": f"avg(CASE WHEN {p} = {y} THEN 1.0 ELSE 0.0 END)",
        "predicted_positive_rate": f"avg(CASE WHEN {p} = 1 THEN 1.0 ELSE 0.0 END)",
        "observed_positive_rate": f"avg(CASE WHEN {y} = 1 THEN 1.0 ELSE 0.0 END)",
    }
    if score:
        s = _ident(score)
        out["brier"] = f"avg(({s} - {y}) * ({s} - {y}))"
    return out


def _ident(name: str) -> str:
    if not name.isidentifier():
        raise ConfigError(f"column {name!r} must be a plain identifier in model metrics")
    return name
