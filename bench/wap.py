"""Write-audit-publish overhead: weir's stage() + AssetTable.publish() vs plain write_deltalake.

Both sides write the same Arrow data (N partitions x 50k rows x 10 columns) into a Delta table
partitioned by ``partition_key``, on local disk, timed with a warm process:

* weir:     stage() each partition (normalize + one Parquet file, invisible to readers), then one
            AssetTable.publish() commit adding them (and removing the old files on a re-publish).
            This is the path the runner takes; the audit step in between is weir's PassAll.
* baseline: one deltalake.write_deltalake(..., partition_by=["partition_key"]) call:
            mode="append" into a fresh table, or mode="overwrite" with a predicate naming the
            partitions when replacing them.

The ratio weir / baseline is the cost of staging + atomic publish (target <= 1.3x); medians of
interleaved repeats, with the best-of-N ratio alongside (less sensitive to a busy machine).
weir writes zstd Parquet; deltalake's default is snappy, so a zstd baseline is reported too.
weir stages partitions one after another in this process (as the in-process executor does);
deltalake's Rust writer may use several threads, so CPU seconds (all threads) are compared too.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

TARGET_RATIO = 1.3


def _cpu() -> float:
    """CPU seconds of this process, all threads (deltalake's writer threads included)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def make_partition(key: str, rows: int, seed: int) -> pa.Table:
    """A realistic 10-column partition: ids, measures, categories, a timestamp, a flag."""
    rng = np.random.default_rng(seed)
    cats = np.array(["north", "south", "east", "west", "central"])
    codes = np.array([f"SKU-{i:05d}" for i in range(2000)])
    base = np.datetime64(f"{key}T00:00:00", "us")
    return pa.table(
        {
            "id": pa.array(np.arange(rows, dtype=np.int64) + seed * rows),
            "customer_id": pa.array(rng.integers(0, 100_000, rows, dtype=np.int64)),
            "quantity": pa.array(rng.integers(1, 50, rows, dtype=np.int32)),
            "price": pa.array(rng.random(rows) * 100),
            "discount": pa.array(rng.random(rows) * 0.3),
            "amount": pa.array(rng.normal(100, 25, rows)),
            "region": pa.array(cats[rng.integers(0, len(cats), rows)]),
            "sku": pa.array(codes[rng.integers(0, len(codes), rows)]),
            "ordered_at": pa.array(base + rng.integers(0, 86_400_000_000, rows).astype("timedelta64[us]")),
            "returned": pa.array(rng.random(rows) < 0.05),
        }
    )


def dataset(partitions: int, rows: int) -> dict[str, pa.Table]:
    from datetime import date, timedelta

    keys = [(date(2024, 1, 1) + timedelta(days=i)).isoformat() for i in range(partitions)]
    return {k: make_partition(k, rows, i) for i, k in enumerate(keys)}


def with_key(parts: dict[str, pa.Table]) -> pa.Table:
    return pa.concat_tables([t.append_column("partition_key", pa.array([k] * t.num_rows, pa.string())) for k, t in parts.items()])


def weir_write(path: Path, parts: dict[str, pa.Table], run_id: str, cpu: list[float] | None = None) -> float:
    """stage() every partition, then one publish commit; returns seconds."""
    from weir.storage.delta import AssetTable, stage

    table = AssetTable(path, partitioned=True)
    c0 = _cpu()
    t0 = time.perf_counter()
    schema = table.schema()
    replaced = table.files()
    staged = [stage(str(path), k, data, run_id=run_id, table_schema=schema) for k, data in parts.items()]
    table.publish(staged, replaced={s.key: replaced.get(s.key, []) for s in staged}, run_id=run_id)
    seconds = time.perf_counter() - t0
    if cpu is not None:
        cpu.append(_cpu() - c0)
    return seconds


def baseline_write(
    path: Path, data: pa.Table, keys: list[str], *, mode: str, zstd: bool, cpu: list[float] | None = None
) -> float:
    from deltalake import WriterProperties, write_deltalake

    props = WriterProperties(compression="ZSTD") if zstd else None
    predicate = None
    if mode == "overwrite":
        predicate = "partition_key IN (" + ", ".join(f"'{k}'" for k in keys) + ")"
    c0 = _cpu()
    t0 = time.perf_counter()
    write_deltalake(str(path), data, partition_by=["partition_key"], mode=mode, predicate=predicate, writer_properties=props)
    seconds = time.perf_counter() - t0
    if cpu is not None:
        cpu.append(_cpu() - c0)
    return seconds


def main(quick: bool = False) -> dict:
    partitions, rows = (5, 20_000) if quick else (20, 50_000)
    repeats = 2 if quick else 5
    print(f"## wap: {partitions} partitions x {rows:,} rows x 10 columns{' [quick]' if quick else ''}")
    parts = dataset(partitions, rows)
    keys = list(parts)
    combined = with_key(parts)
    times: dict[str, list[float]] = {k: [] for k in ("weir_append", "delta_append", "delta_append_zstd", "weir_replace", "delta_replace", "delta_replace_zstd")}
    cpu: dict[str, list[float]] = {k: [] for k in times}
    tmp = Path(tempfile.mkdtemp(prefix="weir-bench-wap-"))
    try:
        # warm-up: first imports and first Delta/Parquet calls are not what is measured
        weir_write(tmp / "warm-w", dict(list(parts.items())[:1]), "warm")
        baseline_write(tmp / "warm-d", combined.slice(0, 1000), keys[:1], mode="append", zstd=False)
        for r in range(repeats):
            # interleaved so machine noise hits both sides alike
            w, d, z = tmp / f"w{r}", tmp / f"d{r}", tmp / f"z{r}"
            times["weir_append"].append(weir_write(w, parts, f"bench-{r}-a", cpu["weir_append"]))
            times["delta_append"].append(baseline_write(d, combined, keys, mode="append", zstd=False, cpu=cpu["delta_append"]))
            times["delta_append_zstd"].append(
                baseline_write(z, combined, keys, mode="append", zstd=True, cpu=cpu["delta_append_zstd"])
            )
            times["weir_replace"].append(weir_write(w, parts, f"bench-{r}-b", cpu["weir_replace"]))
            times["delta_replace"].append(
                baseline_write(d, combined, keys, mode="overwrite", zstd=False, cpu=cpu["delta_replace"])
            )
            times["delta_replace_zstd"].append(
                baseline_write(z, combined, keys, mode="overwrite", zstd=True, cpu=cpu["delta_replace_zstd"])
            )
        # sanity: same rows visible on both sides
        from deltalake import DeltaTable

        from weir.storage.delta import AssetTable

        assert AssetTable(tmp / "w0", partitioned=True).read().num_rows == combined.num_rows
        assert DeltaTable(str(tmp / "d0")).to_pyarrow_table().num_rows == combined.num_rows

        def live_bytes(path: Path) -> int:
            actions = pa.table(DeltaTable(str(path)).get_add_actions(flatten=True))
            return int(sum(actions.column("size_bytes").to_pylist()))

        sizes = {"weir": live_bytes(tmp / "w0"), "delta": live_bytes(tmp / "d0"), "delta_zstd": live_bytes(tmp / "z0")}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    best = {k: min(v) for k, v in times.items()}
    cpu_med = {k: statistics.median(v) for k, v in cpu.items()}
    out = {
        "partitions": partitions,
        "rows_per_partition": rows,
        "columns": 10,
        "repeats": repeats,
        "seconds": {k: round(v, 3) for k, v in med.items()},
        "best_seconds": {k: round(v, 3) for k, v in best.items()},
        "table_megabytes": {k: round(v / 1e6, 1) for k, v in sizes.items()},
        "cpu_seconds": {k: round(v, 3) for k, v in cpu_med.items()},
        "append_cpu_ratio": round(cpu_med["weir_append"] / cpu_med["delta_append"], 3),
        "replace_cpu_ratio": round(cpu_med["weir_replace"] / cpu_med["delta_replace"], 3),
        "append_ratio_best": round(best["weir_append"] / best["delta_append"], 3),
        "replace_ratio_best": round(best["weir_replace"] / best["delta_replace"], 3),
        "append_ratio": round(med["weir_append"] / med["delta_append"], 3),
        "append_ratio_zstd": round(med["weir_append"] / med["delta_append_zstd"], 3),
        "replace_ratio": round(med["weir_replace"] / med["delta_replace"], 3),
        "replace_ratio_zstd": round(med["weir_replace"] / med["delta_replace_zstd"], 3),
        "target_ratio": TARGET_RATIO,
        "quick": quick,
    }
    out["target_met"] = max(out["append_ratio"], out["replace_ratio"]) <= TARGET_RATIO
    for what in ("append", "replace"):
        print(
            f"  {what:8s} weir {med['weir_' + what]:6.3f} s | write_deltalake {med['delta_' + what]:6.3f} s (snappy), "
            f"{med['delta_' + what + '_zstd']:6.3f} s (zstd) | ratio {out[what + '_ratio']:.2f}x, "
            f"{out[what + '_ratio_zstd']:.2f}x vs zstd; best-of-{repeats} ratio {out[what + '_ratio_best']:.2f}x; "
            f"CPU-time ratio {out[what + '_cpu_ratio']:.2f}x"
        )
    mb = out["table_megabytes"]
    print(f"  published table size: weir {mb['weir']} MB, write_deltalake {mb['delta']} MB (snappy), {mb['delta_zstd']} MB (zstd)")
    print(f"  target <= {TARGET_RATIO}x: {'met' if out['target_met'] else 'MISSED'}")
    return out


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    main(p.parse_args().quick)
