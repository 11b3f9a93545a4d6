"""Runs that overlap never lose or double a partition: publishes of one partition replace what it
holds at commit time, runs take a lease on each partition they build, and two ``weir run``
processes started together leave exactly what one clean run leaves."""

from __future__ import annotations

import threading
from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable

from weir.storage.delta import AssetTable, stage

KEYS = ["2024-01-01", "2024-01-02", "2024-01-03"]


def files_per_partition(table_dir: Path) -> dict[str, int]:
    """How many data files each partition has in the current Delta snapshot."""
    out: dict[str, int] = {}
    for uri in DeltaTable(str(table_dir)).file_uris():
        key = uri.split("partition_key=")[1].split("/")[0] if "partition_key=" in uri else ""
        out[key] = out.get(key, 0) + 1
    return out


def publish_together(table_dir: Path, writers: int, keys: list[str], run: str) -> list[int]:
    """``writers`` threads, each with its own table handle, publish their own build of ``keys`` at once."""
    staged = [
        [stage(str(table_dir), k, pa.table({"value": [w, w]}), run_id=f"{run}{w}", table_schema=None) for k in keys]
        for w in range(writers)
    ]
    barrier = threading.Barrier(writers)
    versions: list[int] = []
    errors: list[BaseException] = []

    def publish(w: int) -> None:
        table = AssetTable(table_dir, partitioned=True)
        believed = table.files()  # what this writer saw before the others committed
        barrier.wait()
        try:
            versions.append(table.publish(staged[w], replaced=believed, run_id=f"{run}{w}"))
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=publish, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return versions


def one_build_per_partition(table_dir: Path) -> None:
    """Each partition holds one writer's build whole: never two files, never a mix."""
    assert files_per_partition(table_dir) == {k: 1 for k in KEYS}
    data = DeltaTable(str(table_dir)).to_pyarrow_table()
    assert data.num_rows == 2 * len(KEYS)
    per_key: dict[str, set[int]] = {}
    for k, v in zip(data.column("partition_key").to_pylist(), data.column("value").to_pylist()):
        per_key.setdefault(k, set()).add(v)
    assert all(len(values) == 1 for values in per_key.values())


def test_writers_racing_to_create_a_table_each_publish_once(tmp_path):
    table_dir = tmp_path / "asset"
    assert sorted(publish_together(table_dir, 4, KEYS, "create")) == [0, 1, 2, 3]
    one_build_per_partition(table_dir)


def test_concurrent_publishes_of_one_partition_leave_one_visible_version(tmp_path):
    table_dir = tmp_path / "asset"
    assert publish_together(table_dir, 1, KEYS, "first") == [0]
    assert sorted(publish_together(table_dir, 4, KEYS[:2], "again")) == [1, 2, 3, 4]
    one_build_per_partition(table_dir)


def test_a_publish_replaces_files_it_was_not_told_about(tmp_path):
    """Another writer published the partition after this one last looked: it is replaced all the same."""
    table_dir = tmp_path / "asset"
    mine = AssetTable(table_dir, partitioned=True)
    mine.publish([stage(str(table_dir), KEYS[0], pa.table({"value": [1]}), run_id="r1", table_schema=None)], replaced={},
                 run_id="r1")
    mine_saw = mine.files()
    other = AssetTable(table_dir, partitioned=True)
    other.publish([stage(str(table_dir), KEYS[0], pa.table({"value": [2]}), run_id="r2", table_schema=None)],
                  replaced=other.files(), run_id="r2")

    version = mine.publish([stage(str(table_dir), KEYS[0], pa.table({"value": [3]}), run_id="r3", table_schema=None)],
                           replaced=mine_saw, run_id="r3")
    assert version == 2
    assert files_per_partition(table_dir) == {KEYS[0]: 1}
    assert DeltaTable(str(table_dir)).to_pyarrow_table().column("value").to_pylist() == [3]
