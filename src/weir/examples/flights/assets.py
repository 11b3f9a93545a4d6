"""Assets of the flights example.

Landing files arrive daily (``python land.py`` delivers more days); weir cleans them, aggregates
the weather, computes delay statistics per carrier in SQL (``sql/carrier_delays.sql``) and a
monthly report behind the operations dashboard.
"""

import pandas as pd

import weir

# Flights carry local New York dates, so the days are New York days.
days = weir.daily(start="2013-01-01", end="2013-12-31", tz="America/New_York")
months = weir.monthly(start="2013-01", end="2013-12", tz="America/New_York")

flights_landing = weir.source(
    "flights_landing",
    path="landing/flights/{partition}.csv",
    partitions=days,
    description="Departures from JFK, LGA and EWR as delivered, one CSV per day",
    # the input contract: values that do not parse as these types are malformed rows; more than
    # 1% of them blocks the day before anything reads it
    columns={
        "year": "int", "month": "int", "day": "int", "dep_time": "float", "sched_dep_time": "int",
        "dep_delay": "float", "arr_delay": "float", "carrier": "string", "flight": "int", "tailnum": "string",
        "origin": "string", "dest": "string", "air_time": "float", "distance": "float", "hour": "int",
    },
    max_malformed=0.01,
    checks=[weir.checks.not_null("carrier", severity="block"), weir.checks.not_null("sched_dep_time", severity="block")],
)
weather_landing = weir.source(
    "weather_landing",
    path="landing/weather/{partition}.csv",
    partitions=days,
    description="Hourly weather at the three airports, one CSV per day",
)
carriers = weir.source("carriers", path="landing/carriers.csv", description="Carrier codes and names")

FLIGHT_COLUMNS = [
    "carrier", "flight", "tailnum", "origin", "dest", "sched_dep", "dep_delay", "arr_delay",
    "air_time", "distance", "hour", "cancelled",
]


@weir.asset(
    partitions=days,
    description="Typed, cleaned flights",
    checks=[
        # a day of NYC departures has 600-1,100 flights: far fewer means a truncated delivery
        weir.checks.row_count(min=500, max=1500, severity="block"),
        weir.checks.schema(
            {"carrier": "string", "flight": "int", "sched_dep": "timestamp", "dep_delay": "float", "arr_delay": "float"},
            severity="block",
        ),
        weir.checks.not_null("dep_delay", where="NOT cancelled"),
        weir.checks.references("carrier", to="carriers"),
        weir.checks.accepted_values("origin", ["JFK", "LGA", "EWR"]),
        weir.checks.unique("carrier", "flight", "sched_dep"),
        weir.checks.in_range("distance", min=0, max=5000),
        weir.checks.expression("air_time IS NULL OR air_time > 0", name="positive air time"),
        weir.checks.not_null("arr_delay", mostly=0.95, severity="warn"),
    ],
)
def flights(flights_landing: pd.DataFrame) -> pd.DataFrame:
    """Typed, cleaned flights: one row per scheduled departure, with a local departure time."""
    df = flights_landing
    sched = df["sched_dep_time"].astype("int64")
    out = pd.DataFrame(
        {
            "carrier": df["carrier"].astype("string"),
            "flight": df["flight"].astype("int64"),
            "tailnum": df["tailnum"].astype("string"),
            "origin": df["origin"].astype("string"),
            "dest": df["dest"].astype("string"),
            "sched_dep": pd.to_datetime(
                {"year": df["year"], "month": df["month"], "day": df["day"], "hour": sched // 100, "minute": sched % 100}
            ),
            "dep_delay": df["dep_delay"].astype("float64"),
            "arr_delay": df["arr_delay"].astype("float64"),
            "air_time": df["air_time"].astype("float64"),
            "distance": df["distance"].astype("float64"),
            "hour": df["hour"].astype("int64"),
            "cancelled": df["dep_time"].isna(),
        }
    )
    return out[FLIGHT_COLUMNS].sort_values(["sched_dep", "carrier", "flight"], ignore_index=True)


@weir.asset(partitions=days, description="Daily weather per airport")
def weather_daily(weather_landing: pd.DataFrame) -> pd.DataFrame:
    """Daily weather per origin airport: temperature, wind, precipitation and visibility."""
    g = weather_landing.groupby("origin", as_index=False)
    return g.agg(
        temp_mean=("temp", "mean"),
        temp_min=("temp", "min"),
        temp_max=("temp", "max"),
        wind_speed_mean=("wind_speed", "mean"),
        wind_speed_max=("wind_speed", "max"),
        precip_total=("precip", "sum"),
        visib_min=("visib", "min"),
        hours=("temp", "size"),
    )


@weir.asset(partitions=months, description="Monthly on-time report per carrier")
def monthly_report(carrier_delays: pd.DataFrame, carriers: pd.DataFrame) -> pd.DataFrame:
    """Monthly on-time performance per carrier: flights, cancellations, delays (every day of the month)."""
    d = carrier_delays.assign(
        dep_delay_sum=carrier_delays["mean_dep_delay"] * carrier_delays["departed"],
        arr_delay_sum=carrier_delays["mean_arr_delay"] * carrier_delays["arrived"],
        late_sum=carrier_delays["late_share"] * carrier_delays["arrived"],
    )
    m = d.groupby("carrier", as_index=False).agg(
        flights=("flights", "sum"),
        cancelled=("cancelled", "sum"),
        departed=("departed", "sum"),
        arrived=("arrived", "sum"),
        dep_delay_sum=("dep_delay_sum", "sum"),
        arr_delay_sum=("arr_delay_sum", "sum"),
        late_sum=("late_sum", "sum"),
        days=("day", "nunique"),
    )
    m["mean_dep_delay"] = m["dep_delay_sum"] / m["departed"].where(m["departed"] > 0)
    m["mean_arr_delay"] = m["arr_delay_sum"] / m["arrived"].where(m["arrived"] > 0)
    m["late_share"] = m["late_sum"] / m["arrived"].where(m["arrived"] > 0)
    m["cancel_rate"] = m["cancelled"] / m["flights"]
    m = m.merge(carriers.rename(columns={"name": "carrier_name"}), on="carrier", how="left")
    cols = ["carrier", "carrier_name", "days", "flights", "cancelled", "cancel_rate", "mean_dep_delay", "mean_arr_delay", "late_share"]
    return m[cols].sort_values("flights", ascending=False, ignore_index=True)


ops_dashboard = weir.insight(
    "ops_dashboard",
    depends_on=["monthly_report"],
    owners=["ops-lead@example.com"],
    url="https://dash.example/ops",
    description="Monthly on-time performance dashboard for the operations team",
)
