"""Tasks and outcomes cross to workers as versioned messages of plain data (no pickles): a round
trip gives back the same spec and outcome, and a message of another version is refused in one
line naming both versions."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from weir.engine.tasks import InputSpec, TaskOutcome, TaskSpec
from weir.engine.wire import (
    WIRE,
    WireError,
    decode,
    encode,
    outcome_from_message,
    outcome_to_message,
    spec_from_message,
    spec_to_message,
)
from weir.storage.delta import StagedPartition

SCHEMA = pa.schema([("day", pa.string()), ("km", pa.float64()), ("at", pa.timestamp("us", tz="UTC"))])


def spec() -> TaskSpec:
    return TaskSpec(
        project_root="/srv/fleet", asset="distances", key="2024-01-02", start=datetime(2024, 1, 2, tzinfo=UTC),
        end=datetime(2024, 1, 3, tzinfo=UTC), run_id="20240102-000000-abcd1234", table_dir="/data/fleet/distances",
        table_schema=SCHEMA, attempts=2, backoff=0.5,
        inputs=(InputSpec(param="trips", upstream="trips", kind="asset", frame="pandas",
                          files=(("2024-01-02", "/data/fleet/trips/part-0.parquet"),), table_dir="/data/fleet/trips",
                          schema=SCHEMA),
                InputSpec(param="raw", upstream="raw", kind="source", frame="arrow",
                          files=(("2024-01-02", "/land/raw/2024-01-02.csv"),), format="csv",
                          options={"delimiter": ";"}, columns={"km": "float"}, empty_is_none=True)),
    )


def test_a_spec_and_an_outcome_survive_the_wire_as_json():
    message = spec_to_message(spec())
    assert message["wire"] == WIRE and message["code"] == {"kind": "folder", "location": "/srv/fleet"}
    assert spec_from_message(decode(encode(message))) == spec()  # through real JSON bytes
    staged = StagedPartition(key="2024-01-02", path="partition_key=2024-01-02/x.parquet", size=123, rows=2,
                             schema=SCHEMA, modified_ms=1700000000000, empty=("at",))
    for outcome in (TaskOutcome(asset="distances", key="2024-01-02", staged=staged, attempts=1, seconds=0.2,
                                compute_seconds=0.1, started_at=1.5),
                    TaskOutcome(asset="distances", key="2024-01-02", staged=None, attempts=2, seconds=0.2,
                                compute_seconds=0.0, started_at=1.5, error="ValueError: no", traceback="Traceback")):
        assert outcome_from_message(decode(encode(outcome_to_message(outcome)))) == outcome
    json.dumps(message)  # plain data only


def test_a_message_of_another_version_is_refused_naming_both():
    message = {**spec_to_message(spec()), "wire": WIRE + 1}
    with pytest.raises(WireError, match=f"wire version {WIRE + 1}.*speaks {WIRE}"):
        spec_from_message(message)
    with pytest.raises(WireError, match="not a task message"):
        spec_from_message(outcome_to_message(TaskOutcome(asset="a", key="k", staged=None, attempts=1, seconds=0,
                                                         compute_seconds=0, started_at=0)))
    with pytest.raises(WireError, match="not JSON"):
        decode(b"\x80\x04pickle")
