"""Signals as they are stored: a chart's signal with weir's severity policy, a delivery that
repeats the one before it, a column stuck on one value, a schema that changed; and the events
of the alerts among them. Each is a row made by ``row(key, **values)`` (the evaluator's, which
knows the project, the asset and the run). No I/O here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from weir.events import Event, EventKind
from weir.monitoring import patterns
from weir.monitoring.policy import ALERT, DRIFT_SCORE, TRAINING_DRIFT, policy_severity

if TYPE_CHECKING:
    from weir.model.monitors import Monitor
    from weir.monitoring import drift, spc
    from weir.monitoring.history import History


class SignalRow(Protocol):
    """Makes the stored row of a signal on partition ``key`` from its columns (``values``)."""

    def __call__(self, key: str, **values: Any) -> dict: ...


def chart_signal(key: str, column: str, metric: str, sig: spc.Signal, settled: Monitor,
                 verdicts: Mapping[tuple[str, ...], drift.Drift], order: list[str], row: SignalRow) -> dict | None:
    """The stored form of one chart signal, with weir's severity policy (``policy_severity``);
    a drift score alerts only when the column's distribution really changed (``drift.judge``)."""
    severity = policy_severity(sig, settled, metric)
    if severity is None:
        return None
    details: dict = {"points": [order[i] for i in sig.points if i < len(order)],
                     "message": patterns.message(column, metric, sig.value, sig.center)}
    if sig.method == "shift":
        what = "change of spread" if sig.rule.startswith("change of spread") else "level shift"
        details["message"] = f"{what} on {column + ' ' if column else ''}{metric} since {details['points'][0]}" + (
            ": the new normal is the baseline from here on" if "new normal" in sig.rule else "")
    rule = sig.rule
    if metric in (DRIFT_SCORE, TRAINING_DRIFT):
        verdict = verdicts.get((key, column) if metric == DRIFT_SCORE else (key, column, TRAINING_DRIFT))
        if verdict is None or not verdict.drifted:
            severity = "warn"
        if verdict is not None:
            rule = f"{rule}: {verdict.reason}"
            details["message"] = f"{column} distribution changed: {verdict.reason}"
            details.update(statistic=verdict.statistic, effect=verdict.value, threshold=verdict.threshold,
                           statistics=_plain(verdict.statistics))
    return row(
        key, kind="drift" if metric in (DRIFT_SCORE, TRAINING_DRIFT) else "spc", column_name=column, metric=metric, method=sig.method,
        rule=rule, value=sig.value, center=sig.center, lower=sig.lower, upper=sig.upper, severity=severity,
        direction=sig.direction, details=details,
    )


def pattern_signals(history: History, keys: list[str], row: SignalRow) -> list[dict]:
    """A delivery identical to the one before it; a column stuck on one value."""
    found = []
    kept_out = history.quarantined | history.held  # what an open incident holds is not "usual" either
    for key, earlier in patterns.repeats(history.order, history.series, kept_out, keys).items():
        found.append(row(
            key, kind="repeat", column_name="", metric="fingerprint", method="repeat",
            rule=f"identical to {earlier} in every measured statistic", value=None, center=None, lower=None,
            upper=None, severity=ALERT, details={"same_as": earlier, "message": (
                f"identical to {earlier} in every measured statistic: the same delivery again?")},
        ))
    for key, columns in patterns.stuck(history.order, history.series, kept_out, keys).items():
        for column, value in columns:
            found.append(row(
                key, kind="stuck", column_name=column, metric="std", method="stuck",
                rule="one value on every row", value=value, center=None, lower=None, upper=None, severity=ALERT,
                details={"message": f"{column} holds one value ({patterns.number(value)}) on every row, "
                                    "where it usually varies: a stuck sensor or a filled-in default?"},
            ))
    return found


def schema_signals(new: list[str], previous: dict[str, str], profiles: dict[str, dict], row: SignalRow) -> list[dict]:
    """Columns added, removed or retyped in each ``new`` key since its ``previous`` key, from
    their stored ``profiles``."""
    found = []
    for key in new:
        before = [previous[key]] if key in previous and previous[key] in profiles else []
        if not before or key not in profiles:
            continue
        prev, cur = profiles[before[-1]]["schema"], profiles[key]["schema"]
        added = sorted(set(cur) - set(prev))
        removed = sorted(set(prev) - set(cur))
        # a column with no value at all in one partition has no type there (null): not a change
        retyped = sorted(c for c in set(cur) & set(prev) if cur[c] != prev[c] and "null" not in (cur[c], prev[c]))
        if added or removed or retyped:
            parts = ([f"added {', '.join(added)}"] if added else []) + ([f"removed {', '.join(removed)}"] if removed else []) + (
                [f"retyped {', '.join(f'{c} {prev[c]}→{cur[c]}' for c in retyped)}"] if retyped else []
            )
            found.append(row(
                key, kind="schema", column_name=(removed + retyped + added)[0], metric="schema", method="schema",
                rule="schema changed: " + "; ".join(parts), value=None, center=None, lower=None, upper=None,
                severity=ALERT, details={"added": added, "removed": removed,
                                         "retyped": {c: [prev[c], cur[c]] for c in retyped}, "since": before[-1]},
            ))
    return found


def signal_events(alerts: list[dict]) -> list[Event]:
    """A ``schema_changed`` event per schema alert, a ``signal_raised`` event per other alert."""
    return [
        Event(kind=EventKind.SCHEMA_CHANGED if s["kind"] == "schema" else EventKind.SIGNAL_RAISED, project=s["project"],
              asset=s["asset"], partition_key=s["partition_key"], run_id=s["run_id"],
              data={"kind": s["kind"], "column": s["column_name"], "metric": s["metric"], "method": s["method"],
                    "rule": s["rule"], "value": s["value"], "center": s["center"], "lower": s["lower"],
                    "upper": s["upper"], "direction": s["direction"], "message": (s["details"] or {}).get("message"),
                    **({"details": s["details"]} if s["kind"] == "schema" else {})})
        for s in alerts
    ]


def _plain(value: object) -> object:
    """JSON-safe copy of drift statistics (tuples to lists, numpy numbers to floats)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    return value
