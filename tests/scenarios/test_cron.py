"""When cron triggers fire: schedules read in their time zone, with weir's policy for daylight
saving time (a skipped time fires at the jump, a repeated time once, schedules with a wildcard
hour follow real time) and for times missed while no daemon ran (one tick for the newest)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from weir.errors import ConfigError
from weir.model.triggers import cron
from weir.scenarios.cron import due, fire_times, iso

NY = ZoneInfo("America/New_York")


def at(*args: int, tz: ZoneInfo = NY) -> float:
    return datetime(*args, tzinfo=tz).timestamp()


def local(times: list[float]) -> list[str]:
    return [datetime.fromtimestamp(t, NY).isoformat() for t in times]


def test_a_fixed_time_the_clock_skips_fires_once_when_the_clock_jumps():
    times = fire_times("30 2 * * *", "America/New_York", at(2024, 3, 9, 12), at(2024, 3, 11, 12))
    assert local(times) == ["2024-03-10T03:00:00-04:00", "2024-03-11T02:30:00-04:00"]


def test_a_fixed_time_the_clock_repeats_fires_at_its_first_occurrence_only():
    times = fire_times("30 1 * * *", "America/New_York", at(2024, 11, 2, 12), at(2024, 11, 4, 12))
    assert local(times) == ["2024-11-03T01:30:00-04:00", "2024-11-04T01:30:00-05:00"]


def test_a_schedule_with_a_wildcard_hour_follows_real_time_through_both_changes():
    back = fire_times("*/30 * * * *", "America/New_York", at(2024, 11, 3, 0, 45), at(2024, 11, 3, 2, 15))
    assert local(back) == ["2024-11-03T01:00:00-04:00", "2024-11-03T01:30:00-04:00",  # the repeated hour, twice
                           "2024-11-03T01:00:00-05:00", "2024-11-03T01:30:00-05:00", "2024-11-03T02:00:00-05:00"]
    forward = fire_times("*/30 * * * *", "America/New_York", at(2024, 3, 10, 1, 15), at(2024, 3, 10, 3, 45))
    assert local(forward) == ["2024-03-10T01:30:00-05:00", "2024-03-10T03:00:00-04:00", "2024-03-10T03:30:00-04:00"]


def test_two_wall_times_on_one_instant_are_one_fire_time():
    times = fire_times("0 2,3 * * *", "America/New_York", at(2024, 3, 9, 12), at(2024, 3, 10, 12))
    assert local(times) == ["2024-03-10T03:00:00-04:00"]


def test_missed_times_coalesce_into_one_tick_for_the_newest():
    firing = due("0 * * * *", "UTC", at(2024, 1, 1, 0, tz=UTC), at(2024, 1, 1, 5, 30, tz=UTC))
    assert firing is not None
    assert iso(firing.at) == "2024-01-01T05:00:00Z"
    assert firing.missed == 4 and [iso(t) for t in firing.missed_times] == [
        "2024-01-01T01:00:00Z", "2024-01-01T02:00:00Z", "2024-01-01T03:00:00Z", "2024-01-01T04:00:00Z"]
    assert due("0 * * * *", "UTC", at(2024, 1, 1, 5, tz=UTC), at(2024, 1, 1, 5, 59, tz=UTC)) is None


def test_a_long_downtime_of_a_per_second_schedule_is_one_tick_that_counts_at_least_what_it_counted():
    firing = due("* * * * * *", "UTC", at(2024, 1, 1, tz=UTC), at(2024, 1, 2, tz=UTC))
    assert firing is not None and firing.at_least and firing.missed >= 10_000
    assert iso(firing.at) == "2024-01-02T00:00:00Z"


def test_six_fields_put_seconds_last():
    times = fire_times("* * * * * */2", "UTC", at(2024, 1, 1, tz=UTC), at(2024, 1, 1, 0, 0, 7, tz=UTC))
    assert [iso(t) for t in times] == [f"2024-01-01T00:00:0{s}Z" for s in (2, 4, 6)]


@pytest.mark.parametrize(("schedule", "zone"), [("61 * * * *", "UTC"), ("* * *", "UTC"), ("0 6 * * *", "Mars/Olympus")])
def test_a_bad_schedule_or_time_zone_is_a_config_error(schedule, zone):
    with pytest.raises(ConfigError):
        cron(schedule, timezone=zone)
