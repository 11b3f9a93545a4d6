"""What every documented JSON form shares: times as ISO 8601 in UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(ts: float | None) -> str | None:
    """Seconds since the epoch as ISO 8601 in UTC (None stays None)."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds") if ts else None
