"""Close runs whose process died, and record what they published before dying."""

from __future__ import annotations

import time

from weir.engine.heartbeat import is_dead
from weir.events import Event, EventKind
from weir.storage.delta import AssetTable
from weir.store.store import MetadataStore


def reap_dead_runs(store: MetadataStore, table_for) -> list[dict]:
    """Mark dead active runs failed. Delta commits a dead run made but never recorded (killed
    between the commit and the metadata write) are recorded, so data and metadata agree.
    ``table_for(project, asset)`` returns the AssetTable. Returns the runs closed."""
    closed = []
    with store.read():
        active = store.runs.active()
    for run in active:
        why = is_dead(run)
        if why is None:
            continue
        with store.read():
            tasks = store.runs.tasks(run["id"])
            recorded = store.partitions.published_by_run(run["project"], run["id"])
        rows = []
        for asset in sorted({t["asset"] for t in tasks}):
            table: AssetTable = table_for(run["project"], asset)
            code = {t["partition_key"]: t for t in tasks if t["asset"] == asset}
            for commit in table.history(limit=50):
                if commit.run_id != run["id"]:
                    continue
                for key in commit.partitions:
                    if (asset, key) in recorded or key not in code:
                        continue
                    recorded.add((asset, key))
                    rows.append(
                        {
                            "project": run["project"], "asset": asset, "partition_key": key, "version": commit.version,
                            "run_id": run["id"], "code_version": code[key]["code_version"],
                            "input_versions": code[key]["input_versions"], "row_count": code[key]["row_count"],
                            "published_at": commit.timestamp_ms / 1000,
                        }
                    )
        with store.transaction():
            store.partitions.record_published(rows)
            store.runs.unfinished_tasks_to(run["id"], "failed", f"run died: {why}")
            counts = store.runs.task_counts(run["id"])
            store.runs.update(
                run["id"], state="failed", finished_at=time.time(), error=f"run died: {why}",
                summary={"counts": counts, "recovered_publishes": len(rows)},
            )
            store.emit(
                *(Event(kind=EventKind.PARTITION_PUBLISHED, project=r["project"], asset=r["asset"],
                        partition_key=r["partition_key"], run_id=r["run_id"],
                        data={"version": r["version"], "rows": r["row_count"], "state": "succeeded",
                              "code_version": r["code_version"], "inputs": r["input_versions"], "recovered": True})
                  for r in rows),
                Event(kind=EventKind.RUN_FINISHED, project=run["project"], run_id=run["id"],
                      data={"state": "failed", "counts": counts, "error": f"run died: {why}"}),
            )
        closed.append({**run, "error": why})
    return closed
