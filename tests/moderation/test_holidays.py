"""moderation.holidays: the statutory holidays of the 全国年节及纪念日放假办法 (as amended in force
from 2025: 除夕 and 5月2日 added) computed for any year, checked against the official calendar
of the years it knows and against lunar dates of the years it does not."""

from __future__ import annotations

from collections import Counter
from datetime import date

import chinese_calendar
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tyme4py.lunar import LunarMonth

from moderation.holidays import FIRST_YEAR, LAST_YEAR, statutory_dates, statutory_holidays

# chinesecalendar's names for the holidays of the 办法
OFFICIAL_NAMES = {
    "元旦": "New Year's Day",
    "春节": "Spring Festival",
    "清明节": "Tomb-sweeping Day",
    "劳动节": "Labour Day",
    "端午节": "Dragon Boat Festival",
    "中秋节": "Mid-autumn Festival",
    "国庆节": "National Day",
}


@pytest.mark.parametrize("year", [2025, 2026])
def test_computed_holidays_are_official_holidays_of_the_same_name(year: int) -> None:
    for holiday in statutory_holidays(year):
        on, name = chinese_calendar.get_holiday_detail(holiday.day)
        assert on, holiday
        # 2025: 中秋 (6 October) fell inside the 国庆 break, which the notice names after it.
        assert name in (OFFICIAL_NAMES[holiday.name], OFFICIAL_NAMES["国庆节"]), holiday
    assert statutory_dates(year) <= {d for d in chinese_calendar.holidays if d.year == year}


def test_thirteen_days_as_the_2025_amendment_says() -> None:
    assert Counter(h.name for h in statutory_holidays(2027)) == {
        "元旦": 1,
        "春节": 4,
        "清明节": 1,
        "劳动节": 2,
        "端午节": 1,
        "中秋节": 1,
        "国庆节": 3,
    }


def test_chuxi_is_the_29th_of_la_yue_when_the_month_is_short() -> None:
    # 腊月 of the lunar year 2025 has 29 days: 除夕 is 廿九, Monday 16 February 2026.
    assert LunarMonth.from_ym(2025, 12).get_day_count() == 29
    spring_2026 = [h.day for h in statutory_holidays(2026) if h.name == "春节"]
    assert spring_2026 == [date(2026, 2, d) for d in (16, 17, 18, 19)]
    # 腊月 of 2029 has 30 days: 除夕 is 三十, Saturday 2 February 2030 (初一 is 3 February).
    assert LunarMonth.from_ym(2029, 12).get_day_count() == 30
    assert next(h.day for h in statutory_holidays(2030) if h.name == "春节") == date(2030, 2, 2)


def test_lunar_holidays_and_qingming_of_the_unannounced_years() -> None:
    days = {(h.name, h.day) for h in statutory_holidays(2027)}
    assert ("春节", date(2027, 2, 5)) in days  # 除夕; 正月初一 is 6 February
    assert ("清明节", date(2027, 4, 5)) in days
    assert ("端午节", date(2027, 6, 9)) in days
    assert ("中秋节", date(2027, 9, 15)) in days
    days_2028 = {(h.name, h.day) for h in statutory_holidays(2028)}
    assert ("清明节", date(2028, 4, 4)) in days_2028
    assert ("中秋节", date(2028, 10, 3)) in days_2028  # on 国庆: one day off, two names


def test_years_outside_the_current_rules_are_not_computed() -> None:
    assert statutory_holidays(FIRST_YEAR - 1) == ()
    assert statutory_holidays(LAST_YEAR + 1) == ()


@given(st.integers(min_value=FIRST_YEAR, max_value=LAST_YEAR))
def test_every_computed_year_has_its_holidays_in_their_seasons(year: int) -> None:
    holidays = statutory_holidays(year)
    assert all(h.day.year == year for h in holidays)
    by_name: dict[str, list[date]] = {}
    for h in holidays:
        by_name.setdefault(h.name, []).append(h.day)
    spring = by_name["春节"]
    assert [(d - spring[0]).days for d in spring] == [0, 1, 2, 3]
    assert date(year, 1, 20) <= spring[0] <= date(year, 2, 19)
    assert by_name["清明节"][0] in (date(year, 4, 4), date(year, 4, 5))
    assert date(year, 5, 27) <= by_name["端午节"][0] <= date(year, 6, 25)
    assert date(year, 9, 7) <= by_name["中秋节"][0] <= date(year, 10, 6)
    assert len(statutory_dates(year)) in (12, 13)
