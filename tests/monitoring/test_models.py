"""Models: a scikit-learn estimator trained on a ``weir.window`` of a daily features asset,
stored as a hashed artifact with one published row, handed to the asset that applies it, and
its quality measured as metric series; the artifact verified on read; rebuilt when its code or
its training window changes and only then; bad windows and tasks refused."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from conftest import land_csv, weir_cli, write_project

import weir
from weir.errors import ConfigError, DataError, ProjectError, UnknownObjectError
from weir.project.loader import load_project
from weir.workspace import RunRequest, Workspace

START = dt.date(2024, 1, 1)
WINDOW = [f"2024-01-0{d}" for d in range(1, 6)]  # the training window: the first five days

PROJECT = '''
import weir
days = weir.daily(start="2024-01-01", end="2024-01-10")
raw = weir.source("raw", path="landing/{partition}.csv", partitions=days, columns={"x": "float", "y": "float"})

@weir.asset(partitions=days)
def features(raw):
    return raw

@weir.model(features=["x"], target="y",
            inputs={"train": weir.upstream("features", weir.window("2024-01-01", "2024-01-05"))})
def price_model(train):
    from sklearn.linear_model import LinearRegression
    return LinearRegression().fit(train[["x"]], train["y"])

@weir.asset(partitions=days)
def predictions(price_model, features):
    out = features.copy()
    out["predicted"] = price_model.predict(features[["x"]])
    return out

@weir.asset(partitions=days, metrics=weir.regression_metrics(prediction="predicted", label="y"))
def quality(predictions):
    return predictions
'''


def key(i: int) -> str:
    return (START + dt.timedelta(days=i)).isoformat()


def land_day(project: Path, i: int, *, seed: int | None = None, n: int = 50) -> None:
    """y = 3x + 2 + N(0, 1) noise, x uniform on [0, 10)."""
    rng = np.random.default_rng(i if seed is None else seed)
    x = rng.uniform(0, 10, n)
    y = 3 * x + 2 + rng.normal(0, 1, n)
    land_csv(project, f"landing/{key(i)}.csv", [{"x": round(float(a), 4), "y": round(float(b), 4)} for a, b in zip(x, y)])


def model_row(ws: Workspace) -> dict:
    [row] = ws.data.read("price_model", None).to_pylist()
    return row


def artifact(ws: Workspace, row: dict) -> Path:
    return Path(ws.tables.get("price_model").uri) / row["artifact"]


def plan(ws: Workspace) -> set[tuple[str, str, str]]:
    return {(t.asset, t.key, t.reason) for t in ws.runs.plan(RunRequest(stale=True)).tasks}


def built(make_project, workspace_dir, days: int = 7) -> tuple[Path, Workspace]:
    project = make_project({"assets.py": PROJECT})
    for i in range(days):
        land_day(project, i)
    ws = Workspace(workspace_dir, project)
    result = ws.runs.run(RunRequest(executor="inprocess"))
    assert result.state == "succeeded", result.failures
    return project, ws


def test_a_model_is_trained_on_its_window_applied_and_its_quality_measured(backend, make_project, workspace_dir):
    _, ws = built(make_project, workspace_dir)
    with ws:
        [run] = ws.runs.list()
        assert run.summary["counts"] == {"succeeded": 22}  # 7 features, 1 model, 7 predictions, 7 quality
        row = model_row(ws)
        assert row["model_class"] == "sklearn.linear_model._base.LinearRegression"
        assert row["task"] == "regression" and row["target"] == "y" and json.loads(row["features"]) == ["x"]
        assert json.loads(row["trained_on"]) == {"features": WINDOW}
        assert json.loads(row["params"])["fit_intercept"] == "True"
        assert row["run_id"] == run.id
        path = artifact(ws, row)
        assert row["artifact"].startswith("_models/") and path.suffix == ".pkl"
        data = path.read_bytes()
        assert row["sha256"] == hashlib.sha256(data).hexdigest() and row["size_bytes"] == len(data)
        estimator = pickle.loads(data)
        assert estimator.coef_[0] == pytest.approx(3, abs=0.1) and estimator.intercept_ == pytest.approx(2, abs=0.5)
        # the model trained on exactly the window's rows
        train = np.concatenate([ws.data.read("features", k).column("x").to_numpy() for k in WINDOW])
        target = np.concatenate([ws.data.read("features", k).column("y").to_numpy() for k in WINDOW])
        refit = type(estimator)().fit(train.reshape(-1, 1), target)
        assert refit.coef_[0] == pytest.approx(estimator.coef_[0], rel=1e-12)
        assert [h["version"] for h in ws.data.history("price_model", None)] == [0]
        for i in range(7):
            k = key(i)
            pred = ws.data.read("predictions", k).to_pandas()
            assert len(pred) == 50
            assert pred["predicted"].to_numpy() == pytest.approx(estimator.predict(pred[["x"]]), rel=1e-12)
            quality = ws.data.read("quality", k).to_pandas()
            err = quality["predicted"] - quality["y"]
            points = {p["metric"]: p["value"] for p in ws.monitors.metrics("quality", column="", first=k, last=k)}
            assert points["mae"] == pytest.approx(err.abs().mean(), rel=1e-9)
            assert points["rmse"] == pytest.approx(float(np.sqrt((err ** 2).mean())), rel=1e-9)
            assert points["bias"] == pytest.approx(err.mean(), rel=1e-9, abs=1e-12)
            assert 0.5 < points["rmse"] < 1.5  # the noise is N(0, 1)
        for metric in ("mae", "rmse", "bias"):
            assert [p["partition_key"] for p in ws.monitors.metrics("quality", column="", metric=metric)] == [key(i) for i in range(7)]
        # the model's feature, in what the predictions read, against the training data
        drift = ws.monitors.metrics("predictions", metric="training_drift")
        assert {(p["partition_key"], p["column_name"]) for p in drift} == {(key(i), "x") for i in range(7)}


def test_a_corrupted_artifact_fails_the_partition_that_reads_it(make_project, workspace_dir):
    project, ws = built(make_project, workspace_dir, days=6)
    with ws:
        before = model_row(ws)
        path = artifact(ws, before)
        data = path.read_bytes()
        path.write_bytes(data[:-16] + b"\0" * 16)  # bytes overwritten in place
        land_day(project, 6)  # a new day to predict
        result = ws.runs.run(RunRequest(executor="inprocess", stale=True))
        assert result.state == "failed"
        assert result.per_asset == {"features": {"succeeded": 1}, "predictions": {"failed": 1},
                                    "quality": {"upstream_failed": 1}}
        [failure] = result.failures
        assert (failure["asset"], failure["partition"]) == ("predictions", key(6))
        assert failure["error"].startswith(f"{DataError.__name__}: model 'price_model'")
        assert str(path) in failure["error"] and "hash" in failure["error"]
        task = next(t for t in ws.runs.detail(result.run_id)["tasks"] if t["asset"] == "predictions")
        assert task["state"] == "failed" and "hash" in task["error"]
        # the model's published row is untouched; earlier predictions stay readable
        assert model_row(ws) == before
        assert [h["version"] for h in ws.data.history("price_model", None)] == [0]
        assert ws.data.read("predictions", key(5)).num_rows == 50
        # a valid pickle of another estimator in its place is refused as well
        from sklearn.linear_model import LinearRegression

        path.write_bytes(pickle.dumps(LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0])))
        again = ws.runs.run(RunRequest(executor="inprocess", stale=True))
        assert again.per_asset["predictions"] == {"failed": 1} and "hash" in again.failures[0]["error"]
        with pytest.raises(UnknownObjectError, match="not published"):
            ws.data.read("predictions", key(6))


def test_the_model_is_rebuilt_when_its_code_or_its_window_changes_and_only_then(make_project, workspace_dir):
    project, ws = built(make_project, workspace_dir)
    with ws:
        assert plan(ws) == set()
        first = model_row(ws)
        # a day outside the training window is delivered again: the model stays
        land_day(project, 6, seed=600)
        assert plan(ws) == {("features", key(6), "upstream changed"), ("predictions", key(6), "upstream rebuilt"),
                            ("quality", key(6), "upstream rebuilt")}
        result = ws.runs.run(RunRequest(executor="inprocess", stale=True))
        assert result.state == "succeeded" and "price_model" not in result.per_asset
        assert model_row(ws) == first and len(ws.data.history("price_model", None)) == 1
    # the model's code changes: it is rebuilt, and everything that applies it
    path = project / "assets.py"
    path.write_text(path.read_text().replace("LinearRegression().fit", "LinearRegression(positive=True).fit"))
    with Workspace(workspace_dir, project) as ws:
        planned = plan(ws)
        assert ("price_model", "", "code changed") in planned
        assert {(a, k) for a, k, _ in planned} == {("price_model", "")} | {
            (a, key(i)) for a in ("predictions", "quality") for i in range(7)}
        result = ws.runs.run(RunRequest(executor="inprocess", stale=True))
        assert result.state == "succeeded" and result.per_asset["price_model"] == {"succeeded": 1}
        second = model_row(ws)
        assert json.loads(second["params"])["positive"] == "True" and second["artifact"] != first["artifact"]
        assert json.loads(second["trained_on"]) == {"features": WINDOW}
        assert len(ws.data.history("price_model", None)) == 2
        assert plan(ws) == set()
        # a day inside the window changes: the model is trained again
        land_day(project, 2, seed=200)
        planned = plan(ws)
        assert ("features", key(2), "upstream changed") in planned
        assert ("price_model", "", "upstream rebuilt") in planned


WINDOWED = '''
import weir
days = weir.daily(start="2024-01-01", end="2024-01-10")
raw = weir.source("raw", path="landing/{partition}.csv", partitions=days)

@weir.model(inputs={"train": weir.upstream("raw", weir.window(FIRST, LAST))})
def price_model(train):
    return None
'''




@pytest.mark.parametrize(
    "first, last, message",
    [
        ("2023-12-01", "2023-12-31", "partition '2023-12-01' is outside daily 2024-01-01..2024-01-10"),
        ("2024-01-05", "2024-02-10", "partition '2024-02-10' is outside"),
        ("2024-01-05", "2024-01-02", "is empty"),
    ],
)
def test_a_window_outside_the_upstreams_partitions_exits_2(tmp_path, first, last, message):
    text = WINDOWED.replace("FIRST", repr(first)).replace("LAST", repr(last))
    project = write_project(tmp_path / "proj", {"assets.py": text})
    bad = weir_cli(tmp_path / "ws", project, "status", expect=2)
    assert "asset 'price_model', input 'train'" in bad.stderr
    assert f"window({first}, {last})" in bad.stderr and message in bad.stderr
    assert "assets.py:" in bad.stderr
    assert not (tmp_path / "ws").exists()  # nothing written
    with pytest.raises(ProjectError):
        load_project(project)


def test_an_unknown_model_task_is_a_config_error(make_project):
    with pytest.raises(ConfigError, match="'clustering'"):
        weir.model(task="clustering")
    text = WINDOWED.replace("FIRST", "'2024-01-01'").replace("LAST", "'2024-01-02'").replace(
        "@weir.model(", '@weir.model(task="clustering", ')
    with pytest.raises(ConfigError) as exc:
        load_project(make_project({"assets.py": text}))
    assert "'clustering'" in str(exc.value) and "assets.py:" in str(exc.value)
    assert "regression" in str(exc.value) and "classification" in str(exc.value)


def test_model_metric_helpers_refuse_expressions():
    with pytest.raises(ConfigError, match="plain identifier"):
        weir.regression_metrics(prediction="a + b", label="y")
    with pytest.raises(ConfigError, match="plain identifier"):
        weir.classification_metrics(prediction="p", label="y", score="1 - s")


CLASSIFIER = '''
import weir
days = weir.daily(start="2024-01-01", end="2024-01-05")
raw = weir.source("raw", path="landing/{partition}.csv", partitions=days, columns={"x": "float", "label": "int"})

@weir.model(task="classification", features=["x"], target="label",
            inputs={"train": weir.upstream("raw", weir.window("2024-01-01", "2024-01-02"))})
def classifier(train):
    from sklearn.linear_model import LogisticRegression
    return LogisticRegression().fit(train[["x"]], train["label"])

@weir.asset(partitions=days,
            metrics=weir.classification_metrics(prediction="predicted", label="label", score="score"))
def scored(classifier, raw):
    out = raw.copy()
    out["predicted"] = classifier.predict(raw[["x"]])
    out["score"] = classifier.predict_proba(raw[["x"]])[:, 1]
    return out
'''


def test_classification_metrics_give_accuracy_per_partition(backend, make_project, workspace_dir):
    project = make_project({"assets.py": CLASSIFIER})
    for i in range(5):
        rng = np.random.default_rng(100 + i)
        x = rng.uniform(-3, 3, 60)
        label = (x + rng.normal(0, 1, 60) > 0).astype(int)
        land_csv(project, f"landing/{key(i)}.csv", [{"x": round(float(a), 4), "label": int(b)} for a, b in zip(x, label)])
    with Workspace(workspace_dir, project) as ws:
        result = ws.runs.run(RunRequest(executor="inprocess"))
        assert result.state == "succeeded", result.failures
        [row] = ws.data.read("classifier", None).to_pylist()
        assert row["task"] == "classification" and row["model_class"].endswith("LogisticRegression")
        assert json.loads(row["trained_on"]) == {"raw": [key(0), key(1)]}
        series = {(p["partition_key"], p["metric"]): p["value"] for p in ws.monitors.metrics("scored", column="")}
        for i in range(5):
            data = ws.data.read("scored", key(i)).to_pandas()
            assert series[(key(i), "accuracy")] == pytest.approx((data["predicted"] == data["label"]).mean(), rel=1e-12)
            assert series[(key(i), "predicted_positive_rate")] == pytest.approx((data["predicted"] == 1).mean(), rel=1e-12)
            assert series[(key(i), "observed_positive_rate")] == pytest.approx((data["label"] == 1).mean(), rel=1e-12)
            assert series[(key(i), "brier")] == pytest.approx(((data["score"] - data["label"]) ** 2).mean(), rel=1e-9)
            assert 0.6 < series[(key(i), "accuracy")] <= 1.0
        assert {k for k, m in series if m == "accuracy"} == {key(i) for i in range(5)}
