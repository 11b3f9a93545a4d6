"""One key moved, not the world: when a measure's mean moves for one site (one sensor, one feed,
one store's system) while the other sites of the same partition stay where they were, a source
changed, not the world (a storm raises every site's readings at once).

``peers`` compares a bad partition with the last good one (or the partitions before it) group
by group along each low-cardinality column; ``read_pair`` and ``read_source_pair`` read the two
sides of an asset's (Delta) or a source's (landed files) partition."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from weir.errors import DataError, UnknownObjectError
from weir.storage.arrow import PARTITION_COLUMN

if TYPE_CHECKING:
    from weir.project.graph import Project
    from weir.storage.delta import AssetTable
    from weir.store.store import MetadataStore

MAX_GROUPS = 50  # more distinct values than this is an id or a measure, not a dimension of peers
MIN_ROWS = 5  # rows a group needs in ``before`` to have a spread of its own
# Thresholds tried on simulated days: 2 sites x 100 normal readings (with and without site-level
# day effects), 3 sites of unequal spread, 4 sites x 6 rows, 5 sites of Poisson counts, 10 stores
# of lognormal amounts, and a summary of one row per site a day with 7 days of history.
MOVE_SIGMA = 1.0  # 0.5σ: 16% false where site means wander 0.3σ a day (1σ: 7%); 1.5σ missed 1/4 of +8 on σ=5
MOVE_T = 5.0  # move / its standard error: 6 lost a tenth of the 6-row shifts; 4 let more noise through on 7-row groups
SAME_SHARE = 0.5  # a peer that went half as far as a mover (in its σ, or really in the column's units) went with it
STILL_T = 3.0  # a peer whose move is told from sampling noise (and its day-to-day wobble) really moved...
STILL_SHARE = 0.25  # ...and is still only if that move is under a quarter of the smallest mover's σ-move
STILL_SIGMA = 1.0  # ...and under one σ of its own
MINORITY = 1 / 3  # movers are at most a third of the groups (one of two): more is a broad move
FLOOR = 1e-3  # a group's σ is at least this share of its |mean|: a constant reading still has a scale
MIN_PARTITIONS = 3  # partitions in ``before`` to measure a group's day-to-day wobble from: 2 means hid real shifts
PEER_HISTORY = 7  # earlier partitions read as ``before`` when there is no good version of this one
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?")


@dataclass(frozen=True, kw_only=True)
class PeerShift:
    """One group (or a few) of a key column moved a measure while its peers did not."""

    key: str  # the key column, e.g. "site"
    groups: tuple[str, ...]  # the groups that moved, e.g. ("B",)
    column: str  # the measure that moved
    moved: float  # the movers' mean shift, in the column's units
    before: float  # the movers' mean before
    after: float  # and after
    peers_moved: float  # the largest |shift| among the other groups, in their own σ
    line: str  # one plain sentence for the diagnosis

    def to_json(self) -> dict:
        return {"key": self.key, "groups": list(self.groups), "column": self.column, "moved": self.moved,
                "before": self.before, "after": self.after, "peers_moved": self.peers_moved, "line": self.line}


@dataclass(frozen=True, kw_only=True)
class _Group:
    name: str
    rows_before: int
    rows_after: int
    before: float
    after: float
    sigma: float  # its spread in ``before``, floored
    z: float  # its shift in its own σ
    t: float  # its shift over the shift's standard error


def peers(before: pa.Table, after: pa.Table, *, columns: Sequence[str] | None = None) -> PeerShift | None:
    """The strongest peer shift between ``before`` (the last good version of a partition, or the
    partitions before it, concatenated) and ``after`` (the bad partition): along a key column
    (string, dictionary, bool or integer with 2 to 50 values, shared by both tables, not a date
    and not nearly unique), a minority of groups whose mean of a numeric column (``columns``
    when given: those that alerted) moved well beyond their own spread while every other group
    stayed still. None when there is no key column, too few comparable groups (each needs 5 rows
    before and one after), nothing moved, or the groups moved together (the world)."""
    measures = [c for c in (columns or after.column_names) if _numeric(before, c) and _numeric(after, c)]
    found: list[tuple[float, PeerShift]] = []
    for key in key_columns(before, after, exclude=columns or ()):
        for column in measures:
            if column == key:
                continue
            shift = _compare(before, after, key, column)
            if shift is not None:
                found.append(shift)
    return max(found, key=lambda f: f[0])[1] if found else None


def key_columns(before: pa.Table, after: pa.Table, *, exclude: Sequence[str] = ()) -> list[str]:
    """The columns peers are grouped by: low-cardinality dimensions present in both tables,
    strings and booleans first, then integers."""
    out = []
    for name in before.column_names:
        if name == PARTITION_COLUMN or name in exclude or name not in after.column_names:
            continue
        kind = _key_kind(before.schema.field(name).type)
        if kind is None or _key_kind(after.schema.field(name).type) is None:
            continue
        both = pa.chunked_array(_text(before.column(name)).chunks + _text(after.column(name)).chunks)
        values = pc.unique(both).drop_null()
        distinct = len(values)
        if not 2 <= distinct <= MAX_GROUPS or distinct * MIN_ROWS > before.num_rows:  # too few, or nearly unique
            continue
        if kind == 0 and any(_DATE.match(str(v)) for v in values.to_pylist()[:3]):
            continue  # a date or a time written as text
        out.append((kind, name))
    return [name for _, name in sorted(out, key=lambda k: k[0])]


def _key_kind(t: pa.DataType) -> int | None:
    """0 for text and booleans, 1 for integers, None for what is never a key."""
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_boolean(t):
        return 0
    return 1 if pa.types.is_integer(t) else None


def _numeric(table: pa.Table, column: str) -> bool:
    if column not in table.column_names or column == PARTITION_COLUMN:
        return False
    t = table.schema.field(column).type
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)


def _text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A key column's values as text: the group names."""
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    return column.cast(pa.string())


def _stats(table: pa.Table, key: str, column: str) -> dict[str, tuple[int, float, float | None, float | None]]:
    """Per group of ``key`` (as text): rows, mean and standard deviation of ``column``'s values,
    and how far one partition's mean strays from the mean of them all when ``table`` holds
    several partitions (a ``partition_key`` column with ``MIN_PARTITIONS`` or more) — else None."""
    keys = _text(table.column(key))
    values = table.column(column).cast(pa.float64())
    valid = pc.and_(pc.is_valid(values), pc.invert(pc.is_nan(values.fill_null(0.0))))
    tagged = PARTITION_COLUMN in table.column_names
    parts = table.column(PARTITION_COLUMN) if tagged else pa.nulls(table.num_rows, pa.string())
    pairs = pa.table({"k": keys, "p": parts, "v": values}).filter(pc.and_(valid, pc.is_valid(keys)))
    spread = pc.VarianceOptions(ddof=1)
    grouped = pairs.group_by("k").aggregate([("v", "count"), ("v", "mean"), ("v", "stddev", spread)])
    wobble: dict[str, float | None] = {}
    if tagged:
        daily = pairs.group_by(["k", "p"]).aggregate([("v", "mean")])
        across = daily.group_by("k").aggregate([("v_mean", "count"), ("v_mean", "stddev", spread)])
        for k, n, sd in zip(*(across.column(c).to_pylist() for c in ("k", "v_mean_count", "v_mean_stddev"))):
            wobble[k] = sd * math.sqrt(1 + 1 / n) if n >= MIN_PARTITIONS and sd is not None else None
    return {k: (n, m, s, wobble.get(k))
            for k, n, m, s in zip(*(grouped.column(c).to_pylist() for c in ("k", "v_count", "v_mean", "v_stddev")))}


def _compare(before: pa.Table, after: pa.Table, key: str, column: str) -> tuple[float, PeerShift] | None:
    """A peer shift of ``column`` along ``key``, with its strength (the smallest mover's σ-move
    over the largest peer's), or None."""
    b, a = _stats(before, key, column), _stats(after, key, column)
    groups = []
    for name in sorted(set(b) & set(a)):
        nb, mb, sb, wobble = b[name]
        na, ma, sa, _ = a[name]
        if nb < MIN_ROWS or na < 1:
            continue
        sigma = max(sb or 0.0, FLOOR * abs(mb), 1e-12)
        spread_after = max(sa or 0.0, sigma) if na > 1 else sigma  # a group that got noisier: its move is less sure
        shift = ma - mb
        se = math.sqrt(sigma**2 / nb + spread_after**2 / na)
        if wobble is not None:  # one partition's mean wanders this much from day to day, beyond sampling
            se = max(se, wobble)
        groups.append(_Group(name=name, rows_before=nb, rows_after=na, before=mb, after=ma, sigma=sigma,
                             z=shift / sigma, t=shift / se))
    if len(groups) < 2:
        return None
    movers = [g for g in groups if abs(g.z) >= MOVE_SIGMA and abs(g.t) >= MOVE_T]
    if not movers or len(movers) > max(1, int(len(groups) * MINORITY)):
        return None
    smallest_z = min(abs(g.z) for g in movers)
    smallest_shift = min(abs(g.after - g.before) for g in movers)
    others = [g for g in groups if g not in movers]
    for p in others:
        if abs(p.z) >= SAME_SHARE * smallest_z:
            return None
        real = abs(p.t) >= STILL_T
        if real and (abs(p.z) > STILL_SHARE * smallest_z or abs(p.z) >= STILL_SIGMA
                     or abs(p.after - p.before) >= SAME_SHARE * smallest_shift):
            return None
    rows_before = sum(g.rows_before for g in movers)
    rows_after = sum(g.rows_after for g in movers)
    mean_before = sum(g.before * g.rows_before for g in movers) / rows_before
    mean_after = sum(g.after * g.rows_after for g in movers) / rows_after
    peers_moved = max(abs(p.z) for p in others)
    names = tuple(g.name for g in movers)
    line = _line(key, names, tuple(p.name for p in others), column, mean_before, mean_after)
    found = PeerShift(key=key, groups=names, column=column, moved=mean_after - mean_before, before=mean_before,
                      after=mean_after, peers_moved=peers_moved, line=line)
    return smallest_z / max(peers_moved, 0.01), found


def _line(key: str, movers: tuple[str, ...], others: tuple[str, ...], column: str, before: float, after: float) -> str:
    moved = after - before
    digits = min(6, max(0, 1 - math.floor(math.log10(abs(moved))))) if moved else 1

    def num(x: float) -> str:
        return f"{x:,.{digits}f}"

    def names(values: tuple[str, ...]) -> str:
        shown = ", ".join(values[:5]) + (f" and {len(values) - 5} more" if len(values) > 5 else "")
        return f"{key} {shown}"

    one = len(movers) == 1
    return (f"{names(movers)}'s {column} mean moved {moved:+,.{digits}f} "
            f"({num(before)} → {num(after)}) while {'its' if one else 'their'} peers ({names(others)}) did not: "
            f"{'one key' if one else f'{len(movers)} of {len(movers) + len(others)} keys'} moved, not the world — "
            "a source change (a sensor, a feed)")


def _wanted(schema: pa.Schema, columns: Sequence[str] | None) -> list[str] | None:
    """The columns to read: ``columns`` and every column that could be a key."""
    if columns is None:
        return None
    return [f.name for f in schema if f.name in columns or _key_kind(f.type) is not None]


def read_pair(table: AssetTable, key: str, good_version: int | None, columns: list[str] | None = None, *,
              good_key: str | None = None, history: int = PEER_HISTORY) -> tuple[pa.Table, pa.Table] | None:
    """``(before, after)`` of an asset's partition ``key`` (its Delta table ``table``), for ``peers``.

    ``after`` is ``key`` as published now. ``before`` is, when the last good build was of ``key``
    itself (``good_key`` None or ``key``) and ``good_version`` (its ``output_version``) is
    given, ``key`` as published at that Delta version: the same day, so nothing but the change
    between them. Otherwise the ``history`` published partitions before ``key`` (up to
    ``good_key`` when given), concatenated, each row tagged with its ``partition_key`` so that
    ``peers`` measures each group's day-to-day wobble. ``columns`` narrows the measures read
    (the alerted ones); every column that could be a key is read as well. None when the table,
    either side or the old version cannot be read (nothing published yet, a blocked partition
    (read its quarantined build instead), a vacuumed version)."""
    try:
        published = table.files()
        schema = table.schema()
        if key not in published or schema is None:
            return None
        wanted = _wanted(schema, columns)
        after = table.read([key], columns=wanted)
        if good_version is not None and good_key in (None, key):
            if key not in table.files(good_version):
                return None
            before = table.read([key], version=good_version, columns=wanted)
        else:
            last = good_key if good_key is not None else key
            keys = sorted(k for k in published if k < key and k <= last)[-history:]
            before = _tagged([(k, table.read([k], columns=wanted)) for k in keys])
    except (DataError, UnknownObjectError, OSError):
        return None
    return (before, after) if before is not None and before.num_rows and after.num_rows else None


def _tagged(parts: list[tuple[str, pa.Table]]) -> pa.Table | None:
    """Partitions as one table, each row with its ``partition_key`` (the newest alone when they
    disagree on their schema); None when none has a row."""
    parts = [(k, t) for k, t in parts if t.num_rows]
    if not parts:
        return None
    tagged = [t.append_column(PARTITION_COLUMN, pa.array([k] * t.num_rows, pa.string())) for k, t in parts]
    try:
        return pa.concat_tables(tagged, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return tagged[-1]  # deliveries that disagree on their schema: the newest alone


def read_source_pair(project: Project, store: MetadataStore, source: str, key: str, columns: list[str] | None = None, *,
                     good_key: str | None = None, history: int = PEER_HISTORY) -> tuple[pa.Table, pa.Table] | None:
    """``(before, after)`` of a source's partition ``key``, for ``peers``. A source is not a Delta
    table: its partitions are read from their landed files under the source's contract
    (malformed rows left out), as the gate and the engine read them.

    ``after`` is the delivery landed for ``key`` now. ``before`` is the ``history`` admitted
    (accepted) partitions before ``key`` (up to ``good_key`` when given: the last one before the
    cause, when later partitions share it) whose files are still there,
    concatenated and tagged with their ``partition_key``: an earlier delivery of ``key`` itself
    is not kept once replaced. ``columns`` narrows the measures read, as in ``read_pair``. None
    when either side has nothing to read. Raises UnknownObjectError when ``source`` is not a
    source of ``project``."""
    from weir.model.definitions import Source
    from weir.storage.sources import read_source, source_files

    node = project.node(source)
    if not isinstance(node, Source):
        raise UnknownObjectError(f"{source!r} is not a source")
    root = Path(project.root)
    with store.read():
        decided = store.sources.get(project.name, source)
    last = good_key if good_key is not None else key
    earlier = sorted(k for k, row in decided.items() if row["state"] == "accepted" and k < key and k <= last)

    def read(k: str) -> pa.Table | None:
        files = source_files(node, root, k)
        if not files:
            return None
        try:
            table = read_source(files, node.format, dict(node.options), what=source, columns=node.columns).table
        except DataError:
            return None
        wanted = _wanted(table.schema, columns)
        return table if wanted is None else table.select(wanted)

    after = read(key)
    if after is None or not after.num_rows:
        return None
    parts: list[tuple[str, pa.Table]] = []
    for k in reversed(earlier):
        if len(parts) == history:
            break
        found = read(k)
        if found is not None and found.num_rows:
            parts.append((k, found))
    before = _tagged(parts[::-1])
    return None if before is None else (before, after)
