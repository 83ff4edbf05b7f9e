"""EventBridge schedule expressions: rate()/cron() parsing and next-fire times (UTC)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Protocol

from esb_runtime.errors import RuntimeBoxError

_UTC = dt.timezone.utc
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_CRON = re.compile(r"^cron\((.*)\)$")
_UNIT_S = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {m: i + 1 for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split())}
_DAYS = {d: i + 1 for i, d in enumerate("SUN MON TUE WED THU FRI SAT".split())}  # EventBridge: 1 = Sunday
_TOKEN = re.compile(r"[^,\-/]+")


class ScheduleExpressionError(RuntimeBoxError):
    """A schedule expression that is malformed or uses a feature the box does not implement."""

    status = 400
    code = "ScheduleExpressionError"


class Trigger(Protocol):
    def next_after(self, after: dt.datetime) -> dt.datetime | None: ...


@dataclass(frozen=True)
class Rate:
    """rate(N unit): every `period_s` seconds; the first firing is one period after the schedule appears."""

    period_s: int

    def next_after(self, after: dt.datetime) -> dt.datetime | None:
        return after + dt.timedelta(seconds=self.period_s)


def _value(text: str, names: dict[str, int] | None, what: str) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    try:
        return int(text)
    except ValueError as exc:
        raise ScheduleExpressionError(f"{what}: {text!r} is not a number") from exc


def _field(text: str, low: int, high: int, names: dict[str, int] | None, what: str) -> frozenset[int]:
    for token in _TOKEN.findall(text):
        if names and token.upper() in names:
            continue
        if token not in ("*", "?") and not token.isdigit():
            if any(mark in token.upper() for mark in ("L", "W", "#")):
                raise ScheduleExpressionError(f"{what} {text!r}: L, W and # are not supported by esb")
            raise ScheduleExpressionError(f"{what} {text!r}: {token!r} is not a value")
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = _value(step_text, None, what) if step_text else 1
        if base in ("*", "?"):
            start, end = low, high
        elif "-" in base:
            first, last = base.split("-", 1)
            start, end = _value(first, names, what), _value(last, names, what)
        else:
            start = _value(base, names, what)
            end = high if step_text else start
        if step < 1 or not (low <= start <= end <= high):
            raise ScheduleExpressionError(f"{what} {text!r}: values must be within {low}-{high}, ascending")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    """cron(minutes hours day-of-month month day-of-week year); `?` and `*` both mean "any"."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 1 = Sunday ... 7 = Saturday
    years: frozenset[int]

    def next_after(self, after: dt.datetime) -> dt.datetime | None:
        start = (after.astimezone(_UTC) + dt.timedelta(minutes=1)).replace(second=0, microsecond=0)
        day, last_year = start.date(), max(self.years)
        # Walk whole years and months that cannot match, then days: a yearly rule costs ~365 steps.
        while day.year <= last_year:
            if day.year not in self.years:
                day = dt.date(day.year + 1, 1, 1)
            elif day.month not in self.months:
                day = dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)
            else:
                if day.day in self.days and day.isoweekday() % 7 + 1 in self.weekdays:
                    found = self._time_on(day, start)
                    if found is not None:
                        return found
                day += dt.timedelta(days=1)
        return None

    def _time_on(self, day: dt.date, start: dt.datetime) -> dt.datetime | None:
        floor = (start.hour, start.minute) if day == start.date() else (0, 0)
        for hour in sorted(self.hours):
            for minute in sorted(self.minutes):
                if (hour, minute) >= floor:
                    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=_UTC)
        return None


def parse_expression(expression: str) -> Trigger:
    """A Trigger for rate(...) or cron(...); ScheduleExpressionError when malformed or unsupported."""
    text = expression.strip()
    rate = _RATE.match(text)
    if rate:
        if int(rate[1]) < 1:
            raise ScheduleExpressionError(f"{expression}: the rate must be at least 1")
        return Rate(int(rate[1]) * _UNIT_S[rate[2].rstrip("s")])
    cron = _CRON.match(text)
    if not cron:
        raise ScheduleExpressionError(f"{expression!r} is neither rate(N minutes|hours|days) nor cron(...)")
    fields = cron[1].split()
    if len(fields) != 6:
        raise ScheduleExpressionError(f"{expression}: cron needs 6 fields: minutes hours day-of-month month "
                                      "day-of-week year")
    return Cron(
        minutes=_field(fields[0], 0, 59, None, "minutes"),
        hours=_field(fields[1], 0, 23, None, "hours"),
        days=_field(fields[2], 1, 31, None, "day-of-month"),
        months=_field(fields[3], 1, 12, _MONTHS, "month"),
        weekdays=_field(fields[4], 1, 7, _DAYS, "day-of-week"),
        years=_field(fields[5], 1970, 2199, None, "year"),
    )
