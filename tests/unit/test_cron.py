"""Cron configs: standard cron semantics, seconds, validation reasons, time zones and DST."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from triggers.cron import TriggerConfigError, next_run_at, parse_cron_config
from triggers.cron_schedule import latest_fire_between, schedule_of

UTC = dt.UTC
SATURDAY_NOON = dt.datetime(2024, 6, 1, 12, 0, tzinfo=UTC)  # Saturday 1 June 2024


def upcoming(config: dict[str, Any], start: dt.datetime, count: int) -> list[dt.datetime]:
    out, at = [], start
    for _ in range(count):
        nxt = next_run_at(config, at)
        assert nxt is not None and nxt.tzinfo is not None and nxt.utcoffset() == dt.timedelta(0)
        out.append(nxt)
        at = nxt
    return out


def weekdays(expression: str, count: int = 7) -> list[str]:
    return [t.strftime("%a") for t in upcoming({"schedule": expression}, SATURDAY_NOON, count)]


@pytest.mark.parametrize("expression", ["0 9 * * 0", "0 9 * * 7", "0 9 * * sun", "0 9 * * SUN"])
def test_day_of_week_zero_seven_and_sun_mean_sunday(expression: str) -> None:
    times = upcoming({"schedule": expression}, SATURDAY_NOON, 2)
    assert times == [dt.datetime(2024, 6, 2, 9, tzinfo=UTC), dt.datetime(2024, 6, 9, 9, tzinfo=UTC)]


@pytest.mark.parametrize("expression", ["0 9 * * 1-5", "0 9 * * mon-fri", "0 9 * * 1,2,3,4,5"])
def test_weekday_ranges_mean_monday_to_friday(expression: str) -> None:
    assert weekdays(expression, 6) == ["Mon", "Tue", "Wed", "Thu", "Fri", "Mon"]


def test_weekday_steps_lists_and_weekend_ranges() -> None:
    assert weekdays("0 9 * * */2", 4) == ["Sun", "Tue", "Thu", "Sat"]
    assert weekdays("0 9 * * 5-7", 4) == ["Sun", "Fri", "Sat", "Sun"]
    assert weekdays("0 9 * * sat-sun", 3) == ["Sun", "Sat", "Sun"]
    assert weekdays("0 9 * * 1/3", 3) == ["Mon", "Thu", "Mon"]


def test_day_of_month_and_day_of_week_both_restricted_match_either() -> None:
    # Vixie cron: the 15th of the month OR any Monday.
    times = upcoming({"schedule": "0 9 15 * mon"}, SATURDAY_NOON, 4)
    assert [t.day for t in times] == [3, 10, 15, 17]


def test_six_fields_have_a_leading_seconds_field() -> None:
    config = parse_cron_config({"cron": "*/15 * * * * *"})
    assert config == {"schedule": "*/15 * * * * *", "timezone": "UTC", "payload": {},
                      "misfire": "run_once"}
    start = dt.datetime(2024, 6, 1, 12, 0, 7, 300000, tzinfo=UTC)
    assert [t.second for t in upcoming(config, start, 5)] == [15, 30, 45, 0, 15]
    assert next_run_at({"schedule": "30 5 * * * *"}, SATURDAY_NOON) == \
        dt.datetime(2024, 6, 1, 12, 5, 30, tzinfo=UTC)


def test_five_fields_fire_on_the_minute() -> None:
    start = dt.datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)
    assert upcoming({"schedule": "*/5 * * * *"}, start, 2) == [
        dt.datetime(2024, 6, 1, 12, 5, tzinfo=UTC), dt.datetime(2024, 6, 1, 12, 10, tzinfo=UTC)]


def test_normalizes_config() -> None:
    assert parse_cron_config({"schedule": "  0   9 * *   mon-fri ", "timezone": "Europe/Paris",
                              "payload": [1, {"a": None}], "misfire": "skip"}) == {
        "schedule": "0 9 * * mon-fri", "timezone": "Europe/Paris",
        "payload": [1, {"a": None}], "misfire": "skip"}


@pytest.mark.parametrize(("config", "reason"), [
    ({"schedule": "61 * * * *"}, "invalid cron expression '61 * * * *': minute must be 0-59"),
    ({"schedule": "0 24 * * *"}, "hour must be 0-23"),
    ({"schedule": "0 0 0 * *"}, "day-of-month must be 1-31"),
    ({"schedule": "0 0 * 13 *"}, "month must be 1-12"),
    ({"schedule": "0 0 * * 8"}, "day-of-week must be 0-7"),
    ({"schedule": "0 0 * * funday"}, "day-of-week 'funday' is not a number"),
    ({"schedule": "60 * * * * *"}, "second must be 0-59"),
    ({"schedule": "*/0 * * * *"}, "step '0' must be a positive number"),
    ({"schedule": "5-1 * * * *"}, "range '5-1' starts after it ends"),
    ({"schedule": "1,,2 * * * *"}, "empty list item"),
    ({"schedule": "* * * *"}, "expected 5 fields"),
    ({"schedule": "* * * * * * *"}, "got 7"),
    ({"schedule": "0 0 31 2 *"}, "never fires"),
    ({}, "needs 'schedule'"),
    ({"schedule": 5}, "needs 'schedule'"),
    ({"schedule": "* * * * *", "cron": "0 * * * *"}, "not both"),
    ({"schedule": "* * * * *", "timezone": "Mars/Olympus"}, "unknown timezone 'Mars/Olympus'"),
    ({"schedule": "* * * * *", "timezone": ""}, "IANA"),
    ({"schedule": "* * * * *", "misfire": "always"}, "misfire must be one of run_once, skip"),
    ({"schedule": "* * * * *", "timzone": "UTC"}, "unknown cron config field(s): timzone"),
])
def test_invalid_configs_say_why(config: dict[str, Any], reason: str) -> None:
    with pytest.raises(TriggerConfigError) as info:
        parse_cron_config(config)
    assert reason in str(info.value)
    assert isinstance(info.value, ValueError)


def test_next_run_at_honours_the_zone_across_spring_forward() -> None:
    berlin = {"schedule": "0 9 * * *", "timezone": "Europe/Berlin"}
    # CET (UTC+1) until 31 March 2024 02:00, then CEST (UTC+2).
    assert upcoming(berlin, dt.datetime(2024, 3, 29, 12, tzinfo=UTC), 3) == [
        dt.datetime(2024, 3, 30, 8, tzinfo=UTC),
        dt.datetime(2024, 3, 31, 7, tzinfo=UTC),
        dt.datetime(2024, 4, 1, 7, tzinfo=UTC),
    ]


def test_a_time_skipped_by_spring_forward_fires_once_that_day() -> None:
    # 10 March 2024, New York: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist.
    times = upcoming({"schedule": "30 2 * * *", "timezone": "America/New_York"},
                     dt.datetime(2024, 3, 9, 12, tzinfo=UTC), 3)
    assert times[0] == dt.datetime(2024, 3, 10, 7, 30, tzinfo=UTC)  # 03:30 EDT
    assert times[1] == dt.datetime(2024, 3, 11, 6, 30, tzinfo=UTC)  # 02:30 EDT
    assert len({t.date() for t in times}) == 3


def test_fall_back_does_not_fire_twice() -> None:
    # 3 November 2024, New York: 01:30 happens twice; cron runs it once.
    times = upcoming({"schedule": "30 1 * * *", "timezone": "America/New_York"},
                     dt.datetime(2024, 11, 2, 12, tzinfo=UTC), 3)
    assert [t.astimezone(dt.UTC).day for t in times] == [3, 4, 5]
    # An hourly job runs in both copies of the repeated hour, as in cron.
    hourly = upcoming({"schedule": "30 * * * *", "timezone": "America/New_York"},
                      dt.datetime(2024, 11, 3, 5, tzinfo=UTC), 2)
    assert hourly == [dt.datetime(2024, 11, 3, 5, 30, tzinfo=UTC),
                      dt.datetime(2024, 11, 3, 6, 30, tzinfo=UTC)]


def test_next_run_at_of_an_invalid_config_is_none() -> None:
    assert next_run_at({"schedule": "nope"}, SATURDAY_NOON) is None


def test_latest_fire_between_finds_the_last_missed_time_quickly() -> None:
    trigger = schedule_of({"schedule": "* * * * * *"}).trigger
    now = dt.datetime(2024, 6, 1, 1, 2, 3, 500000, tzinfo=UTC)
    assert latest_fire_between(trigger, now - dt.timedelta(days=400), now) == \
        dt.datetime(2024, 6, 1, 1, 2, 3, tzinfo=UTC)
    # Strictly after ``after``: a time already fired is not a miss.
    assert latest_fire_between(trigger, dt.datetime(2024, 6, 1, 1, 2, 3, tzinfo=UTC), now) is None
    yearly = schedule_of({"schedule": "0 0 1 1 *", "timezone": "Asia/Tokyo"}).trigger
    assert latest_fire_between(yearly, dt.datetime(2020, 6, 1, tzinfo=UTC), now) == \
        dt.datetime(2023, 12, 31, 15, tzinfo=UTC)
    assert latest_fire_between(yearly, dt.datetime(2024, 1, 1, tzinfo=UTC), now) is None
