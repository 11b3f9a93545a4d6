"""Model artifacts: a trained estimator is pickled next to its asset's Delta table, and the
table gets one row per build that names the artifact (with its hash), so models are versioned,
published and read back exactly like data."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import uuid
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from weir.errors import DataError

if TYPE_CHECKING:
    from weir.model.definitions import Asset
    from weir.storage.delta import AssetTable

ARTIFACTS = "_models"
# columns of a model's row that say where and by which build its artifact is stored, not what
# the model is (its sha256 does): two builds of the same model differ only in these
BOOKKEEPING = ("artifact", "run_id")


def save_model(table_dir: str, estimator: Any, asset: Asset, *, run_id: str, key: str, trained_on: dict[str, list[str]]) -> pa.Table:
    """Write the artifact and return the row that publishes it."""
    if estimator is None:
        raise ValueError(f"model {asset.name!r} returned None for partition {key!r}; return the trained estimator")
    data = pickle.dumps(estimator, protocol=pickle.HIGHEST_PROTOCOL)
    rel = f"{ARTIFACTS}/{run_id}-{uuid.uuid4().hex[:12]}.pkl"
    full = os.path.join(table_dir, rel)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb") as f:
        f.write(data)
    params = {}
    if hasattr(estimator, "get_params"):
        try:
            params = {k: repr(v)[:200] for k, v in estimator.get_params(deep=False).items()}
        except Exception:  # noqa: BLE001 - parameters are descriptive only
            params = {}
    spec = asset.model
    assert spec is not None  # only model assets save one
    return pa.table(
        {
            "model_class": [f"{type(estimator).__module__}.{type(estimator).__qualname__}"],
            "artifact": [rel],
            "sha256": [hashlib.sha256(data).hexdigest()],
            "size_bytes": [len(data)],
            "task": [spec.task],
            "features": [json.dumps(list(spec.features))],
            "target": [spec.target],
            "params": [json.dumps(params, sort_keys=True)],
            "trained_on": [json.dumps(trained_on, sort_keys=True)],
            "run_id": [run_id],
        }
    )


def load_model(table_dir: str, rows: pa.Table, *, what: str) -> Any:
    """The estimator of the newest row (the latest partition read); verifies its hash."""
    if rows.num_rows == 0:
        return None
    row = rows.slice(rows.num_rows - 1).to_pylist()[0]
    full = os.path.join(table_dir, row["artifact"])
    try:
        with open(full, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise DataError(f"model {what!r}: cannot read artifact {full}: {exc.strerror}") from None
    if hashlib.sha256(data).hexdigest() != row["sha256"]:
        raise DataError(f"model {what!r}: artifact {full} does not match its recorded hash (corrupted or replaced)")
    return pickle.loads(data)


def model_rows(table: AssetTable) -> list[dict]:
    """Published model rows of an AssetTable, newest partition last."""
    return table.read().to_pylist() if table.exists() else []
