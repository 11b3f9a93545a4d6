"""Tasks and their outcomes as versioned messages: plain data (JSON types only; Arrow schemas as
IPC bytes in base64), so a worker of another environment (an earlier run's libraries, another
weir) reads exactly what was sent, or says plainly that it cannot: never a pickle of internal
classes. A spec names its code location (``{kind: folder, location}``) and its table by URI.

Every message carries ``wire`` (its version). A receiver refuses a message of another version
with one line naming both, rather than misreading it."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

import pyarrow as pa

from weir.engine.tasks import InputSpec, TaskOutcome, TaskSpec
from weir.errors import WeirError
from weir.storage.delta import StagedPartition

WIRE = 1  # bump when a field changes meaning; add fields with defaults without bumping


class WireError(WeirError):
    """A message this side cannot read (another version, or not a task message)."""


def _schema_out(schema: pa.Schema | None) -> str | None:
    return None if schema is None else base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")


def _schema_in(text: str | None) -> pa.Schema | None:
    return None if text is None else pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text)))


def _time_out(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _time_in(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _check(message: Any, kind: str) -> dict[str, Any]:
    if not isinstance(message, dict) or message.get("kind") != kind:
        raise WireError(f"not a {kind} message: {str(message)[:80]!r}")
    if message.get("wire") != WIRE:
        raise WireError(f"{kind} message of wire version {message.get('wire')!r}; this side speaks {WIRE}: "
                        "the driver and the worker run different weir versions")
    return message


def spec_to_message(spec: TaskSpec) -> dict[str, Any]:
    """A task as a message."""
    return {
        "wire": WIRE, "kind": "task", "code": {"kind": "folder", "location": spec.project_root},
        "asset": spec.asset, "key": spec.key, "start": _time_out(spec.start), "end": _time_out(spec.end),
        "run_id": spec.run_id, "table": spec.table_dir, "table_schema": _schema_out(spec.table_schema),
        "attempts": spec.attempts, "backoff": spec.backoff,
        "inputs": [{"param": i.param, "upstream": i.upstream, "kind": i.kind, "frame": i.frame,
                    "files": [list(f) for f in i.files], "table": i.table_dir, "schema": _schema_out(i.schema),
                    "format": i.format, "options": dict(i.options), "columns": dict(i.columns),
                    "empty_is_none": i.empty_is_none} for i in spec.inputs],
    }


def spec_from_message(message: Any) -> TaskSpec:
    m = _check(message, "task")
    code = m["code"]
    if code.get("kind") != "folder":
        raise WireError(f"task message with a code location of kind {code.get('kind')!r}: this worker loads folders")
    return TaskSpec(
        project_root=code["location"], asset=m["asset"], key=m["key"], start=_time_in(m["start"]),
        end=_time_in(m["end"]), run_id=m["run_id"], table_dir=m["table"], table_schema=_schema_in(m["table_schema"]),
        attempts=m["attempts"], backoff=m["backoff"],
        inputs=tuple(InputSpec(param=i["param"], upstream=i["upstream"], kind=i["kind"], frame=i["frame"],
                               files=tuple((f[0], f[1]) for f in i["files"]), table_dir=i["table"],
                               schema=_schema_in(i["schema"]), format=i["format"], options=dict(i["options"]),
                               columns=dict(i["columns"]), empty_is_none=i["empty_is_none"]) for i in m["inputs"]),
    )


def outcome_to_message(outcome: TaskOutcome) -> dict[str, Any]:
    """An outcome as a message."""
    s = outcome.staged
    return {
        "wire": WIRE, "kind": "outcome", "asset": outcome.asset, "key": outcome.key, "attempts": outcome.attempts,
        "seconds": outcome.seconds, "compute_seconds": outcome.compute_seconds, "started_at": outcome.started_at,
        "error": outcome.error, "traceback": outcome.traceback,
        "staged": None if s is None else {"key": s.key, "path": s.path, "size": s.size, "rows": s.rows,
                                          "schema": _schema_out(s.schema), "modified_ms": s.modified_ms,
                                          "empty": list(s.empty)},
    }


def outcome_from_message(message: Any) -> TaskOutcome:
    m = _check(message, "outcome")
    s = m["staged"]
    staged = None if s is None else StagedPartition(key=s["key"], path=s["path"], size=s["size"], rows=s["rows"],
                                                    schema=_schema_in(s["schema"]), modified_ms=s["modified_ms"],
                                                    empty=tuple(s["empty"]))
    return TaskOutcome(asset=m["asset"], key=m["key"], staged=staged, attempts=m["attempts"], seconds=m["seconds"],
                       compute_seconds=m["compute_seconds"], started_at=m["started_at"], error=m["error"],
                       traceback=m["traceback"])


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode("utf-8")


def decode(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WireError(f"a message that is not JSON: {exc}") from None
