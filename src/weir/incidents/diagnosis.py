"""What changed since the last good build: the bad partition's build beside the newest good build
of the same asset, from stored facts only (no data is read again). Causes are ranked with their
evidence and the fix that fits each:

- **input data**: the partitions it read that are themselves blocked or raised alerts, and what
  moved in its own output (the monitors' messages);
- **code**: the asset's definition changed (with its diff);
- **configuration**: its settings (partition grid, inputs, model), checks, monitor settings or
  metrics changed, or weir.toml did (``incidents.configuration``);
- **library environment**: packages added, removed, upgraded or downgraded between the two runs;
- **nothing in the pipeline**: the data itself moved.

And the change is classified: **the pipeline broke** (a blocked or malformed delivery, a schema
change, rows dropped or doubled with nothing else moving, a unit change, code, configuration,
library) or **the world changed** (several measures moved together and nothing in the pipeline
did)."""

from __future__ import annotations

import dataclasses
import difflib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from weir.envs.diff import package_diff
from weir.errors import UnknownObjectError
from weir.incidents.configuration import configuration_cause, configuration_diff, shapes_data
from weir.incidents.records import Cause

if TYPE_CHECKING:
    from weir.model.rows import BuildRecord
    from weir.project.graph import Node, Project
    from weir.store.store import MetadataStore

GOOD = ("succeeded", "failed_check")
UNIT_RATIO = 10.0  # a mean this many times off (or a tenth of it) reads as a unit change


def diagnose(project: Project, store: MetadataStore, asset: str, key: str) -> dict[str, Any]:
    """The diagnosis of ``asset`` partition ``key`` (a source or an asset)."""
    name = project.name
    node = project.node(asset)
    is_source = node.kind == "source"
    with store.read():
        bad = None if is_source else next(iter(store.runs.builds(name, asset, key=key)), None)
        if not is_source and bad is None:
            raise UnknownObjectError(f"{asset!r} partition {key!r} has never been built")
        # the last good build: from an earlier run than this build's (a run that rebuilt everything
        # with new code is compared with the one before it), of this partition if that run built
        # it, else of the partition before it (yesterday's), else of any
        good = None
        if bad is not None:
            # "last good" means good: never a build that was part of an open incident or of one fixed since
            tainted = store.incidents.bad_builds(name, asset)
            earlier = [b for b in store.runs.builds(name, asset, states=GOOD, before=bad.finished_at, limit=500)
                       if b.run_id != bad.run_id and (b.partition_key, b.run_id) not in tainted]
            same = [b for b in earlier if b.partition_key == key]
            before = sorted((b for b in earlier if b.partition_key < key), key=lambda b: b.partition_key, reverse=True)
            good = next(iter(same or before or earlier), None)
        own = store.signals.list(name, asset=asset, partition=key, limit=None)
        inputs: list[dict[str, Any]] = []
        if is_source:  # the delivery itself
            blocked = [r for r in store.sources.list(name, source=asset, blocked=True) if r["partition_key"] == key]
            if blocked:
                inputs.append({"asset": asset, "partition": key, "alerts": [], "blocked": blocked})
        for up, parts in ((bad.input_versions if bad else None) or {}).items():
            for part in parts:
                alerts = [s for s in store.signals.list(name, asset=up, partition=part, limit=None) if s["severity"] == "alert"]
                blocked = [r for r in store.sources.list(name, source=up, blocked=True) if r["partition_key"] == part]
                if alerts or blocked:
                    inputs.append({"asset": up, "partition": part, "alerts": alerts, "blocked": blocked})
        code, old, new = None, None, None
        if bad and good and bad.code_version != good.code_version:
            old = store.code.get(name, asset, good.code_version or "")
            new = store.code.get(name, asset, bad.code_version or "")
            if not (old and new and old["definition"] == new["definition"]):  # else only its settings changed
                code = {"from": good.code_version, "to": bad.code_version,
                        "diff": list(difflib.unified_diff((old or {}).get("definition", "").splitlines(),
                                                          (new or {}).get("definition", "").splitlines(),
                                                          "last good", "this build", lineterm="", n=1))}
        config = configuration_diff(store, asset, bad, good, old, new)
        failing = set() if bad is None or config is None else {
            r["check_name"] for r in store.checks.list(name, asset=asset, partition=key, run_id=bad.run_id,
                                                       failed=True, latest=False)}
        packages: list[dict] = []
        if bad and good and bad.environment_id and good.environment_id and bad.environment_id != good.environment_id:
            before_env = store.environments.get(good.environment_id)
            after_env = store.environments.get(bad.environment_id)
            packages = package_diff((before_env or {}).get("packages") or {}, (after_env or {}).get("packages") or {})
    causes = _rank(asset, key, bad, own, inputs, code, packages, is_source, good)
    if config is not None:
        causes.append(configuration_cause(
            asset, key, config, failing=failing, alerted=any(s["severity"] == "alert" for s in own),
            others=bool(inputs or code), location="" if is_source else declared_at(project, node)))
    if not any(c.score >= 0.5 for c in causes):  # nothing in the pipeline explains it
        causes.append(_data_moved(own))
    causes.sort(key=lambda c: -c.score)
    return {
        "asset": asset, "partition": key,
        "build": None if bad is None else {"run_id": bad.run_id, "state": bad.state, "code_version": bad.code_version,
                                           "environment_id": bad.environment_id},
        "last_good": None if good is None else {"run_id": good.run_id, "partition": good.partition_key,
                                                 "code_version": good.code_version, "environment_id": good.environment_id},
        "moved": [_said(s) for s in own if s["severity"] == "alert"],
        "inputs": [{"asset": i["asset"], "partition": i["partition"], "blocked": bool(i["blocked"]),
                    "alerts": [_said(s) for s in i["alerts"]]} for i in inputs],
        "code": code, "config": config, "packages": packages,
        "classification": _classify(own, inputs, code, shapes_data(config), packages, bad),
        "causes": [c.to_json() for c in causes],
    }


DIFF_LINES = 200  # a code diff is cut only past this many lines (``weir incidents show`` has it whole)


def changed_first(diff: list[str], limit: int = DIFF_LINES) -> list[str]:
    """A unified diff without its file headers, whole up to ``limit`` lines (then cut, saying so)."""
    body = [line for line in diff if not line.startswith(("--- ", "+++ "))]
    if len(body) <= limit:
        return body
    return [*body[:limit], f"… {len(body) - limit} more line(s) of the diff: 'weir diagnose' shows it whole"]


def declared_at(project: Project, node: Node) -> str:
    """Where ``node`` is declared, relative to the project folder when it is inside it."""
    where = node.location
    try:
        return str(dataclasses.replace(where, file=str(Path(where.file).relative_to(project.root))))
    except ValueError:
        return str(where)


def _said(s: dict) -> str:
    return (s.get("details") or {}).get("message") or f"{s['column_name']} {s['metric']}: {s['rule']}".strip()


def _rank(asset: str, key: str, bad: BuildRecord | None, own: list[dict], inputs: list[dict], code: dict | None,
          packages: list[dict], is_source: bool, good: BuildRecord | None = None) -> list[Cause]:
    causes = []
    blocked_inputs = [i for i in inputs if i["blocked"]]
    if inputs:
        first = blocked_inputs[0] if blocked_inputs else inputs[0]
        own_delivery = is_source and first["asset"] == asset
        causes.append(Cause(
            kind="input data", score=0.95 if own_delivery else 0.9 if blocked_inputs else 0.8,
            summary=f"the delivery of {asset} {key} was blocked" if own_delivery else
            f"{len(inputs)} input partition(s) it read are themselves {'blocked' if blocked_inputs else 'anomalous'}",
            evidence=[f"{i['asset']} {i['partition']}: " + (
                "blocked: " + str(i["blocked"][0].get("message") or "") if i["blocked"] else
                "; ".join(_said(s) for s in i["alerts"][:3])) for i in inputs[:5]],
            fix=(f"have {first['asset']} {first['partition']} delivered again, then 'weir run --stale'" if first["blocked"]
                 else f"have {first['asset']} {first['partition']} corrected where it comes from (delivered again, or "
                      "rebuilt if weir builds it: 'weir incidents' names its incident), then 'weir run --stale'")))
    if code:
        causes.append(Cause(kind="code", score=0.95 if not inputs else 0.7,
                            summary=f"{asset}'s code changed since the last good build ({code['from']} → {code['to']})",
                            evidence=changed_first(code["diff"]),
                            fix=f"revert the change to {asset}, then 'weir run {asset} --partition {key}'"))
    if packages:
        majors = [p for p in packages if p["major"]]
        causes.append(Cause(kind="library", score=(0.85 if majors else 0.6) if not (inputs or code) else 0.5,
                            summary=f"{len(packages)} package(s) changed between the last good build and this one"
                            + (f", {len(majors)} across a major version" if majors else ""),
                            evidence=[f"{p['package']} {p['from'] or '—'} → {p['to'] or '—'} ({p['change']})"
                                      for p in packages[:10]],
                            fix=(f"rebuild in the environment of the last good build: 'weir rebuild {asset} --partition "
                                 f"{key} --downstream --env-of {good.run_id}'" if good else
                                 "rebuild in the earlier environment: pin "
                                 + ", ".join(f"{p['package']}=={p['from']}" for p in packages[:5] if p["from"]))))
    return causes


def _data_moved(own: list[dict]) -> Cause:
    what = "; ".join(_said(s) for s in own if s["severity"] == "alert")[:300] or "nothing raised"
    return Cause(kind="data", score=0.5, summary="nothing in the pipeline changed: the data itself moved",
                 evidence=[what], fix="if the world really changed, 'weir incidents resolve ID --reason expected'; "
                 "otherwise have the delivery checked at its source")


# factors between common units (°F/°C spread, inch/cm, feet/m, mile/km, lb/kg, m/s to km/h, knots):
# a column whose spread moved by one of them (or its inverse) while its mean alerted was converted
# (round factors, ×10 and up, are left to the mean's ×10 rule: a bursty series' spread moves by them naturally)
UNIT_FACTORS = (1.8, 2.54, 3.28084, 1.609344, 2.20462, 3.6, 1.852, 1.94384)
UNIT_TOLERANCE = 0.12  # relative: a day's spread is itself a little off its expected value
MISSING = 0.05  # a null fraction this much above its expected value: values went missing


def _units(own: list[dict], alerts: list[dict]) -> str:
    """A unit change: a column whose mean alerted and whose std moved by a known unit factor, on a
    day whose row count did not move (rows dropped or added move the spread of an id column too)."""
    if any(s["metric"] == "row_count" for s in alerts):
        return ""
    stds = {s["column_name"]: s for s in own if s["metric"] == "std" and s.get("value") and s.get("center")}
    for s in alerts:
        std = stds.get(s["column_name"])
        if s["metric"] != "mean" or std is None:
            continue
        ratio = abs(std["value"] / std["center"])
        for factor in UNIT_FACTORS:
            for f in (factor, 1 / factor):
                if abs(ratio / f - 1) <= UNIT_TOLERANCE:
                    return (f"{s['column_name']}'s spread is ×{ratio:.3g} of its expected value, near a unit factor "
                            f"(×{f:.4g}), and its mean moved: a unit change")
    return ""


def _missing(alerts: list[dict]) -> str:
    """Values gone missing: a null fraction well above its expected value."""
    for s in alerts:
        v, c = s.get("value"), s.get("center") or 0.0
        if s["metric"] == "null_fraction" and v is not None and v - c >= MISSING:
            return f"{s['column_name']} is missing on {v:.0%} of rows (expected {c:.0%}): values were lost"
    return ""


def _classify(own: list[dict], inputs: list[dict], code: dict | None, settings: list[str], packages: list[dict],
              bad: BuildRecord | None) -> dict[str, str]:
    alerts = [s for s in own if s["severity"] == "alert"]
    why = ""
    if code or packages:
        why = "the code or its libraries changed"
    elif settings:
        why = f"its configuration changed ({', '.join(settings)})"
    elif any(i["blocked"] for i in inputs) or (bad and bad.state in ("blocked", "failed")):
        why = "a build or a delivery was blocked or failed"
    elif any(s["kind"] in ("schema", "repeat", "stuck") for s in alerts):
        why = "a schema change, a repeated delivery or a stuck column"
    else:
        for s in alerts:
            v, c = s.get("value"), s.get("center")
            if s["metric"] == "mean" and v and c and (abs(v / c) >= UNIT_RATIO or abs(v / c) <= 1 / UNIT_RATIO):
                why = f"{s['column_name']} is ×{v / c:.3g} of its expected value: a unit change"
                break
        if not why:
            why = _units(own, alerts) or _missing(alerts)
        columns = {s["column_name"] for s in alerts if s["column_name"]}
        if not why and any(s["metric"] == "row_count" for s in alerts) and len(columns) <= 1:
            why = "the row count moved with nothing else moving: rows dropped or loaded twice"
    if why:
        return {"verdict": "the pipeline broke", "why": why, "for": "the data team to fix"}
    return {"verdict": "the world changed", "why": "several measures moved together and nothing in the pipeline did"
            if len({s['column_name'] for s in alerts}) > 1 else "nothing in the pipeline changed",
            "for": "a caution for the business"}
