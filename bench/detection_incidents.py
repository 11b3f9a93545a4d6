"""Incidents on a delivered history: did each injected fault open an incident (on its day or the
next two), did it open exactly one, and how many incidents opened on clean days. Incidents come
from the events logged while the history was delivered (``ws.incidents.sync``)."""

from __future__ import annotations

from detection_inject import KINDS


def observe_incidents(ws) -> list[dict]:
    """Every incident with its members' partitions."""
    ws.incidents.sync()
    out = []
    for row in ws.incidents.list(sync=False):
        detail = ws.incidents.show(row["id"])
        out.append({"id": row["id"], "root": row["root_partition"], "root_asset": row["root_asset"],
                    "partitions": sorted({m["partition_key"] for m in detail["member_list"] if m["partition_key"]}),
                    "broken": row["severity"] == "high"})
    return out


def score_incidents(days: list[str], plan: dict[str, str], incidents: list[dict], clean: set[str],
                    ordinary: set[str] | None, max_delay: int = 2) -> dict:
    index = {d: i for i, d in enumerate(days)}
    per_kind: dict[str, dict] = {k: {"injected": 0, "opened": 0, "exactly_one": 0} for k in KINDS}
    for day, kind in plan.items():
        window = {days[index[day] + k] for k in range(max_delay + 1) if index[day] + k < len(days)}
        touching = [i for i in incidents if window & set(i["partitions"])]
        per_kind[kind]["injected"] += 1
        per_kind[kind]["opened"] += bool(touching)
        per_kind[kind]["exactly_one"] += len(touching) == 1
    for k in per_kind.values():
        k["recall"] = k["opened"] / k["injected"] if k["injected"] else None
    faults = len(plan)
    on_clean = [i for i in incidents if i["root"] in clean]
    caught = sum(k["opened"] for k in per_kind.values())
    out = {"kinds": per_kind, "faults": faults, "caught": caught,
           "one_incident_per_fault": sum(k["exactly_one"] for k in per_kind.values()) / caught if caught else None,
           "incidents": len(incidents), "clean_partitions": len(clean),
           "incidents_per_100_clean": 100 * len(on_clean) / len(clean) if clean else None}
    if ordinary is not None:
        on_ordinary = [i for i in on_clean if i["root"] in ordinary]
        out["incidents_per_100_ordinary"] = 100 * len(on_ordinary) / len(ordinary) if ordinary else None
    return out


def incident_lines(s: dict) -> list[str]:
    recall = ", ".join(f"{k} {v['opened']}/{v['injected']}" for k, v in s["kinds"].items() if v["injected"])
    lines = [f"- incidents: {s['incidents']} in all; faults that opened one (on the day or the next two): {recall}",
             f"- caught faults with exactly one incident (day or the next two): {s['one_incident_per_fault']:.2f}; incidents opened on "
             f"clean days per 100 clean partitions: {s['incidents_per_100_clean']:.1f}"
             + (f" (ordinary days: {s['incidents_per_100_ordinary']:.1f})" if s.get("incidents_per_100_ordinary") is not None else "")]
    return lines
