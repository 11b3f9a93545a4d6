"""Write-audit-publish on real Delta tables: staged files stay invisible, publishes are atomic
per commit, readers pinned to a version keep seeing it, schemas evolve additively."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from weir.errors import ConfigError, DataError, UnknownObjectError
from weir.model.partitions import UNPARTITIONED_KEY
from weir.storage.arrow import PARTITION_COLUMN, normalize
from weir.storage.catalog import TableCatalog
from weir.storage.delta import STAGED_PREFIX, AssetTable, stage


def rows(key: str, n: int = 3, base: int = 0) -> pa.Table:
    return pa.table({"day": [key] * n, "value": list(range(base, base + n))})


def publish(table: AssetTable, data: dict[str, pa.Table], run_id: str) -> int:
    """Stage ``data`` per key and publish it in one commit, replacing what is published now."""
    current = table.files() if table.exists() else {}
    schema = table.schema()
    staged = [stage(table.uri, key, t, run_id=run_id, table_schema=schema) for key, t in data.items()]
    return table.publish(staged, replaced={s.key: current.get(s.key, []) for s in staged}, run_id=run_id)


def by_key(t: pa.Table) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for day, value in zip(t.column("day").to_pylist(), t.column("value").to_pylist()):
        out.setdefault(day, []).append(value)
    return {k: sorted(v) for k, v in out.items()}


def delta_read(path, version: int | None = None) -> dict[str, list[int]]:
    dt = DeltaTable(str(path), version=version) if version is not None else DeltaTable(str(path))
    return by_key(dt.to_pyarrow_table())


@pytest.fixture
def table(tmp_path) -> AssetTable:
    return AssetTable(tmp_path / "asset", partitioned=True)


def test_staged_file_is_invisible_until_publish(table):
    publish(table, {"2024-01-01": rows("2024-01-01")}, "r1")
    staged = stage(table.uri, "2024-01-02", rows("2024-01-02"), run_id="r2", table_schema=table.schema())

    assert os.path.isfile(os.path.join(table.uri, staged.path))
    assert os.path.basename(staged.path).startswith(STAGED_PREFIX)
    assert delta_read(table.path) == {"2024-01-01": [0, 1, 2]}
    assert set(table.files()) == {"2024-01-01"}

    version = table.publish([staged], replaced={}, run_id="r2")

    assert version == 1
    assert delta_read(table.path) == {"2024-01-01": [0, 1, 2], "2024-01-02": [0, 1, 2]}


def test_stage_into_a_new_table_creates_no_delta_log(table):
    stage(table.uri, "2024-01-01", rows("2024-01-01"), run_id="r1", table_schema=None)
    assert not table.exists()
    with pytest.raises(UnknownObjectError):
        table.read()


def test_publish_replaces_only_the_given_partitions(table):
    publish(table, {k: rows(k) for k in ("2024-01-01", "2024-01-02", "2024-01-03")}, "r1")
    before = table.files()

    publish(table, {"2024-01-02": rows("2024-01-02", n=2, base=100)}, "r2")

    after = table.files()
    assert delta_read(table.path) == {"2024-01-01": [0, 1, 2], "2024-01-02": [100, 101], "2024-01-03": [0, 1, 2]}
    assert after["2024-01-01"] == before["2024-01-01"]
    assert after["2024-01-03"] == before["2024-01-03"]
    assert after["2024-01-02"] != before["2024-01-02"] and len(after["2024-01-02"]) == 1


def test_several_partitions_publish_as_one_version(table):
    v0 = publish(table, {"2024-01-01": rows("2024-01-01")}, "r1")
    v1 = publish(table, {k: rows(k, base=10) for k in ("2024-01-01", "2024-01-02", "2024-01-03")}, "r2")

    assert (v0, v1) == (0, 1)
    assert table.version() == 1
    assert delta_read(table.path, version=0) == {"2024-01-01": [0, 1, 2]}
    assert delta_read(table.path, version=1) == {k: [10, 11, 12] for k in ("2024-01-01", "2024-01-02", "2024-01-03")}


def test_reader_pinned_to_a_version_keeps_seeing_it(table):
    publish(table, {k: rows(k) for k in ("2024-01-01", "2024-01-02")}, "r1")
    reader = DeltaTable(table.uri, version=0)

    # a whole new publish happens while the reader holds version 0: it replaces both partitions
    staged = [stage(table.uri, k, rows(k, base=50), run_id="r2", table_schema=table.schema()) for k in ("2024-01-01", "2024-01-02")]
    assert by_key(reader.to_pyarrow_table()) == {"2024-01-01": [0, 1, 2], "2024-01-02": [0, 1, 2]}
    table.publish(staged, replaced=table.files(), run_id="r2")

    old = by_key(reader.to_pyarrow_table())
    new = delta_read(table.path)
    assert old == {"2024-01-01": [0, 1, 2], "2024-01-02": [0, 1, 2]}
    assert new == {"2024-01-01": [50, 51, 52], "2024-01-02": [50, 51, 52]}
    # a fresh reader sees either the old or the new table, never partitions from both
    assert delta_read(table.path) in (old, new)


def test_files_and_read_at_an_older_version(table):
    publish(table, {"2024-01-01": rows("2024-01-01")}, "r1")
    files_v0 = table.files(0)
    publish(table, {"2024-01-01": rows("2024-01-01", base=7)}, "r2")

    assert table.files(0) == files_v0
    assert table.files(1) == table.files() != files_v0
    assert table.read(["2024-01-01"], version=0).column("value").to_pylist() == [0, 1, 2]
    assert table.read(["2024-01-01"]).column("value").to_pylist() == [7, 8, 9]
    # the replaced file is still on disk for time travel
    assert all(os.path.isfile(os.path.join(table.uri, p)) for p in files_v0["2024-01-01"])


def test_read_selects_partitions_and_columns(table):
    publish(table, {k: rows(k) for k in ("2024-01-01", "2024-01-02")}, "r1")
    got = table.read(["2024-01-02"], columns=["value"])
    assert got.column_names == ["value"]
    assert got.column("value").to_pylist() == [0, 1, 2]
    assert PARTITION_COLUMN not in table.read().column_names
    assert table.read(["2099-01-01"]).num_rows == 0


def test_unpartitioned_table(tmp_path):
    table = AssetTable(tmp_path / "flat", partitioned=False)
    publish(table, {UNPARTITIONED_KEY: pa.table({"day": ["a", "b"], "value": [1, 2]})}, "r1")
    publish(table, {UNPARTITIONED_KEY: pa.table({"day": ["c"], "value": [3]})}, "r2")

    assert list(table.files()) == [UNPARTITIONED_KEY]
    assert len(table.files()[UNPARTITIONED_KEY]) == 1
    assert table.read().to_pydict() == {"day": ["c"], "value": [3]}
    assert table.read(version=0).to_pydict() == {"day": ["a", "b"], "value": [1, 2]}
    assert DeltaTable(table.uri).metadata().partition_columns == []
    assert DeltaTable(table.uri).to_pyarrow_table().to_pydict() == {"day": ["c"], "value": [3]}


def test_a_column_added_by_a_later_publish_is_readable(table):
    publish(table, {"2024-01-01": rows("2024-01-01")}, "r1")
    wider = rows("2024-01-02").append_column("note", pa.array(["x", "y", "z"]))
    publish(table, {"2024-01-02": wider}, "r2")

    assert table.schema().names == ["day", "value", "note"]
    got = table.read().sort_by("day")
    assert got.column("note").to_pylist() == [None, None, None, "x", "y", "z"]
    assert table.read(["2024-01-01"]).column("note").null_count == 3
    # Delta readers agree, and the old version keeps its old schema
    assert DeltaTable(table.uri).to_pyarrow_table().column("note").null_count == 3
    assert table.read(version=0).column_names == ["day", "value"]


def test_normalize_casts_to_delta_compatible_types():
    t = pa.table(
        {
            "u8": pa.array([1, 255], pa.uint8()),
            "u32": pa.array([1, 4_000_000_000], pa.uint32()),
            "u64": pa.array([1, 2], pa.uint64()),
            "ls": pa.array(["a", "b"], pa.large_string()),
            "ts": pa.array([datetime(2024, 1, 1, 1, 2, 3), None], pa.timestamp("ns")),
            "tstz": pa.array([datetime(2024, 1, 1, tzinfo=UTC)] * 2, pa.timestamp("ns", tz="Europe/Paris")),
            "nothing": pa.nulls(2, pa.int64()),
        }
    )
    out = normalize(t)
    types = {f.name: f.type for f in out.schema}
    assert types == {
        "u8": pa.int16(),
        "u32": pa.int64(),
        "u64": pa.int64(),
        "ls": pa.string(),
        "ts": pa.timestamp("us"),
        "tstz": pa.timestamp("us", tz="UTC"),
        "nothing": pa.null(),  # no value: the type of the table, or of the partitions that have one
    }
    assert out.column("u32").to_pylist() == [1, 4_000_000_000]
    assert out.column("ts").to_pylist() == [datetime(2024, 1, 1, 1, 2, 3), None]
    assert out.column("nothing").null_count == 2


def test_normalize_refuses_the_partition_column_name():
    with pytest.raises(DataError, match=f"{PARTITION_COLUMN!r} is reserved"):
        normalize(pa.table({PARTITION_COLUMN: ["x"], "v": [1]}))


def test_normalized_table_publishes_to_delta(table):
    t = pa.table({"day": ["d"], "value": pa.array([7], pa.uint64()), "when": pa.array([1_000], pa.timestamp("ns")), "gap": pa.nulls(1)})
    publish(table, {"2024-01-01": t}, "r1")
    got = DeltaTable(table.uri).to_pyarrow_table()
    assert got.column("value").to_pylist() == [7]
    assert got.column("when").to_pylist() == [datetime(1970, 1, 1, 0, 0, 0, 1)]
    assert "gap" not in got.column_names  # joins the table with the first partition that has a value in it
    publish(table, {"2024-01-02": pa.table({"day": ["e"], "value": [8], "when": pa.array([1_000], pa.timestamp("us")), "gap": [1.5]})}, "r2")
    got = DeltaTable(table.uri).to_pyarrow_table().sort_by("day")
    assert got.column("gap").to_pylist() == [None, 1.5]


def test_a_partition_key_is_escaped_in_its_folder_and_read_back_exactly(table):
    from weir.storage.delta import partition_folder

    assert partition_folder("2024-01-05") == f"{PARTITION_COLUMN}=2024-01-05"
    assert partition_folder("2024-10-27T02+0100") == f"{PARTITION_COLUMN}=2024-10-27T02+0100"
    assert partition_folder("New York?") == f"{PARTITION_COLUMN}=New%20York%3F"
    assert partition_folder("Zürich") == f"{PARTITION_COLUMN}=Zürich"
    publish(table, {"50% off": pa.table({"v": [1]})}, "r1")
    assert list(table.files()) == ["50% off"]
    assert table.read(["50% off"]).column("v").to_pylist() == [1]


def test_normalize_aligns_null_and_narrow_columns_with_the_table_schema():
    target = pa.schema([("a", pa.int64()), ("b", pa.float64()), ("c", pa.float64()), ("d", pa.int64())])
    data = pa.table({"a": pa.array([1], pa.int32()), "b": pa.nulls(1), "c": [2], "d": pa.nulls(1, pa.string())})
    out = normalize(data, target)
    assert out.schema == target


def test_normalize_leaves_a_wider_or_other_type_for_the_audit_to_judge():
    target = pa.schema([("a", pa.int32()), ("b", pa.int64())])
    out = normalize(pa.table({"a": pa.array([1], pa.int64()), "b": ["x"]}), target)
    assert out.schema == pa.schema([("a", pa.int64()), ("b", pa.string())])


def test_normalize_names_the_column_whose_value_cannot_fit():
    t = pa.table({"ok": [1], "big": pa.array([2**63 + 5], pa.uint64())})
    with pytest.raises(DataError, match="'big'"):
        normalize(t)


def test_normalize_rejects_duplicate_column_names():
    t = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["x", "x"])
    with pytest.raises(DataError, match="duplicate"):
        normalize(t)


def test_corrupted_parquet_file_gives_data_error_naming_the_file(table):
    publish(table, {k: rows(k) for k in ("2024-01-01", "2024-01-02")}, "r1")
    [bad] = table.files()["2024-01-02"]
    full = os.path.join(table.uri, bad)
    with open(full, "r+b") as f:
        f.seek(0)
        f.write(b"garbage!" * 64)

    assert table.read(["2024-01-01"]).num_rows == 3
    with pytest.raises(DataError, match=os.path.basename(bad)):
        table.read(["2024-01-02"])


def test_history_lists_run_ids_and_partitions_per_commit(table):
    publish(table, {k: rows(k) for k in ("2024-01-01", "2024-01-02")}, "run-a")
    publish(table, {"2024-01-02": rows("2024-01-02", base=9)}, "run-b")

    history = table.history()
    assert [h.version for h in history] == [1, 0]
    assert [h.run_id for h in history] == ["run-b", "run-a"]
    assert [sorted(h.partitions) for h in history] == [["2024-01-02"], ["2024-01-01", "2024-01-02"]]
    assert [h.version for h in table.history(limit=1)] == [1]


def test_publish_of_nothing_is_refused(table):
    with pytest.raises(ValueError):
        table.publish([], replaced={}, run_id="r")


# -- the table catalog --------------------------------------------------------------------


def test_catalog_places_each_table_under_its_project(tmp_path):
    catalog = TableCatalog(tmp_path / "data")
    assert catalog.uri("shop", "orders") == str(tmp_path / "data" / "shop" / "orders")
    assert catalog.uri("shop", "orders") != catalog.uri("other", "orders")
    assert TableCatalog(f"file://{tmp_path}/data").uri("shop", "orders") == str(tmp_path / "data" / "shop" / "orders")
    assert TableCatalog("s3://bucket/weir/").uri("shop", "orders") == "s3://bucket/weir/shop/orders"


def test_catalog_opens_the_table_it_names(tmp_path):
    catalog = TableCatalog(tmp_path / "data")
    orders = catalog.table("shop", "orders", partitioned=True)
    publish(orders, {"2024-01-01": rows("2024-01-01")}, "r1")

    again = catalog.table("shop", "orders")
    assert again.uri == orders.uri
    assert again.read().num_rows == 3


def test_catalog_reads_whether_an_existing_table_is_partitioned(tmp_path):
    catalog = TableCatalog(tmp_path / "data")
    whole = catalog.table("shop", "totals", partitioned=False)
    publish(whole, {UNPARTITIONED_KEY: rows("all")}, "r1")
    publish(catalog.table("shop", "daily", partitioned=True), {"2024-01-01": rows("2024-01-01")}, "r1")

    assert catalog.table("shop", "totals").partitioned is False
    assert catalog.table("shop", "daily").partitioned is True
    assert catalog.table("shop", "not_yet_built").partitioned is True


def test_catalog_refuses_a_table_location_it_cannot_write_yet():
    with pytest.raises(ConfigError, match="s3://bucket/weir/shop/orders"):
        TableCatalog("s3://bucket/weir").table("shop", "orders")
