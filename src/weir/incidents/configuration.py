"""The configuration part of a diagnosis: which settings of an asset differ between its last good
build and the bad one, from stored facts only. The settings kept with a code version (partition
grid, inputs, model) shape what a partition contains; the checks, schema policy, monitor settings
and metrics kept with each run judge it; ``weir.toml`` (kept with each run too) decides none of
its data. Each change is ``{setting, removed, added}``, one line per check, monitor setting,
metric or input."""

from __future__ import annotations

import difflib
import json
from typing import TYPE_CHECKING, Any

from weir.incidents.records import Cause

if TYPE_CHECKING:
    from weir.model.rows import BuildRecord
    from weir.store.store import MetadataStore

SHAPING = ("partitions", "inputs", "model")  # what a partition contains (hashed into its code version)
JUDGING = ("checks", "schema", "contract")  # what passes, fails or blocks a partition
WATCHING = ("monitors", "metrics")  # what the monitors measure and signal on
PROJECT_FILE = "weir.toml"
RANGE_FIELDS = ("start", "end", "values")  # as Asset.code_settings leaves them out


def configuration_diff(store: MetadataStore, asset: str, bad: BuildRecord | None, good: BuildRecord | None, old_code: dict | None,
                       new_code: dict | None) -> dict[str, Any] | None:
    """``{from, to, changes}`` between the good build's configuration and the bad one's, or None
    when nothing recorded differs (runs from before configurations were kept compare only the
    settings of their code versions). Reads ``store`` inside the caller's read scope."""
    if bad is None or good is None:
        return None
    changes: list[dict[str, Any]] = []
    if old_code and new_code and old_code["settings"] != new_code["settings"]:
        changes += _changes(_setting_lines(old_code["settings"]), _setting_lines(new_code["settings"]))
    was, now = good.configuration_id, bad.configuration_id
    if was and now and was != now:
        before, after = store.configurations.get(was) or {}, store.configurations.get(now) or {}
        changes += _changes((before.get("nodes") or {}).get(asset, {}), (after.get("nodes") or {}).get(asset, {}))
        old_file, new_file = before.get("project_file"), after.get("project_file")
        if old_file is not None and new_file is not None and old_file != new_file:
            diff = list(difflib.ndiff(old_file.splitlines(), new_file.splitlines()))
            changes.append({"setting": PROJECT_FILE, "removed": [d[2:] for d in diff if d.startswith("- ")],
                            "added": [d[2:] for d in diff if d.startswith("+ ")]})
    if not changes:
        return None
    return {"from": was, "to": now, "changes": changes}


def _setting_lines(settings: dict) -> dict[str, list[str]]:
    """A code version's settings as lines per setting: one per input, one per partition field.
    A partition range is left out: it decides which partitions exist, not what one contains (code
    versions kept before ranges left the hash still have it)."""
    out: dict[str, list[str]] = {}
    for name, value in settings.items():
        if isinstance(value, dict):
            out[name] = [f"{k} = {json.dumps(v, sort_keys=True)}" for k, v in sorted(value.items())
                         if not (name == "partitions" and k in RANGE_FIELDS)]
        else:
            out[name] = [json.dumps(value, sort_keys=True)]
    return out


def _changes(before: dict[str, list[str]], after: dict[str, list[str]]) -> list[dict[str, Any]]:
    out = []
    for setting in sorted(set(before) | set(after)):
        was, now = list(before.get(setting, [])), list(after.get(setting, []))
        if was != now:
            out.append({"setting": setting, "removed": [x for x in was if x not in now],
                        "added": [x for x in now if x not in was]})
    return out


def shapes_data(config: dict | None) -> list[str]:
    """The changed settings that shape or judge a partition (all but weir.toml)."""
    return [c["setting"] for c in (config or {}).get("changes", []) if c["setting"] != PROJECT_FILE]


def configuration_cause(asset: str, key: str, config: dict, *, failing: set[str], alerted: bool, others: bool,
                        location: str) -> Cause:
    """The configuration as a cause. Likely when a setting that shapes the data changed, when a
    changed check is one that failed (or any check failed after checks changed), or when monitor
    settings changed and the partition raised alerts; ``others`` (inputs or code also changed)
    keeps it below them. A change to weir.toml alone decides no data: it stays below 'data'."""
    changes = config["changes"]
    by = {c["setting"]: c for c in changes}
    shaping = [by[s] for s in SHAPING if s in by]
    judging = [by[s] for s in JUDGING if s in by]
    watching = [by[s] for s in WATCHING if s in by]
    hit = [c for c in judging if failing & _labels(c)]
    lead = (shaping or hit or judging or watching or changes)[0]
    if shaping:
        score = 0.9
    elif hit:
        score = 0.95
    elif judging and failing or watching and alerted:
        score = 0.8
    elif judging or watching:
        score = 0.55
    else:
        score = 0.3
    if others:
        score = min(score, 0.65)
    names = ", ".join(c["setting"] for c in changes)
    summary = f"{asset}'s configuration changed since the last good build ({names})"
    if hit:
        summary += f": the check that failed ({min(failing & _labels(hit[0]))}) is one that changed"
    evidence = [f"{c['setting']}: {sign} {line}" for c in changes
                for sign, lines in (("-", c["removed"]), ("+", c["added"])) for line in lines][:20]
    return Cause(kind="configuration", score=score, summary=summary, evidence=evidence,
                 fix=_fix(asset, key, lead["setting"], location))


def _labels(change: dict) -> set[str]:
    return {line.split(": ", 1)[0] for line in change["removed"] + change["added"]}


def _fix(asset: str, key: str, setting: str, location: str) -> str:
    where = f" ({location})" if location else ""
    rebuild = f"then 'weir run {asset} --partition {key}'"
    if setting in SHAPING:
        return (f"revert {asset}'s {setting} to the last good build's{where}, {rebuild}; or, if the change is meant, "
                f"accept what it makes as the new normal: 'weir monitors accept {asset} --from {key}'")
    if setting in JUDGING:
        return (f"revert {asset}'s {setting} to the last good build's{where}, {rebuild}; or, if the new rule is "
                "meant, accept it: the data fails it, so have the data fixed at its source, or "
                "'weir incidents resolve ID --reason expected'")
    if setting in WATCHING:
        return (f"revert {asset}'s {setting} to the last good build's{where} ('weir monitors replay {asset}' shows "
                "what the monitors raise with the settings of today); or, if the new settings are meant, accept "
                "them: 'weir incidents resolve ID --reason expected'")
    return ("revert the change to weir.toml, or accept it: weir.toml decides no partition's data, so nothing needs "
            "rebuilding")
