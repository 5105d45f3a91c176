"""Cron trigger configs: standard cron expressions into APScheduler 3 triggers.

APScheduler 3's ``CronTrigger.from_crontab`` treats day-of-week 0 as Monday and takes
five fields only, so expressions are parsed here: every field is validated with a
clear reason and expanded to explicit values; day-of-week becomes day names (0 and 7
are Sunday). As in Vixie cron, when both day-of-month and day-of-week are restricted a
time matches either of them.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

__all__ = [
    "CronSchedule",
    "TriggerConfigError",
    "latest_fire_between",
    "next_run_at",
    "parse_cron_config",
    "schedule_of",
]

MISFIRE_POLICIES = ("run_once", "skip")
_KEYS = {"schedule", "cron", "timezone", "payload", "misfire"}
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                "dec")


class TriggerConfigError(ValueError):
    """A cron trigger config that cannot be scheduled; the message says why and ``field``
    which field of the trigger body it is about (``config`` when no one field)."""

    def __init__(self, message: str, *, field: str = "config") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    names_start: int = 0


_SECOND = _Field("second", 0, 59)
_MINUTE = _Field("minute", 0, 59)
_HOUR = _Field("hour", 0, 23)
_DAY = _Field("day-of-month", 1, 31)
_MONTH = _Field("month", 1, 12, _MONTH_NAMES, 1)
_WEEKDAY = _Field("day-of-week", 0, 7, _DAY_NAMES, 0)


def _value(text: str, field: _Field) -> int:
    lowered = text.lower()
    if field.names and lowered in field.names:
        return field.names.index(lowered) + field.names_start
    if not text.isdigit():
        allowed = f" or a name ({field.names[0]}-{field.names[-1]})" if field.names else ""
        raise TriggerConfigError(f"{field.name} '{text}' is not a number{allowed}")
    number = int(text)
    if not field.low <= number <= field.high:
        raise TriggerConfigError(f"{field.name} must be {field.low}-{field.high}")
    return number


def _expand(text: str, field: _Field) -> set[int]:
    """The values one cron field matches (day-of-week still 0-7 here)."""
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise TriggerConfigError(f"{field.name} has an empty list item")
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) < 1:
                raise TriggerConfigError(
                    f"{field.name} step '{step_text}' must be a positive number")
            step = int(step_text)
        if base == "*":
            low, high = field.low, field.high
            if field is _WEEKDAY:
                high = 6
        elif "-" in base:
            start_text, _, end_text = base.partition("-")
            low, high = _value(start_text, field), _value(end_text, field)
            if field is _WEEKDAY and high == 0 and low > 0:
                high = 7  # "sat-sun"
            if low > high:
                raise TriggerConfigError(
                    f"{field.name} range '{base}' starts after it ends")
        else:
            low = _value(base, field)
            high = field.high if slash else low
            if field is _WEEKDAY and slash:
                high = 6
        values.update(range(low, high + 1, step))
    if field is _WEEKDAY and 7 in values:
        values.discard(7)
        values.add(0)
    return values


def _csv(values: set[int]) -> str:
    return ",".join(str(v) for v in sorted(values))


def _build(expression: str, tz: zoneinfo.ZoneInfo) -> BaseTrigger:
    fields = expression.split()
    if len(fields) not in (5, 6):
        raise TriggerConfigError(
            f"expected 5 fields (minute hour day month day-of-week) or 6 with a leading"
            f" seconds field, got {len(fields)}")
    if len(fields) == 5:
        fields = ["0", *fields]
    second, minute, hour, day, month, weekday = fields
    common = {
        "second": _csv(_expand(second, _SECOND)),
        "minute": _csv(_expand(minute, _MINUTE)),
        "hour": _csv(_expand(hour, _HOUR)),
        "month": _csv(_expand(month, _MONTH)),
    }
    days = _csv(_expand(day, _DAY))
    weekdays = ",".join(_DAY_NAMES[d] for d in sorted(_expand(weekday, _WEEKDAY)))
    trigger: BaseTrigger
    if day.startswith("*") or weekday.startswith("*"):
        # Either is unrestricted (or a step over all): both must match, as in cron.
        trigger = CronTrigger(day=days, day_of_week=weekdays, timezone=tz, **common)
    else:
        trigger = OrTrigger([
            CronTrigger(day=days, day_of_week="*", timezone=tz, **common),
            CronTrigger(day="*", day_of_week=weekdays, timezone=tz, **common),
        ])
    if hour.startswith("*"):
        return trigger  # hourly-or-finer jobs run in both copies of a repeated hour
    return _OnceInRepeatedHour(trigger, tz)


class _OnceInRepeatedHour(BaseTrigger):  # type: ignore[misc]
    """Skips the second occurrence of a wall time repeated when clocks fall back.

    As in cron, a job at a fixed hour runs once on that day, not twice.
    """

    def __init__(self, inner: BaseTrigger, tz: zoneinfo.ZoneInfo) -> None:
        self._inner = inner
        self._tz = tz

    def _repeated(self, fire: dt.datetime) -> bool:
        local = fire.astimezone(self._tz)
        return local.fold == 1 and (
            local.replace(fold=0).utcoffset() != local.utcoffset())

    def get_next_fire_time(self, previous_fire_time: dt.datetime | None,
                           now: dt.datetime) -> dt.datetime | None:
        fire: dt.datetime | None = self._inner.get_next_fire_time(previous_fire_time, now)
        while fire is not None and self._repeated(fire):
            # In UTC: aware arithmetic in the local zone is wall time and drops ``fold``.
            after = fire.astimezone(dt.UTC) + dt.timedelta(microseconds=1)
            fire = self._inner.get_next_fire_time(None, after)
        return fire


@dataclass(frozen=True, slots=True, kw_only=True)
class CronSchedule:
    """A validated cron config with its APScheduler trigger."""

    expression: str
    timezone: str
    payload: Any
    misfire: str
    trigger: BaseTrigger

    def config(self) -> dict[str, Any]:
        return {"schedule": self.expression, "timezone": self.timezone,
                "payload": self.payload, "misfire": self.misfire}


def schedule_of(config: Mapping[str, Any]) -> CronSchedule:
    """Validate a cron config; raises ``TriggerConfigError`` with the reason."""
    if not isinstance(config, Mapping):
        raise TriggerConfigError("cron config must be an object")
    unknown = sorted(set(config) - _KEYS)
    if unknown:
        raise TriggerConfigError(
            f"unknown cron config field(s): {', '.join(unknown)}"
            f" (expected schedule, timezone, payload, misfire)")
    schedule, alias = config.get("schedule"), config.get("cron")
    if schedule is not None and alias is not None and schedule != alias:
        raise TriggerConfigError("give either 'schedule' or its alias 'cron', not both",
                                 field="config.cron")
    expression = schedule if schedule is not None else alias
    field = "config.cron" if schedule is None and "cron" in config else "config.schedule"
    if not isinstance(expression, str) or not expression.strip():
        raise TriggerConfigError("cron config needs 'schedule' (a string), e.g. '*/5 * * * *'",
                                 field=field)
    expression = " ".join(expression.split())
    tz_name = config.get("timezone", "UTC")
    if not isinstance(tz_name, str) or not tz_name:
        raise TriggerConfigError("timezone must be an IANA time zone name such as 'UTC'",
                                 field="config.timezone")
    try:
        tz = zoneinfo.ZoneInfo(tz_name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise TriggerConfigError(f"unknown timezone '{tz_name}'",
                                 field="config.timezone") from exc
    misfire = config.get("misfire", "run_once")
    if misfire not in MISFIRE_POLICIES:
        raise TriggerConfigError(
            f"misfire must be one of {', '.join(MISFIRE_POLICIES)}, not {misfire!r}",
            field="config.misfire")
    try:
        trigger = _build(expression, tz)
    except ValueError as exc:  # ours, or APScheduler's own checks should ours miss one
        raise TriggerConfigError(f"invalid cron expression '{expression}': {exc}",
                                 field=field) from None
    result = CronSchedule(expression=expression, timezone=tz_name,
                          payload=config.get("payload", {}), misfire=str(misfire),
                          trigger=trigger)
    if _next_fire(trigger, dt.datetime(2000, 1, 1, tzinfo=dt.UTC)) is None:
        raise TriggerConfigError(f"invalid cron expression '{expression}': it never fires",
                                 field=field)
    return result


def parse_cron_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and normalize ``{"schedule", "timezone", "payload", "misfire"}``."""
    return schedule_of(config).config()


def _next_fire(trigger: BaseTrigger, at: dt.datetime) -> dt.datetime | None:
    """The first fire time at or after ``at`` (UTC), or None."""
    value: dt.datetime | None = trigger.get_next_fire_time(None, at)
    return None if value is None else value.astimezone(dt.UTC)


def next_run_at(config: Mapping[str, Any], now: dt.datetime) -> dt.datetime | None:
    """The next fire time strictly after ``now``, in UTC; None for a config that is invalid."""
    try:
        schedule = schedule_of(config)
    except TriggerConfigError:
        return None
    return _next_fire(schedule.trigger, now + dt.timedelta(microseconds=1))


def latest_fire_between(trigger: BaseTrigger, after: dt.datetime,
                        until: dt.datetime) -> dt.datetime | None:
    """The latest fire time ``f`` with ``after < f <= until`` (UTC), or None.

    Bisection over time, so a long gap costs ~log2(seconds) lookups, not one per fire.
    """
    lo = after + dt.timedelta(microseconds=1)
    first = _next_fire(trigger, lo)
    if first is None or first > until:
        return None
    hi = until + dt.timedelta(microseconds=1)  # next(hi) > until; next(lo) <= until
    while hi - lo > dt.timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        candidate = _next_fire(trigger, mid)
        if candidate is not None and candidate <= until:
            lo = mid
        else:
            hi = mid
    return _next_fire(trigger, lo)
