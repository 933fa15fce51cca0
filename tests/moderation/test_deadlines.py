"""moderation.deadlines: reply due moments in Chinese working days, checked against the State
Council's 2025 and 2026 holiday notices (国办发明电〔2024〕12号, 国办发明电〔2025〕7号), the
config's own holidays for years the calendar does not know, and properties of the due moment.
"""

from __future__ import annotations

import logging
import re
import tomllib
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.config import ConfigError, DeadlineConfig, parse_config
from moderation.deadlines import CHINA, WorkCalendar, deadline_days

CN = CHINA


def cn(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    """An Asia/Shanghai wall-clock moment as aware UTC (what the inbox stores)."""
    return datetime(y, m, d, hh, mm, tzinfo=CN).astimezone(UTC)


def close(y: int, m: int, d: int) -> datetime:
    return cn(y, m, d, 17, 30)


def deadlines(toml: str = "") -> DeadlineConfig:
    data = tomllib.loads("[inbox.deadlines]\n" + toml)
    return parse_config(data, "test").inbox.deadlines


@pytest.fixture
def cal() -> WorkCalendar:
    return WorkCalendar.from_config(deadlines())


# --- 2025 and 2026, from the official notices ---------------------------------------------------


def test_2025_national_day_last_working_day_before_counts_from_october_9(cal: WorkCalendar) -> None:
    # 2025: Oct 1-8 off (国庆 + 中秋); Sun Sep 28 and Sat Oct 11 are make-up working days.
    assert cal.due_at(cn(2025, 9, 30), 1) == (close(2025, 10, 9), True)
    # Oct 9, 10, 11 (Sat, 调休), 13, 14
    assert cal.due_at(cn(2025, 9, 30), 5) == (close(2025, 10, 14), True)


def test_2025_make_up_sunday_and_saturday_are_counted_and_receipt_on_them_too(
    cal: WorkCalendar,
) -> None:
    # Received on Sunday Sep 28 (a working day): Sep 29, 30, Oct 9, 10, 11 (Saturday).
    assert cal.due_at(cn(2025, 9, 28), 5) == (close(2025, 10, 11), True)
    # Received on Saturday Oct 11 (调休): the next working day is Monday Oct 13.
    assert cal.due_at(cn(2025, 10, 11, 9), 1) == (close(2025, 10, 13), True)
    # Friday Oct 10: the 1-day answer is due on the working Saturday.
    assert cal.due_at(cn(2025, 10, 10), 1) == (close(2025, 10, 11), True)


def test_2025_spring_festival_last_working_day_before(cal: WorkCalendar) -> None:
    # 2025: Jan 28 - Feb 4 off; Sun Jan 26 and Sat Feb 8 are working days.
    assert cal.due_at(cn(2025, 1, 27), 1) == (close(2025, 2, 5), True)
    # Feb 5, 6, 7, 8 (Sat, 调休), 10
    assert cal.due_at(cn(2025, 1, 27), 5) == (close(2025, 2, 10), True)
    assert cal.due_at(cn(2025, 1, 26), 1) == (close(2025, 1, 27), True)


def test_2026_spring_festival_make_up_saturdays(cal: WorkCalendar) -> None:
    # 2026: Feb 15-23 off; Sat Feb 14 and Sat Feb 28 are working days.
    assert cal.due_at(cn(2026, 2, 13), 1) == (close(2026, 2, 14), True)
    assert cal.due_at(cn(2026, 2, 14), 1) == (close(2026, 2, 24), True)
    # Feb 24, 25, 26, 27, 28 (Sat, 调休)
    assert cal.due_at(cn(2026, 2, 14), 5) == (close(2026, 2, 28), True)


def test_2026_national_day_last_working_day_before(cal: WorkCalendar) -> None:
    # 2026: Oct 1-7 off; Sun Sep 20 and Sat Oct 10 are working days.
    assert cal.due_at(cn(2026, 9, 30), 1) == (close(2026, 10, 8), True)
    # Oct 8, 9, 10 (Sat, 调休), 12, 13
    assert cal.due_at(cn(2026, 9, 30), 5) == (close(2026, 10, 13), True)
    assert cal.is_workday(date(2026, 9, 20)) == (True, True)
    assert cal.is_workday(date(2026, 10, 5)) == (False, True)


def test_receipt_on_a_weekend_counts_from_the_next_working_day(cal: WorkCalendar) -> None:
    assert cal.due_at(cn(2025, 11, 15), 1) == (close(2025, 11, 17), True)  # Sat -> Mon
    assert cal.due_at(cn(2025, 11, 16, 23, 59), 1) == (close(2025, 11, 17), True)  # Sun
    # 2025 端午: Sat May 31 - Mon Jun 2 off, so a Saturday message waits until Tuesday.
    assert cal.due_at(cn(2025, 5, 31), 1) == (close(2025, 6, 3), True)


def test_receipt_after_end_of_day_counts_from_the_next_day_like_any_other(
    cal: WorkCalendar,
) -> None:
    morning = cal.due_at(cn(2025, 11, 14, 9), 1)  # Friday
    evening = cal.due_at(cn(2025, 11, 14, 20), 1)
    assert morning == evening == (close(2025, 11, 17), True)


def test_receipt_date_is_the_shanghai_date_not_the_utc_date(cal: WorkCalendar) -> None:
    # 16:30 UTC on Thursday is 00:30 on Friday in Shanghai: Friday is the day of receipt.
    received = datetime(2025, 11, 13, 16, 30, tzinfo=UTC)
    assert cal.due_at(received, 1) == (close(2025, 11, 17), True)
    assert cal.due_at(datetime(2025, 11, 13, 15, 59, tzinfo=UTC), 1) == (close(2025, 11, 14), True)


def test_end_of_day_is_configurable_and_due_is_utc() -> None:
    cal = WorkCalendar.from_config(deadlines('end_of_day = "18:00"'))
    due, known = cal.due_at(cn(2025, 11, 14), 1)
    assert due == datetime(2025, 11, 17, 10, 0, tzinfo=UTC) and known
    assert due.utcoffset() == timedelta(0)


def test_naive_datetime_and_zero_day_clock_are_refused(cal: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="aware"):
        cal.due_at(datetime(2025, 11, 14, 10), 1)
    with pytest.raises(ValueError, match="at least 1"):
        cal.due_at(cn(2025, 11, 14), 0)


def test_config_holidays_and_workdays_override_the_official_calendar() -> None:
    # A local day off on Monday Nov 17 2025, and Saturday Nov 22 made a working day.
    cal = WorkCalendar.from_config(deadlines("holidays = [2025-11-17]\nworkdays = [2025-11-22]"))
    assert cal.due_at(cn(2025, 11, 14), 1) == (close(2025, 11, 18), True)
    assert cal.due_at(cn(2025, 11, 21), 1) == (close(2025, 11, 22), True)


# --- which clock -----------------------------------------------------------------------------


def test_petitions_have_no_clock_simple_questions_one_day_others_five() -> None:
    cfg = deadlines()
    assert deadline_days(cfg, "信访类", "wechat", False) is None
    assert deadline_days(cfg, "信访类", "wechat", True) is None
    assert deadline_days(cfg, "咨询", "wechat", True) == 1
    assert deadline_days(cfg, "咨询", "wechat", False) == 5
    assert deadline_days(cfg, "投诉", "feed", False) == 5


def test_category_then_channel_overrides_for_other_regions() -> None:
    cfg = deadlines(
        "simple_workdays = 2\ndefault_workdays = 10\n"
        'category_workdays = { "投诉" = 15 }\nchannel_workdays = { "wechat" = 3 }'
    )
    assert deadline_days(cfg, "咨询", "feed", True) == 2
    assert deadline_days(cfg, "投诉", "wechat", False) == 15  # category beats channel
    assert deadline_days(cfg, "建议", "wechat", False) == 3
    assert deadline_days(cfg, "建议", "feed", False) == 10


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('end_of_day = "25:00"', "end_of_day"),
        ('end_of_day = "1730"', "end_of_day"),
        ("holidays = [2027-01-04]\nworkdays = [2027-01-04]", "workdays"),
        ('category_workdays = { "信访类" = 60 }', "category_workdays"),
        ("default_workdays = 0", "default_workdays"),
        ('holidays = ["next friday"]', "holidays"),
    ],
)
def test_bad_deadline_config_is_refused_naming_the_key(toml: str, key: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"inbox.deadlines.{key}")):
        deadlines(toml)


# --- a year the calendar does not know (2027 in chinesecalendar 1.11) -----------------------

DEC_28_2026 = cn(2026, 12, 28)  # Monday; five working days cross into 2027


def test_2027_unknown_uses_config_holidays_flags_and_warns_naming_the_keys(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cal = WorkCalendar.from_config(deadlines("holidays = [2027-01-04]"))
    with caplog.at_level(logging.WARNING, logger="moderation.deadlines"):
        due, known = cal.due_at(DEC_28_2026, 5)
        again = cal.due_at(DEC_28_2026, 5)
    # Dec 29, 30, 31, (Fri Jan 1 元旦; Mon Jan 4 declared a day off), Jan 5, Jan 6
    assert due == close(2027, 1, 6)
    assert known is False and again == (due, False)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # once per year, not once per comment
    message = warnings[0].getMessage()
    assert "2027" in message
    assert "inbox.deadlines.holidays" in message
    assert "inbox.deadlines.declared_years" in message


def test_2027_without_config_counts_statutory_holidays_but_still_says_unknown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cal = WorkCalendar.from_config(deadlines())
    with caplog.at_level(logging.WARNING, logger="moderation.deadlines"):
        # Dec 29, 30, 31, (Fri Jan 1 元旦, computed), Jan 4, Jan 5
        assert cal.due_at(DEC_28_2026, 5) == (close(2027, 1, 5), False)
    assert any("2027" in r.getMessage() for r in caplog.records)


def test_simple_question_on_new_years_eve_2026_is_due_on_the_first_working_day_of_2027() -> None:
    cal = WorkCalendar.from_config(deadlines())
    # Thursday 31 December 2026; Friday 1 January 2027 is 元旦, then a weekend.
    assert cal.due_at(cn(2026, 12, 31, 16), 1) == (close(2027, 1, 4), False)
    # The State Council's arrangement, once declared, wins (here: a 调休 Saturday).
    declared = WorkCalendar.from_config(
        deadlines("declared_years = [2027]\nworkdays = [2027-01-02]")
    )
    assert declared.due_at(cn(2026, 12, 31, 16), 1) == (close(2027, 1, 2), True)


def test_unannounced_spring_festival_and_national_day_are_days_off() -> None:
    cal = WorkCalendar.from_config(deadlines())
    # 2027: 除夕 is Friday 5 February, 初一..初三 the weekend and Monday 8 February.
    assert cal.due_at(cn(2027, 2, 4, 10), 1) == (close(2027, 2, 9), False)
    # 2028: 1-3 October are Sunday to Tuesday; Wednesday 4 October is the first working day.
    assert cal.due_at(cn(2028, 9, 29, 10), 1) == (close(2028, 10, 4), False)


def test_declared_2027_is_known_and_silent(caplog: pytest.LogCaptureFixture) -> None:
    cal = WorkCalendar.from_config(
        deadlines("declared_years = [2027]\nholidays = [2027-01-01]\nworkdays = [2027-01-09]")
    )
    with caplog.at_level(logging.WARNING, logger="moderation.deadlines"):
        assert cal.due_at(DEC_28_2026, 5) == (close(2027, 1, 5), True)
        assert cal.due_at(cn(2027, 1, 8), 1) == (close(2027, 1, 9), True)  # Saturday declared
    assert caplog.records == []
    assert cal.is_workday(date(2027, 1, 1)) == (False, True)


def test_days_before_the_unknown_year_stay_known() -> None:
    cal = WorkCalendar.from_config(deadlines())
    assert cal.due_at(cn(2026, 12, 21), 3) == (close(2026, 12, 24), True)


def test_unknown_years_ahead_lets_a_job_warn_staff_in_time() -> None:
    cal = WorkCalendar.from_config(deadlines())
    assert cal.unknown_years_ahead(date(2026, 11, 15), 60) == [2027]
    assert cal.unknown_years_ahead(date(2026, 6, 1), 30) == []
    declared = WorkCalendar.from_config(deadlines("declared_years = [2027]"))
    assert declared.unknown_years_ahead(date(2026, 11, 15), 60) == []
    assert declared.unknown_years_ahead(date(2026, 11, 15), 500) == [2028]


# --- lateness ----------------------------------------------------------------------------------


def test_workdays_late_counts_whole_working_days_ended_after_the_due_moment(
    cal: WorkCalendar,
) -> None:
    due = close(2025, 10, 14)  # Tuesday
    assert cal.workdays_late(due, cn(2025, 10, 14, 17, 0)) == 0
    assert cal.workdays_late(due, cn(2025, 10, 14, 18, 0)) == 0  # late, not a whole day yet
    assert cal.workdays_late(due, cn(2025, 10, 15, 17, 0)) == 0
    assert cal.workdays_late(due, cn(2025, 10, 15, 17, 30)) == 1
    assert cal.workdays_late(due, cn(2025, 10, 18, 12, 0)) == 3  # Wed, Thu, Fri; Sat is off
    # Over 国庆 2025: due Sep 30, nothing counts until Oct 9 has ended.
    assert cal.workdays_late(close(2025, 9, 30), cn(2025, 10, 8, 20)) == 0
    assert cal.workdays_late(close(2025, 9, 30), cn(2025, 10, 9, 20)) == 1


# --- properties ------------------------------------------------------------------------------

PROPERTY_CALENDAR = WorkCalendar.from_config(deadlines("holidays = [2027-01-01, 2027-02-08]"))
MOMENTS = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
DAYS = st.integers(min_value=1, max_value=20)


@settings(max_examples=300, deadline=None)
@given(MOMENTS, DAYS)
def test_due_is_a_working_day_at_end_of_day_and_after_receipt(received: datetime, n: int) -> None:
    due, _ = PROPERTY_CALENDAR.due_at(received, n)
    local = due.astimezone(CN)
    assert local.time() == time(17, 30)
    assert PROPERTY_CALENDAR.is_workday(local.date())[0]
    assert due > received
    start = received.astimezone(CN).date()
    assert PROPERTY_CALENDAR.workdays_between(start, local.date())[0] == n


@settings(max_examples=300, deadline=None)
@given(MOMENTS, MOMENTS, DAYS)
def test_due_is_monotone_in_receipt(a: datetime, b: datetime, n: int) -> None:
    early, late = sorted((a, b))
    assert PROPERTY_CALENDAR.due_at(early, n)[0] <= PROPERTY_CALENDAR.due_at(late, n)[0]


@settings(max_examples=300, deadline=None)
@given(MOMENTS, DAYS, DAYS)
def test_due_is_strictly_monotone_in_working_days(received: datetime, m: int, n: int) -> None:
    assume(m != n)
    few, many = sorted((m, n))
    assert PROPERTY_CALENDAR.due_at(received, few)[0] < PROPERTY_CALENDAR.due_at(received, many)[0]
