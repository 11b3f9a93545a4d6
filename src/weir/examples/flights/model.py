"""A model of the flights example: predict each departed flight's arrival delay from what is
known at departure (departure delay, carrier, airport, distance, hour, the day's weather).

- ``flight_features``: one row per departed flight, daily.
- ``delay_model``: trained on January (``weir.window``); a scikit-learn pipeline, stored as a
  versioned artifact.
- ``delay_predictions``: the model applied to each day's features.
- ``arrivals``: the labels, actual arrival delays, delivered with the next day's data.
- ``prediction_quality``: per flight, predicted vs actual, once the labels land; its MAE, RMSE
  and bias are metric series monitored like any other.
"""

from typing import TYPE_CHECKING

import pandas as pd

import weir

from .assets import days

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

NUMERIC = ["dep_delay", "distance", "hour", "temp_mean", "wind_speed_mean", "precip_total", "visib_min"]
CATEGORICAL = ["carrier", "origin"]
FEATURES = NUMERIC + CATEGORICAL
KEY = ["carrier", "flight", "origin", "sched_dep"]
TRAINING = weir.window("2013-01-01", "2013-01-31")

arrivals = weir.source(
    "arrivals",
    path="landing/arrivals/{partition}.csv",
    partitions=days,
    description="Actual arrival delays of a day's flights, delivered with the next day's data",
    columns={"carrier": "string", "flight": "int", "origin": "string", "sched_dep_time": "int", "arr_delay": "float"},
)


@weir.asset(partitions=days, description="Model features per departed flight")
def flight_features(flights: pd.DataFrame, weather_daily: pd.DataFrame) -> pd.DataFrame:
    """What is known when a flight departs, with the day's weather at its airport."""
    departed = flights[~flights["cancelled"]]
    df = departed.merge(weather_daily, on="origin", how="left")
    return df[KEY + [c for c in FEATURES if c not in KEY]].reset_index(drop=True)


def _labelled(features: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    labels = labels.assign(
        sched_dep_hm=labels["sched_dep_time"].astype("int64"),
    )[["carrier", "flight", "origin", "sched_dep_hm", "arr_delay"]]
    f = features.assign(sched_dep_hm=features["sched_dep"].dt.hour * 100 + features["sched_dep"].dt.minute)
    return f.merge(labels, on=["carrier", "flight", "origin", "sched_dep_hm"], how="inner")


@weir.model(
    features=FEATURES,
    target="arr_delay",
    inputs={"features": weir.upstream("flight_features", TRAINING), "labels": weir.upstream("arrivals", TRAINING)},
    description="Arrival delay model, trained on January",
)
def delay_model(features: pd.DataFrame, labels: pd.DataFrame) -> "Pipeline":
    """Ridge regression on one-hot carrier/airport and imputed numeric features."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    data = _labelled(features, labels)
    prep = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), NUMERIC),
            ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ]
    )
    model = make_pipeline(prep, Ridge(alpha=1.0))
    return model.fit(data[FEATURES], data["arr_delay"])


@weir.asset(partitions=days, description="Predicted arrival delay per departed flight")
def delay_predictions(delay_model: "Pipeline", flight_features: pd.DataFrame) -> pd.DataFrame:
    out = flight_features[KEY].copy()
    out["predicted_arr_delay"] = delay_model.predict(flight_features[FEATURES]) if len(flight_features) else []
    return out


@weir.asset(
    partitions=days,
    description="Predicted vs actual arrival delay, once the arrivals land",
    metrics=weir.regression_metrics(prediction="predicted", label="actual"),
)
def prediction_quality(delay_predictions: pd.DataFrame, arrivals: pd.DataFrame) -> pd.DataFrame:
    """One row per flight with a known arrival: predicted, actual and the error."""
    p = delay_predictions.rename(columns={"predicted_arr_delay": "predicted"})
    df = _labelled(p, arrivals)
    return pd.DataFrame(
        {"carrier": df["carrier"], "predicted": df["predicted"], "actual": df["arr_delay"],
         "error": df["predicted"] - df["arr_delay"]}
    )
