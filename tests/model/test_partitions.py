"""Partition schemes (keys, validation, ranges, time zones) and partition mappings."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

import weir
from weir.errors import ConfigError, PartitionError
from weir.model.mappings import AllPartitions, Auto, Previous, all_partitions
from weir.model.partitions import UNPARTITIONED_KEY, scheme_from_dict

# -- keys ---------------------------------------------------------------------------------


def test_daily_keys_are_every_day_inclusive_across_a_leap_day():
    days = weir.daily(start="2024-02-27", end="2024-03-01")
    assert days.keys() == ["2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01"]


def test_daily_accepts_dates_as_bounds():
    days = weir.daily(start=date(2024, 1, 1), end=date(2024, 1, 3))
    assert days.keys() == ["2024-01-01", "2024-01-02", "2024-01-03"]


def test_hourly_keys_cover_every_hour_inclusive():
    hours = weir.hourly(start="2024-01-01T22", end="2024-01-02T01")
    assert hours.keys() == ["2024-01-01T22", "2024-01-01T23", "2024-01-02T00", "2024-01-02T01"]


def test_hourly_accepts_datetimes_as_bounds():
    hours = weir.hourly(start=datetime(2024, 1, 1, 5), end=datetime(2024, 1, 1, 6))
    assert hours.keys() == ["2024-01-01T05", "2024-01-01T06"]


def test_monthly_keys_roll_over_the_year():
    months = weir.monthly(start="2023-11", end="2024-02")
    assert months.keys() == ["2023-11", "2023-12", "2024-01", "2024-02"]


def test_static_keys_keep_their_declared_order():
    regions = weir.static(["eu", "us", "apac"])
    assert regions.keys() == ["eu", "us", "apac"]
    assert regions.is_partitioned and not regions.is_time


def test_unpartitioned_has_one_empty_key():
    whole = weir.unpartitioned()
    assert whole.keys() == [UNPARTITIONED_KEY]
    assert not whole.is_partitioned
    assert whole.validate_key("") == UNPARTITIONED_KEY


def test_single_key_range_is_allowed():
    assert weir.daily(start="2024-05-05", end="2024-05-05").keys() == ["2024-05-05"]


# -- validate_key -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scheme, key",
    [
        (weir.daily(start="2024-01-01", end="2024-12-31"), "2024-1-5"),
        (weir.daily(start="2024-01-01", end="2024-12-31"), "2024-01-05T00"),
        (weir.daily(start="2024-01-01", end="2024-12-31"), "yesterday"),
        (weir.daily(start="2024-01-01", end="2024-12-31"), "2024-02-30"),
        (weir.hourly(start="2024-01-01T00", end="2024-01-02T00"), "2024-01-01"),
        (weir.hourly(start="2024-01-01T00", end="2024-01-02T00"), "2024-01-01T24"),
        (weir.monthly(start="2024-01", end="2024-12"), "2024-01-01"),
        (weir.monthly(start="2024-01", end="2024-12"), "2024-13"),
    ],
)
def test_validate_key_rejects_malformed_time_keys(scheme, key):
    with pytest.raises(PartitionError, match=f"{scheme.kind} key"):
        scheme.validate_key(key)


@pytest.mark.parametrize(
    "scheme, key",
    [
        (weir.daily(start="2024-01-01", end="2024-01-31"), "2023-12-31"),
        (weir.daily(start="2024-01-01", end="2024-01-31"), "2024-02-01"),
        (weir.hourly(start="2024-01-01T00", end="2024-01-01T12"), "2024-01-01T13"),
        (weir.monthly(start="2024-01", end="2024-06"), "2024-07"),
    ],
)
def test_validate_key_rejects_keys_outside_the_range(scheme, key):
    with pytest.raises(PartitionError, match="outside"):
        scheme.validate_key(key)


def test_validate_key_returns_good_keys_at_both_ends():
    days = weir.daily(start="2024-01-01", end="2024-01-31")
    assert days.validate_key("2024-01-01") == "2024-01-01"
    assert days.validate_key("2024-01-31") == "2024-01-31"


def test_static_rejects_unknown_key_and_names_the_keys():
    regions = weir.static(["eu", "us"])
    assert regions.validate_key("us") == "us"
    with pytest.raises(PartitionError, match=r"'apac'.*static\(eu, us\)"):
        regions.validate_key("apac")


def test_unpartitioned_rejects_any_key():
    with pytest.raises(PartitionError, match="unpartitioned"):
        weir.unpartitioned().validate_key("2024-01-01")


def test_partition_error_is_a_usage_error():
    assert PartitionError.exit_code == 2


# -- key_range ----------------------------------------------------------------------------


def test_key_range_is_inclusive_and_ordered():
    days = weir.daily(start="2024-01-01", end="2024-01-31")
    assert days.key_range("2024-01-03", "2024-01-05") == ["2024-01-03", "2024-01-04", "2024-01-05"]
    assert days.key_range("2024-01-07", "2024-01-07") == ["2024-01-07"]


def test_key_range_on_static_follows_declared_order():
    regions = weir.static(["eu", "us", "apac", "latam"])
    assert regions.key_range("us", "latam") == ["us", "apac", "latam"]


def test_key_range_backwards_is_an_error():
    days = weir.daily(start="2024-01-01", end="2024-01-31")
    with pytest.raises(PartitionError, match="comes after"):
        days.key_range("2024-01-05", "2024-01-03")


def test_key_range_with_key_outside_scheme_is_an_error():
    days = weir.daily(start="2024-01-01", end="2024-01-31")
    with pytest.raises(PartitionError, match="outside"):
        days.key_range("2024-01-30", "2024-02-02")


def test_shift_moves_along_the_grid_and_stops_at_the_edges():
    days = weir.daily(start="2024-01-01", end="2024-01-05")
    assert days.shift("2024-01-03", -2) == "2024-01-01"
    assert days.shift("2024-01-03", 2) == "2024-01-05"
    assert days.shift("2024-01-01", -1) is None
    assert days.shift("2024-01-05", 1) is None


# -- bad schemes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: weir.daily(start="2024-02-01", end="2024-01-01"),
        lambda: weir.hourly(start="2024-01-01T05", end="2024-01-01T04"),
        lambda: weir.monthly(start="2024-06", end="2024-01"),
    ],
)
def test_start_after_end_is_a_config_error(make):
    with pytest.raises(ConfigError, match="is after end"):
        make()


@pytest.mark.parametrize(
    "make, what",
    [
        (lambda: weir.daily(start="2024/01/01", end="2024-01-31"), "start"),
        (lambda: weir.daily(start="2024-01-01", end="soon"), "end"),
        (lambda: weir.monthly(start="2024-01-01", end="2024-03"), "start"),
        (lambda: weir.hourly(start="2024-01-01", end="2024-01-02T00"), "start"),
    ],
)
def test_malformed_bounds_are_config_errors_naming_the_bound(make, what):
    with pytest.raises(ConfigError, match=f"{what} .* is not a valid key"):
        make()


@pytest.mark.parametrize(
    "values, message",
    [
        ([], "at least one"),
        (["eu", "eu"], "repeat"),
        (["eu", "a/b"], "without '/'"),
        (["tab\there"], "control characters"),
        ([""], "1 to 64 characters"),
        (["k" * 65], "1 to 64 characters"),
    ],
)
def test_bad_static_keys_are_config_errors(values, message):
    with pytest.raises(ConfigError, match=message):
        weir.static(values)


def test_unknown_time_zone_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown time zone 'Mars/Olympus_Mons'"):
        weir.daily(start="2024-01-01", end="2024-01-31", tz="Mars/Olympus_Mons")


def test_config_errors_are_not_partition_errors():
    # The CLI and loader rely on the two being distinct: a bad scheme is a project problem.
    with pytest.raises(ConfigError) as info:
        weir.daily(start="2024-02-01", end="2024-01-01")
    assert not isinstance(info.value, PartitionError)


# -- time zones ---------------------------------------------------------------------------


def test_window_is_utc_by_default():
    days = weir.daily(start="2024-01-01", end="2024-01-31")
    start, end = days.window("2024-01-05")
    assert start == datetime(2024, 1, 5, tzinfo=UTC)
    assert end == datetime(2024, 1, 6, tzinfo=UTC)


def test_window_is_aware_in_the_schemes_zone():
    days = weir.daily(start="2024-01-01", end="2024-01-31", tz="America/New_York")
    start, end = days.window("2024-01-05")
    assert start.tzinfo == ZoneInfo("America/New_York")
    assert start.utcoffset() == timedelta(hours=-5)
    assert start.astimezone(UTC) == datetime(2024, 1, 5, 5, tzinfo=UTC)
    assert end.astimezone(UTC) == datetime(2024, 1, 6, 5, tzinfo=UTC)


def test_daily_window_on_a_dst_day_is_23_real_hours():
    days = weir.daily(start="2024-03-01", end="2024-03-31", tz="America/New_York")
    start, end = days.window("2024-03-10")
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=23)


def test_monthly_window_spans_the_month():
    months = weir.monthly(start="2024-01", end="2024-12", tz="Europe/Berlin")
    start, end = months.window("2024-12")
    assert (start.year, start.month, start.day) == (2024, 12, 1)
    assert (end.year, end.month, end.day) == (2025, 1, 1)
    assert start.astimezone(UTC) == datetime(2024, 11, 30, 23, tzinfo=UTC)


def test_key_of_converts_aware_moments_into_the_zone():
    days = weir.daily(start="2024-01-01", end="2024-01-31", tz="America/New_York")
    # 03:00 UTC on the 10th is still the evening of the 9th in New York.
    assert days.key_of(datetime(2024, 1, 10, 3, tzinfo=UTC)) == "2024-01-09"
    assert days.key_of(datetime(2024, 1, 10, 6, tzinfo=UTC)) == "2024-01-10"


def test_describe_and_to_dict_round_trip_keep_the_zone():
    days = weir.daily(start="2024-01-01", end="2024-01-31", tz="America/New_York")
    assert "America/New_York" in days.describe()
    again = scheme_from_dict(days.to_dict())
    assert again == days
    assert again.window("2024-01-05") == days.window("2024-01-05")


@pytest.mark.parametrize(
    "scheme",
    [weir.static(["a", "b"]), weir.unpartitioned(), weir.monthly(start="2024-01", end="2024-02"),
     weir.hourly(start="2024-01-01T00", end="2024-01-01T03")],
)
def test_to_dict_round_trips(scheme):
    assert scheme_from_dict(scheme.to_dict()) == scheme


def test_scheme_from_dict_rejects_unknown_kind():
    with pytest.raises(ConfigError, match="unknown partition kind 'weekly'"):
        scheme_from_dict({"kind": "weekly", "start": "2024-01-01", "end": "2024-02-01"})


# -- mappings -----------------------------------------------------------------------------


def test_auto_is_identity_on_equal_schemes():
    days = weir.daily(start="2024-01-01", end="2024-01-31")
    assert Auto().problem(days, days) is None
    assert Auto().upstream_keys(days, days, "2024-01-07") == ["2024-01-07"]
    regions = weir.static(["eu", "us"])
    assert Auto().upstream_keys(regions, regions, "us") == ["us"]


def test_monthly_from_daily_reads_every_day_of_the_month():
    days = weir.daily(start="2024-01-01", end="2024-12-31")
    months = weir.monthly(start="2024-01", end="2024-12")
    assert Auto().problem(months, days) is None
    keys = Auto().upstream_keys(months, days, "2024-02")
    assert keys == [f"2024-02-{d:02d}" for d in range(1, 30)]


def test_monthly_from_daily_reads_only_days_that_exist_upstream():
    days = weir.daily(start="2024-01-20", end="2024-12-31")
    months = weir.monthly(start="2024-01", end="2024-12")
    assert Auto().upstream_keys(months, days, "2024-01") == [f"2024-01-{d}" for d in range(20, 32)]


def test_daily_from_monthly_reads_the_holding_month():
    days = weir.daily(start="2024-01-01", end="2024-12-31")
    months = weir.monthly(start="2024-01", end="2024-12")
    assert Auto().problem(days, months) is None
    assert Auto().upstream_keys(days, months, "2024-03-31") == ["2024-03"]
    assert Auto().upstream_keys(days, months, "2024-04-01") == ["2024-04"]


def test_daily_from_monthly_outside_upstream_range_reads_nothing():
    days = weir.daily(start="2024-01-01", end="2024-12-31")
    months = weir.monthly(start="2024-03", end="2024-12")
    assert Auto().upstream_keys(days, months, "2024-02-10") == []


def test_daily_from_hourly_reads_24_hours():
    days = weir.daily(start="2024-01-01", end="2024-01-31")
    hours = weir.hourly(start="2024-01-01T00", end="2024-01-31T23")
    keys = Auto().upstream_keys(days, hours, "2024-01-02")
    assert keys == [f"2024-01-02T{h:02d}" for h in range(24)]


def test_new_york_day_from_utc_hours_reads_the_hours_of_that_local_day():
    days = weir.daily(start="2024-03-01", end="2024-03-31", tz="America/New_York")
    hours = weir.hourly(start="2024-03-01T00", end="2024-04-01T23")
    ordinary = Auto().upstream_keys(days, hours, "2024-03-05")
    assert ordinary[0] == "2024-03-05T05" and ordinary[-1] == "2024-03-06T04" and len(ordinary) == 24
    # The spring-forward day has 23 hours.
    assert len(Auto().upstream_keys(days, hours, "2024-03-10")) == 23


def test_previous_1_reads_the_partition_before():
    days = weir.daily(start="2024-01-01", end="2024-01-31")
    assert Previous(n=1).problem(days, days) is None
    assert weir.previous(1).upstream_keys(days, days, "2024-01-10") == ["2024-01-09"]


def test_previous_3_reads_three_partitions_back():
    days = weir.daily(start="2024-01-01", end="2024-03-31")
    assert weir.previous(3).upstream_keys(days, days, "2024-03-02") == ["2024-02-28"]
    months = weir.monthly(start="2023-01", end="2024-12")
    assert weir.previous(3).upstream_keys(months, months, "2024-02") == ["2023-11"]
    hours = weir.hourly(start="2024-01-01T00", end="2024-01-02T23")
    assert weir.previous(3).upstream_keys(hours, hours, "2024-01-02T01") == ["2024-01-01T22"]


@pytest.mark.parametrize("n, key", [(1, "2024-01-01"), (3, "2024-01-01"), (3, "2024-01-02"), (3, "2024-01-03")])
def test_previous_at_the_start_of_the_range_reads_nothing(n, key):
    days = weir.daily(start="2024-01-01", end="2024-01-31")
    assert weir.previous(n).upstream_keys(days, days, key) == []


def test_previous_3_first_reachable_key():
    days = weir.daily(start="2024-01-01", end="2024-01-31")
    assert weir.previous(3).upstream_keys(days, days, "2024-01-04") == ["2024-01-01"]


def test_previous_on_static_keys_follows_declared_order():
    regions = weir.static(["eu", "us", "apac"])
    assert weir.previous(1).upstream_keys(regions, regions, "apac") == ["us"]
    assert weir.previous(1).upstream_keys(regions, regions, "eu") == []


def test_previous_in_a_zone_across_dst():
    days = weir.daily(start="2024-03-01", end="2024-03-31", tz="America/New_York")
    assert weir.previous(1).upstream_keys(days, days, "2024-03-11") == ["2024-03-10"]
    assert weir.previous(1).upstream_keys(days, days, "2024-03-10") == ["2024-03-09"]


@pytest.mark.parametrize("n", [0, -1, 1.5])
def test_previous_needs_a_positive_whole_number(n):
    with pytest.raises(ValueError, match="positive whole"):
        weir.previous(n)


def test_all_partitions_reads_every_upstream_key():
    days = weir.daily(start="2024-01-01", end="2024-01-05")
    whole = weir.unpartitioned()
    assert AllPartitions().problem(whole, days) is None
    assert all_partitions().upstream_keys(whole, days, UNPARTITIONED_KEY) == days.keys()
    months = weir.monthly(start="2024-01", end="2024-12")
    assert all_partitions().upstream_keys(months, days, "2024-07") == days.keys()


def test_unpartitioned_downstream_reads_every_partition_and_vice_versa():
    days = weir.daily(start="2024-01-01", end="2024-01-03")
    whole = weir.unpartitioned()
    assert Auto().problem(whole, days) is None and Auto().problem(days, whole) is None
    assert Auto().upstream_keys(whole, days, UNPARTITIONED_KEY) == days.keys()
    assert Auto().upstream_keys(days, whole, "2024-01-02") == [UNPARTITIONED_KEY]


# -- mappings that cannot work -----------------------------------------------------------


def test_auto_cannot_map_static_onto_daily_either_way():
    days = weir.daily(start="2024-01-01", end="2024-01-31")
    regions = weir.static(["eu", "us"])
    assert "cannot map" in Auto().problem(days, regions)
    assert "cannot map" in Auto().problem(regions, days)


def test_auto_static_to_static_needs_every_downstream_key_upstream():
    up = weir.static(["eu", "us"])
    down = weir.static(["eu", "us", "apac"])
    assert Auto().problem(down, up) == "static keys ['apac'] have no upstream partition"
    assert Auto().problem(up, down) is None


def test_previous_across_kinds_cannot_work():
    days = weir.daily(start="2024-01-01", end="2024-01-31")
    months = weir.monthly(start="2024-01", end="2024-12")
    problem = Previous(n=1).problem(days, months)
    assert problem is not None and "same partition kind" in problem
    assert "monthly" in problem and "daily" in problem


def test_previous_with_an_unpartitioned_side_cannot_work():
    days = weir.daily(start="2024-01-01", end="2024-01-31")
    assert Previous(n=2).problem(days, weir.unpartitioned()) is not None
    assert Previous(n=2).problem(weir.unpartitioned(), days) is not None


# -- hourly keys where clocks change ------------------------------------------------------


def _tiles_time(scheme) -> bool:
    """Every window is one real hour and each starts where the one before ended."""
    windows = [scheme.window(k) for k in scheme.keys()]
    one_hour = all(e.astimezone(UTC) - s.astimezone(UTC) == timedelta(hours=1) for s, e in windows)
    joined = all(windows[i][1] == windows[i + 1][0] for i in range(len(windows) - 1))
    return one_hour and joined


def test_hourly_keys_skip_the_hour_the_clocks_skip():
    hours = weir.hourly(start="2024-03-31T00", end="2024-03-31T04", tz="Europe/Paris")
    assert hours.keys() == ["2024-03-31T00", "2024-03-31T01", "2024-03-31T03", "2024-03-31T04"]
    assert hours.count() == 4
    assert _tiles_time(hours)
    assert hours.window("2024-03-31T01")[1].astimezone(UTC) == datetime(2024, 3, 31, 1, tzinfo=UTC)
    with pytest.raises(PartitionError, match="clocks skip it"):
        hours.validate_key("2024-03-31T02")


def test_hourly_bounds_on_a_skipped_hour_are_config_errors():
    with pytest.raises(ConfigError, match="start.*clocks skip it"):
        weir.hourly(start="2024-03-31T02", end="2024-03-31T04", tz="Europe/Paris")


def test_the_repeated_hour_has_two_keys_in_time_order():
    hours = weir.hourly(start="2024-10-27T00", end="2024-10-27T04", tz="Europe/Paris")
    assert hours.keys() == [
        "2024-10-27T00", "2024-10-27T01", "2024-10-27T02", "2024-10-27T02+0100", "2024-10-27T03", "2024-10-27T04",
    ]
    assert hours.keys() == sorted(hours.keys())  # lexical order is time order
    assert hours.count() == 6
    assert _tiles_time(hours)
    first, second = hours.window("2024-10-27T02"), hours.window("2024-10-27T02+0100")
    assert first[0].astimezone(UTC) == datetime(2024, 10, 27, 0, tzinfo=UTC)
    assert second[0].astimezone(UTC) == datetime(2024, 10, 27, 1, tzinfo=UTC)
    assert (first[0].hour, second[0].hour) == (2, 2)  # both read 02:00 on a wall clock
    assert hours.validate_key("2024-10-27T02+0100") == "2024-10-27T02+0100"


def test_key_of_tells_the_two_repeated_hours_apart():
    hours = weir.hourly(start="2024-10-27T00", end="2024-10-27T04", tz="Europe/Paris")
    assert hours.key_of(datetime(2024, 10, 27, 0, 30, tzinfo=UTC)) == "2024-10-27T02"
    assert hours.key_of(datetime(2024, 10, 27, 1, 30, tzinfo=UTC)) == "2024-10-27T02+0100"
    assert hours.key_of(datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Paris"))) == "2024-10-27T02+0100"
    assert all(hours.key_of(hours.window(k)[0]) == k for k in hours.keys())


def test_the_repeated_hour_west_of_greenwich_carries_a_negative_offset():
    hours = weir.hourly(start="2024-11-03T00", end="2024-11-03T02", tz="America/New_York")
    assert hours.keys() == ["2024-11-03T00", "2024-11-03T01", "2024-11-03T01-0500", "2024-11-03T02"]
    assert _tiles_time(hours)


@pytest.mark.parametrize("key", ["2024-10-27T03+0100", "2024-10-27T02+0300", "2024-10-27T02+0200", "2024-10-27T02x"])
def test_an_offset_is_only_part_of_the_second_repeated_hour(key):
    hours = weir.hourly(start="2024-10-27T00", end="2024-10-27T04", tz="Europe/Paris")
    with pytest.raises(PartitionError, match="hourly key"):
        hours.validate_key(key)


def test_a_range_may_end_on_the_second_repeated_hour():
    hours = weir.hourly(start="2024-10-27T02+0100", end="2024-10-27T03", tz="Europe/Paris")
    assert hours.keys() == ["2024-10-27T02+0100", "2024-10-27T03"]
    with pytest.raises(ConfigError, match="is after end"):
        weir.hourly(start="2024-10-27T02+0100", end="2024-10-27T02", tz="Europe/Paris")


def test_a_day_of_clock_changes_reads_its_23_or_25_local_hours():
    days = weir.daily(start="2024-03-01", end="2024-10-31", tz="Europe/Paris")
    hours = weir.hourly(start="2024-03-30T00", end="2024-10-28T23", tz="Europe/Paris")
    spring = Auto().upstream_keys(days, hours, "2024-03-31")
    autumn = Auto().upstream_keys(days, hours, "2024-10-27")
    assert len(spring) == 23 and "2024-03-31T02" not in spring
    assert len(autumn) == 25 and autumn[2:4] == ["2024-10-27T02", "2024-10-27T02+0100"]
    assert Auto().upstream_keys(hours, days, "2024-10-27T02+0100") == ["2024-10-27"]


def test_previous_hour_steps_through_real_hours_across_clock_changes():
    hours = weir.hourly(start="2024-03-30T00", end="2024-10-28T23", tz="Europe/Paris")
    assert weir.previous(1).upstream_keys(hours, hours, "2024-03-31T03") == ["2024-03-31T01"]
    assert weir.previous(1).upstream_keys(hours, hours, "2024-10-27T02+0100") == ["2024-10-27T02"]
    assert weir.previous(1).upstream_keys(hours, hours, "2024-10-27T03") == ["2024-10-27T02+0100"]
    assert weir.previous(2).upstream_keys(hours, hours, "2024-10-27T03") == ["2024-10-27T02"]


def test_hourly_keys_in_utc_are_unchanged():
    hours = weir.hourly(start="2024-10-27T00", end="2024-10-27T03")
    assert hours.keys() == ["2024-10-27T00", "2024-10-27T01", "2024-10-27T02", "2024-10-27T03"]
    assert hours.window("2024-10-27T02") == (datetime(2024, 10, 27, 2, tzinfo=UTC), datetime(2024, 10, 27, 3, tzinfo=UTC))
