"""Trust on insights: an insight is **broken** when an open incident has blocked or failed data
upstream of it, **suspect** when an open incident touches its inputs otherwise, and **trusted**
when none does. Derived from the incidents and the lineage on each read: nothing to keep in
sync."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from weir.incidents.grouping import BROKEN


def trust(insights: Iterable[Any], upstream: dict[str, set[str]], active: list[dict],
          members: dict[int, list[dict]]) -> list[dict]:
    """Per insight: ``{insight, status, owners, url, incidents, because}`` where ``upstream``
    maps an insight to every asset and source it rests on."""
    out = []
    for insight in insights:
        above = upstream.get(insight.name, set())
        hits: list[tuple[dict, list[dict]]] = []
        for incident in active:
            touching = [m for m in members.get(incident["id"], []) if m["asset"] in above]
            if touching:
                hits.append((incident, touching))
        broken = any(m["kind"] in BROKEN for _, touching in hits for m in touching)
        status = "broken" if broken else "suspect" if hits else "trusted"
        because = [f"incident {i['id']}: {i['title']}" for i, _ in hits]
        out.append({"insight": insight.name, "status": status, "owners": list(insight.owners), "url": insight.url,
                    "incidents": [i["id"] for i, _ in hits],
                    "partitions": sorted({f"{m['asset']} {m['partition_key']}" for _, t in hits for m in t}),
                    "because": because})
    return out
