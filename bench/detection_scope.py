"""What the multi-day benchmark measures at the end of a fault, after a partial fix and after
the full fix, from what weir stores and answers (no figure is recomputed by the benchmark):

- the **incidents** that touch a fault: those with a member or a scope row on one of its bad
  partitions;
- the **scope share**: the share of the bad partitions inside the scope of an incident
  (``store.incidents.scope``);
- **wrongly trusted**: bad partitions the insight is declared trusted for (``ws.incidents.trust``:
  status ``trusted``, or ``trusted_through`` at or after the partition's day);
- **restored**: a bad partition whose published data equals a clean build's (a reference
  workspace built from the clean files with the good code); a source partition, when the clean
  file lies in the landing folder and was admitted after it landed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

Partition = tuple[str, str]  # (asset or source, day)


def incidents_touching(ws, bad: set[Partition]) -> tuple[list[dict], set[Partition]]:
    """The incidents with a member or a scope row on a partition of ``bad`` (oldest first, each
    with its state, reason, cause and the bad partitions it holds), and every partition of
    ``bad`` inside the scope of any incident."""
    store = ws.store
    with store.read():
        rows = store.incidents.select(ws.project.name)
        ids = [r["id"] for r in rows]
        members = store.incidents.members(ids)
        scopes = store.incidents.scope(ids)
    in_scope: set[Partition] = set()
    out = []
    for r in sorted(rows, key=lambda r: r["id"]):
        scope = {(s["asset"], s["partition_key"]) for s in scopes.get(r["id"], [])}
        touched = {(m["asset"], m["partition_key"]) for m in members.get(r["id"], [])} | scope
        in_scope |= scope & bad
        if touched & bad:
            cause = (r.get("cause") or {}).get("kind")
            left = sum(1 for s in scopes.get(r["id"], []) if s["fixed_run_id"] is None)
            out.append({"id": r["id"], "state": r["state"], "reason": r["reason"], "cause": cause,
                        "root": f"{r['root_asset']} {r['root_partition']}", "scope": len(scope), "left": left,
                        "holds": len(scope & bad)})
    return out, in_scope


def open_ids(ws) -> list[int]:
    with ws.store.read():
        return [r["id"] for r in ws.store.incidents.select(ws.project.name, states=("open", "acknowledged"))]


def touched_by(ws, ids: list[int]) -> dict[int, set[Partition]]:
    """Per incident, the partitions its members and its scope name."""
    store = ws.store
    with store.read():
        members, scopes = store.incidents.members(ids), store.incidents.scope(ids)
    return {i: {(m["asset"], m["partition_key"]) for m in members.get(i, [])}
            | {(s["asset"], s["partition_key"]) for s in scopes.get(i, [])} for i in ids}


def wrongly_trusted(ws, insight: str, bad: set[Partition]) -> dict:
    """How many of ``bad`` the insight is declared trusted for, with its status and the
    partition it is trusted through."""
    [row] = ws.incidents.trust(insight, sync=False)
    through = row["trusted_through"]
    wrong = sorted(p for p in bad if row["status"] == "trusted" or (through is not None and through >= p[1]))
    return {"bad": len(bad), "wrongly_trusted": len(wrong), "status": row["status"], "trusted_through": through,
            "first_wrong": [f"{a} {k}" for a, k in wrong[:3]]}


def _clean(frame: pd.DataFrame) -> pd.DataFrame:
    cols = sorted(c for c in frame.columns if not c.startswith("_"))
    return frame[cols].sort_values(cols, na_position="first").reset_index(drop=True)


def same_data(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    a, b = _clean(a), _clean(b)
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return False
    try:
        pd.testing.assert_frame_equal(a, b, check_dtype=False, rtol=1e-9, atol=1e-12)
    except AssertionError:
        return False
    return True


def restored(ws, reference, source: str, landing: Path, clean_text: dict[str, str], landed: dict[str, float],
             partitions: set[Partition]) -> list[Partition]:
    """The partitions of ``partitions`` not restored (see the module's docstring)."""
    from weir.errors import WeirError

    with ws.store.read():
        admitted = ws.store.sources.get(ws.project.name, source)
    out = []
    for asset, key in sorted(partitions):
        if asset == source:
            path = landing / f"{key}.csv"
            row = admitted.get(key) or {}
            good = (path.exists() and path.read_text() == clean_text[key] and row.get("state") == "accepted"
                    and row.get("checked_at", 0) >= landed.get(key, 0))
        else:
            try:
                good = same_data(ws.data.read(asset, key).to_pandas(), reference.data.read(asset, key).to_pandas())
            except WeirError:  # not published
                good = False
        if not good:
            out.append((asset, key))
    return out
