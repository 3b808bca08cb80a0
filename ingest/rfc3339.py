"""A strict RFC 3339 date-time parser to epoch milliseconds (SPEC 2.3).

Accepted: ``YYYY-MM-DD`` then ``T`` or ``t`` then ``hh:mm:ss``, an optional ``.`` with one or
more fraction digits (truncated to milliseconds before the offset applies), then ``Z``, ``z`` or
``±hh:mm`` (``-00:00`` is UTC). Rejected: a space instead of ``T``, a date alone, no offset,
second 60 (leap seconds), impossible dates (``02-30``), non-ASCII digits, surrounding spaces,
and anything that is not a ``str``.
"""

from __future__ import annotations

import re

_DATE_TIME = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]+))?(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))"
)
_DAYS_IN_MONTH = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
MS_PER_DAY = 86_400_000


class BadDateTime(ValueError):
    """Not a strict RFC 3339 date-time with an offset."""


def _is_leap_year(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month - 3 if month > 2 else month + 9) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - 719_468


_day_cache: dict[str, int] = {}
_DAY_CACHE_SIZE = 4096


def _days_of_date(date: str) -> int:
    """Days since the epoch of a ``YYYY-MM-DD`` string of ASCII digits (validated, cached)."""
    days = _day_cache.get(date)
    if days is not None:
        return days
    year, month, day = int(date[0:4]), int(date[5:7]), int(date[8:10])
    if not 1 <= month <= 12:
        raise BadDateTime("month out of range")
    days_in_month = 29 if month == 2 and _is_leap_year(year) else _DAYS_IN_MONTH[month]
    if not 1 <= day <= days_in_month:
        raise BadDateTime("day out of range")
    days = days_from_civil(year, month, day)
    if len(_day_cache) >= _DAY_CACHE_SIZE:
        _day_cache.clear()
    _day_cache[date] = days
    return days


def parse_rfc3339_ms(text: object) -> int:
    """Epoch milliseconds of an RFC 3339 date-time string, or raise :class:`BadDateTime`."""
    if type(text) is not str:
        raise BadDateTime("not a string")
    match = _DATE_TIME.fullmatch(text)
    if match is None:
        raise BadDateTime("not an RFC 3339 date-time with an offset")
    date, hour_s, minute_s, second_s, fraction, sign, off_h, off_m = match.groups()
    hour, minute, second = int(hour_s), int(minute_s), int(second_s)
    if hour > 23 or minute > 59 or second > 59:
        raise BadDateTime("time of day out of range (second 60 is not accepted)")
    local_ms = _days_of_date(date) * MS_PER_DAY + ((hour * 60 + minute) * 60 + second) * 1000
    if fraction:
        local_ms += int((fraction + "00")[:3])  # truncated to milliseconds
    if sign is None:
        return local_ms
    offset_hours, offset_minutes = int(off_h), int(off_m)
    if offset_hours > 23 or offset_minutes > 59:
        raise BadDateTime("offset out of range")
    offset_ms = (offset_hours * 60 + offset_minutes) * 60_000
    return local_ms - offset_ms if sign == "+" else local_ms + offset_ms
