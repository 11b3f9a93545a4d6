"""A check's result from what a scan measured: its outcome as a CheckResult, the result of a
check that could not run, and measured values made JSON-safe."""

from __future__ import annotations

from typing import Any

from weir.model.checks import Check, CheckResult

SAMPLE_ROWS = 5  # failing rows kept as a failed row-level check's sample


def check_result(check: Check, values: dict, total: int, context: dict) -> CheckResult:
    """The result of ``check`` from the ``values`` the scan measured for it over ``total`` rows."""
    passed, observed, threshold, failing, message = check.evaluate(values, total, context)
    return CheckResult(
        check=check.label, kind=check.kind, column=next(iter(check.columns()), None), severity=check.severity,
        passed=bool(passed), observed=jsonable(observed), threshold=threshold, failing_rows=failing, total_rows=total,
        message=message,
    )


def broken(check: Check, message: str, total: int = 0) -> CheckResult:
    """The result of a check that could not run: failed, and ``message`` says why."""
    return CheckResult(
        check=check.label, kind=check.kind, column=next(iter(check.columns()), None), severity=check.severity,
        passed=False, observed=None, threshold="", failing_rows=None, total_rows=total, message=message,
    )


def jsonable(v: Any) -> Any:
    """``v`` as JSON takes it: numbers and text as they are, dates and times in ISO form."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if hasattr(v, "isoformat"):
        return v.isoformat()
    try:
        return float(v)
    except (TypeError, ValueError):
        return str(v)
