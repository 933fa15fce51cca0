"""moderation.workdays: Chinese working days with 法定节假日 and 调休, and the fallback (flagged)
for years the holiday calendar does not know: Monday–Friday less the computed statutory
holidays."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moderation.holidays import statutory_dates
from moderation.workdays import add_workdays, calendar_known, is_workday, workdays_between

# Start days from which 40 working days stay inside the known calendar (2026 is its last year:
# from late November on, 40 working days reach into 2027, which is rightly flagged unknown).
KNOWN = st.dates(min_value=date(2005, 1, 1), max_value=date(2026, 10, 15))
ANY = st.dates(min_value=date(1990, 1, 1), max_value=date(2040, 12, 31))


def test_national_day_2026_pushes_seven_working_days_to_october_15() -> None:
    # 2026-10-01..10-07 are holidays; Saturday 10-10 is a 调休 make-up working day.
    assert add_workdays(date(2026, 9, 30), 7) == (date(2026, 10, 15), True)
    assert workdays_between(date(2026, 9, 30), date(2026, 10, 15)) == (7, True)


def test_make_up_saturday_counts_and_holiday_weekday_does_not() -> None:
    assert is_workday(date(2026, 10, 10)) == (True, True)  # Saturday, 调休
    assert is_workday(date(2026, 9, 20)) == (True, True)  # Sunday, 调休
    assert is_workday(date(2026, 10, 5)) == (False, True)  # Monday in the holiday
    assert add_workdays(date(2026, 10, 9), 1) == (date(2026, 10, 10), True)
    assert add_workdays(date(2026, 9, 18), 1) == (date(2026, 9, 20), True)


def test_unknown_year_counts_weekdays_less_statutory_holidays_and_says_so() -> None:
    assert not calendar_known(2027)
    # Dec 29, 30, 31, (Friday 1 January: 元旦), Jan 4, 5, 6, 7
    deadline, known = add_workdays(date(2026, 12, 28), 7)
    assert deadline == date(2027, 1, 7)
    assert known is False
    assert add_workdays(date(2026, 12, 21), 3) == (date(2026, 12, 24), True)
    assert workdays_between(date(2026, 12, 28), date(2027, 1, 7)) == (7, False)
    assert is_workday(date(2027, 1, 1)) == (False, False)
    assert is_workday(date(2027, 2, 5)) == (False, False)  # 除夕, a Friday
    assert is_workday(date(2027, 2, 9)) == (True, False)  # 初四: no 调休 is guessed


def test_zero_workdays_is_the_start_itself() -> None:
    assert add_workdays(date(2026, 10, 3), 0) == (date(2026, 10, 3), True)


def test_centuries_apart_is_quick_and_flagged() -> None:
    count, known = workdays_between(date(1, 1, 1), date(9999, 12, 31))
    assert known is False
    assert 2_500_000 < count < 2_700_000


@given(KNOWN, st.integers(min_value=0, max_value=40))
def test_add_then_count_round_trips_in_known_years(start: date, n: int) -> None:
    end, known = add_workdays(start, n)
    assert known
    assert workdays_between(start, end) == (n, True)
    assert is_workday(end)[0] or n == 0


@given(ANY, st.integers(min_value=0, max_value=300))
def test_add_then_count_round_trips_in_any_year(start: date, n: int) -> None:
    end, known = add_workdays(start, n)
    count, counted_known = workdays_between(start, end)
    assert count == n
    if n:
        assert known == counted_known


def test_negative_count_is_refused_and_overflow_is_the_standard_error() -> None:
    with pytest.raises(ValueError, match="forwards"):
        add_workdays(date(2026, 1, 5), -1)
    with pytest.raises(OverflowError):
        add_workdays(date(9999, 12, 30), 5)


@given(ANY, ANY)
def test_count_is_antisymmetric(a: date, b: date) -> None:
    forward, known_f = workdays_between(a, b)
    backward, known_b = workdays_between(b, a)
    assert forward == -backward
    assert known_f == known_b


@given(ANY, ANY, ANY)
def test_count_is_additive(a: date, b: date, c: date) -> None:
    ab = workdays_between(a, b)[0]
    bc = workdays_between(b, c)[0]
    assert workdays_between(a, c)[0] == ab + bc


@given(ANY, st.integers(min_value=1, max_value=60))
def test_more_workdays_never_end_earlier_and_take_at_least_as_many_days(
    start: date, n: int
) -> None:
    end, _ = add_workdays(start, n)
    later, _ = add_workdays(start, n + 1)
    assert later > end >= start + timedelta(days=n)


def _off(day: date) -> bool:
    return day.weekday() >= 5 or day in statutory_dates(day.year)


@given(st.dates(min_value=date(2027, 1, 1), max_value=date(2040, 1, 1)), st.integers(0, 50))
def test_unknown_years_count_mondays_to_fridays_less_statutory_holidays(
    start: date, n: int
) -> None:
    end, known = add_workdays(start, n)
    assert (known, n == 0 or not _off(end)) == (n == 0, True)
    expected = sum(1 for i in range(1, (end - start).days + 1) if not _off(start + timedelta(i)))
    assert workdays_between(start, end)[0] == expected == n
