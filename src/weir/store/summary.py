"""Folding the per-(asset, code version) aggregates of the ``partitions`` table into one
summary per asset, and the rows of blocked partitions into one per partition. Shared by the
repositories and the light reader, which must agree."""

from __future__ import annotations

from collections.abc import Iterable


def fold(rows: Iterable) -> dict[str, dict]:
    """``rows``: (asset, code_version, published, rows, first, last, published_at) per pair."""
    out: dict[str, dict] = {}
    for asset, code, n, total, first, last, at in rows:
        s = out.setdefault(asset, {"asset": asset, "published": 0, "rows": None, "first": None, "last": None,
                                   "published_at": None, "code_versions": 0, "by_code": {}})
        s["published"] += n
        if total is not None:
            s["rows"] = (s["rows"] or 0) + total
        s["first"] = first if s["first"] is None or (first is not None and first < s["first"]) else s["first"]
        s["last"] = last if s["last"] is None or (last is not None and last > s["last"]) else s["last"]
        s["published_at"] = at if s["published_at"] is None or (at is not None and at > s["published_at"]) else s["published_at"]
        s["code_versions"] += 1
        s["by_code"][code] = n
    return out


def blocked_rows(rows: Iterable[dict]) -> list[dict]:
    """One row per (asset, partition_key), the ``data`` of its blocked event reduced to the
    checks version the block was judged by (``checks``, None if not recorded)."""
    out: dict[tuple[str, str], dict] = {}
    for r in rows:
        data = r.pop("data") or {}
        out.setdefault((r["asset"], r["partition_key"]), {**r, "checks": data.get("checks")})
    return list(out.values())
