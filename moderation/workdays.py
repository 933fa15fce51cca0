"""Chinese working-day arithmetic (法定节假日 and 调休 make-up days) for disclosure deadlines.

The holiday calendar comes from the chinesecalendar package, which knows only the years the
State Council has announced. For any other year we fall back to Monday–Friday less the
statutory holidays of the 办法 (moderation/holidays.py computes them from 2025 on; the State
Council's 调休 arrangement cannot be computed) and say so: every function returns, next to its
answer, whether the official calendar was known for every day it used, so a caller can warn
instead of silently trusting a guess.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import date, timedelta
from functools import lru_cache

import chinese_calendar

from moderation.holidays import statutory_dates

__all__ = ["add_workdays", "calendar_known", "is_workday", "workdays_between"]

_DAY = timedelta(days=1)


@lru_cache(maxsize=256)
def calendar_known(year: int) -> bool:
    """Whether the official holiday calendar for `year` is known."""
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


@lru_cache(maxsize=64)
def _year_workdays(year: int) -> tuple[int, ...]:
    """Ordinals of the working days of a known year, sorted (the package's lookups are slow)."""
    first = date(year, 1, 1)
    days = (first + timedelta(days=i) for i in range((date(year, 12, 31) - first).days + 1))
    return tuple(d.toordinal() for d in days if chinese_calendar.is_workday(d))


def is_workday(day: date) -> tuple[bool, bool]:
    """(is a working day, the official calendar was known for it)."""
    if calendar_known(day.year):
        ordinals = _year_workdays(day.year)
        at = bisect_right(ordinals, day.toordinal())
        return at > 0 and ordinals[at - 1] == day.toordinal(), True
    return day.weekday() < 5 and day not in statutory_dates(day.year), False


def add_workdays(start: date, n: int) -> tuple[date, bool]:
    """The n-th working day after `start`; `start` itself never counts, so a decision on day D
    with "within 7 working days" has its deadline at add_workdays(D, 7), and
    workdays_between(D, deadline) == 7. n = 0 gives `start`.

    The bool is True when the official calendar was known for every day stepped over. Raises
    ValueError for a negative n (count backwards with workdays_between) and OverflowError when
    the answer would fall after date.max.
    """
    if n < 0:
        raise ValueError(f"add_workdays counts forwards only, got n={n}")
    remaining = n
    known = True
    day = start
    while remaining:
        day = day + _DAY
        working, day_known = is_workday(day)
        known = known and day_known
        if working:
            remaining -= 1
    return day, known


def _weekdays_after(start: date, end: date) -> int:
    """Monday–Friday days in (start, end], with start <= end."""
    days = (end - start).days
    weeks, rest = divmod(days, 7)
    count = weeks * 5
    weekday = start.weekday()
    for offset in range(1, rest + 1):
        if (weekday + offset) % 7 < 5:
            count += 1
    return count


def _statutory_weekdays(year: int, start: date, end: date) -> int:
    """Computed statutory holidays of `year` that fall on Monday–Friday in (start, end]."""
    return sum(1 for d in statutory_dates(year) if start < d <= end and d.weekday() < 5)


def workdays_between(start: date, end: date) -> tuple[int, bool]:
    """Working days in (start, end] — negative when end is before start — so that
    workdays_between(d, add_workdays(d, n)[0]) == n for a working-day n.

    The bool is True when the official calendar was known for every day counted. Years without
    a calendar are counted arithmetically (weekdays less the computed statutory holidays), so
    even a range of centuries is quick.
    """
    if end < start:
        count, known = workdays_between(end, start)
        return -count, known
    count = 0
    known = True
    cursor = start
    while cursor < end:
        # Count (cursor, segment_end], all of it inside one calendar year.
        year = (cursor + _DAY).year
        segment_end = min(end, date(year, 12, 31))
        if calendar_known(year):
            ordinals = _year_workdays(year)
            count += bisect_right(ordinals, segment_end.toordinal()) - bisect_right(
                ordinals, cursor.toordinal()
            )
        else:
            known = False
            count += _weekdays_after(cursor, segment_end) - _statutory_weekdays(
                year, cursor, segment_end
            )
        cursor = segment_end
    return count, known
