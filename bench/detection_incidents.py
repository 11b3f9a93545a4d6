"""Incidents on a delivered history: did each injected fault open an incident (on its day or the
next two), did it open exactly one, and how many incidents opened on clean days. Incidents come
from the events logged while the history was delivered (``ws.incidents.sync``).

And the diagnosis of each fault's incident (of its root partition, as ``weir incidents show``
gives it): whether its first cause is right, and whether it says the pipeline broke or the world
changed. Every injected fault is in a source delivery and nothing else changes while a history is
delivered, so a first cause is right when it points at the data: ``input data`` (a partition it
read, or the delivery itself, is blocked or anomalous) or ``data`` (the data itself moved, nothing
in the pipeline did: what a delivery that was admitted can only be); it is wrong when it blames
code, configuration or libraries. The measure guards against blaming the pipeline; it cannot tell
one data cause from the other."""

from __future__ import annotations

import time

from detection_inject import KINDS

RIGHT_CAUSES = ("input data", "data")


def observe_incidents(ws) -> list[dict]:
    """Every incident with its members' partitions and its diagnosis as the data team gets it
    (``weir incidents show``): the first cause's kind, the verdict and how long the diagnosis took
    (None when the root was never built); and how long after its first trigger was logged its
    notification was queued (None when the history was delivered without routes)."""
    from weir.incidents.grouping import BROKEN

    ws.incidents.sync()
    store = ws.store
    with store.read():
        queued = {}
        for row in store.outbox.select(ws.project.name):
            if row["change"] == "opened":
                queued[row["incident_id"]] = min(row["created_at"], queued.get(row["incident_id"], row["created_at"]))
    out = []
    for row in ws.incidents.list(sync=False):
        detail = ws.incidents.show(row["id"])
        members = detail["member_list"]
        cause = verdict = seconds = None
        if row["root_partition"]:
            t0 = time.perf_counter()
            diagnosis = ws.incidents.diagnose_incident(row, members)
            seconds = time.perf_counter() - t0
            if diagnosis is not None:
                cause = diagnosis["causes"][0]["kind"] if diagnosis["causes"] else None
                verdict = diagnosis["classification"]["verdict"]
        latency = queued[row["id"]] - members[0]["at"] if row["id"] in queued and members else None
        out.append({"id": row["id"], "root": row["root_partition"], "root_asset": row["root_asset"],
                    "partitions": sorted({m["partition_key"] for m in members if m["partition_key"]}),
                    "broken": any(m["kind"] in BROKEN for m in members), "cause": cause, "verdict": verdict,
                    "diagnosis_seconds": seconds, "queued_seconds": latency})
    return out


def _fault_incident(day: str, touching: list[dict]) -> dict | None:
    """The incident that diagnoses a fault: the one rooted on its day, else the first that touches it."""
    return next((i for i in touching if i["root"] == day), touching[0] if touching else None)


def score_diagnoses(days: list[str], plan: dict[str, str], incidents: list[dict], max_delay: int = 2) -> dict:
    """Per injected kind: faults whose incident has a diagnosis, how many put a right cause first,
    the first causes and the verdicts; and the diagnosis time per incident."""
    index = {d: i for i, d in enumerate(days)}
    per_kind: dict[str, dict] = {k: {"diagnosed": 0, "top1_right": 0, "first_causes": {}, "verdicts": {}} for k in KINDS}
    for day, kind in plan.items():
        window = {days[index[day] + k] for k in range(max_delay + 1) if index[day] + k < len(days)}
        incident = _fault_incident(day, [i for i in incidents if window & set(i["partitions"])])
        if incident is None or incident.get("verdict") is None:
            continue
        k = per_kind[kind]
        k["diagnosed"] += 1
        k["top1_right"] += incident["cause"] in RIGHT_CAUSES
        k["first_causes"][incident["cause"]] = k["first_causes"].get(incident["cause"], 0) + 1
        k["verdicts"][incident["verdict"]] = k["verdicts"].get(incident["verdict"], 0) + 1
    for k in per_kind.values():
        k["top1_rate"] = k["top1_right"] / k["diagnosed"] if k["diagnosed"] else None
    seconds = [i["diagnosis_seconds"] for i in incidents if i.get("diagnosis_seconds") is not None]
    diagnosed = sum(k["diagnosed"] for k in per_kind.values())
    return {"kinds": per_kind, "diagnosed": diagnosed, "top1_right": sum(k["top1_right"] for k in per_kind.values()),
            "seconds_mean": sum(seconds) / len(seconds) if seconds else None, "seconds_max": max(seconds, default=None)}


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
    out["diagnosis"] = score_diagnoses(days, plan, incidents, max_delay)
    waits = sorted(i["queued_seconds"] for i in incidents if i.get("queued_seconds") is not None)
    out["queued_seconds"] = {"median": waits[len(waits) // 2], "max": waits[-1], "n": len(waits)} if waits else None
    return out


def incident_lines(s: dict) -> list[str]:
    recall = ", ".join(f"{k} {v['opened']}/{v['injected']}" for k, v in s["kinds"].items() if v["injected"])
    lines = [f"- incidents: {s['incidents']} in all; faults that opened one (on the day or the next two): {recall}",
             f"- caught faults with exactly one incident (day or the next two): {s['one_incident_per_fault']:.2f}; incidents opened on "
             f"clean days per 100 clean partitions: {s['incidents_per_100_clean']:.1f}"
             + (f" (ordinary days: {s['incidents_per_100_ordinary']:.1f})" if s.get("incidents_per_100_ordinary") is not None else "")]
    q = s.get("queued_seconds")
    if q:
        lines.append(f"- from a trigger logged to its notification queued (the run's end, then the sync): "
                     f"median {q['median']:.2f} s, max {q['max']:.2f} s over {q['n']} incidents")
    d = s.get("diagnosis")
    if d:
        lines += diagnosis_lines(d)
    return lines


def _counts(counts: dict) -> str:
    return ", ".join(f"{k} {n}" for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0]))))


def diagnosis_lines(d: dict) -> list[str]:
    """The diagnosis of each fault's incident, per kind: first cause right, first causes, verdicts."""
    right = ", ".join(f"{k} {v['top1_right']}/{v['diagnosed']}" for k, v in d["kinds"].items() if v["diagnosed"])
    lines = [f"- diagnosis of each fault's incident, first cause right ({' or '.join(RIGHT_CAUSES)}): "
             f"{d['top1_right']}/{d['diagnosed']} ({right or 'none diagnosed'})"]
    for kind, v in d["kinds"].items():
        if v["diagnosed"]:
            lines.append(f"  - {kind}: first cause {_counts(v['first_causes'])}; {_counts(v['verdicts'])}")
    if d["seconds_max"] is not None:
        lines.append(f"- diagnosis per incident: mean {d['seconds_mean'] * 1000:.0f} ms, max {d['seconds_max'] * 1000:.0f} ms")
    return lines
