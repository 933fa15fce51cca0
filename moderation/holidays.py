"""The statutory holidays of the 全国年节及纪念日放假办法, computed for years the official calendar
(chinesecalendar) does not know yet.

Article 2 of the 办法, as amended by State Council Decree No. 795 (in force from 1 January 2025),
gives every citizen 13 days off: 元旦 (1 January); 春节 (农历除夕 and 正月初一 to 初三: 除夕 is
the last day of 腊月, the 29th or the 30th); 清明节 (the day of the solar term 清明); 劳动节
(1 and 2 May); 端午节 (五月初五); 中秋节 (八月十五); 国庆节 (1 to 3 October). The lunar dates
and the solar term come from tyme4py (MIT; the 寿星 astronomical algorithm, computed offline
with no data files). What cannot be computed is the State Council's yearly arrangement: which
weekends become working days (调休) and which weekdays are given off to join a holiday to a
weekend. Callers therefore still treat a computed year as unknown (moderation/workdays.py).

Years before 2025 followed other versions of the 办法 and are never computed here; neither are
years after LAST_YEAR (nothing in Gongkai looks that far ahead, and counting long spans stays
quick).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from tyme4py.lunar import LunarDay
from tyme4py.solar import SolarDay, SolarTerm

__all__ = ["FIRST_YEAR", "LAST_YEAR", "Holiday", "statutory_dates", "statutory_holidays"]

FIRST_YEAR = 2025  # Decree No. 795 (除夕 and 5月2日 added) in force from 1 January 2025
LAST_YEAR = 2100


@dataclass(frozen=True, order=True)
class Holiday:
    day: date
    name: str  # 元旦, 春节, 清明节, 劳动节, 端午节, 中秋节 or 国庆节


def _date(day: SolarDay) -> date:
    return date(day.get_year(), day.get_month(), day.get_day())


def _lunar(year: int, month: int, day: int) -> date:
    return _date(LunarDay.from_ymd(year, month, day).get_solar_day())


@lru_cache(maxsize=128)
def statutory_holidays(year: int) -> tuple[Holiday, ...]:
    """The 13 statutory days off of `year`, in date order; empty outside FIRST_YEAR..LAST_YEAR.
    (中秋 can fall on 1 to 3 October: the day is then listed under both names.)"""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        return ()
    new_year = _lunar(year, 1, 1)  # 正月初一 of the lunar year that begins in `year`
    days = [
        Holiday(date(year, 1, 1), "元旦"),
        *(Holiday(new_year + timedelta(days=k), "春节") for k in range(-1, 3)),  # 除夕..初三
        Holiday(_date(SolarTerm.from_name(year, "清明").get_solar_day()), "清明节"),
        Holiday(date(year, 5, 1), "劳动节"),
        Holiday(date(year, 5, 2), "劳动节"),
        Holiday(_lunar(year, 5, 5), "端午节"),
        Holiday(_lunar(year, 8, 15), "中秋节"),
        *(Holiday(date(year, 10, d), "国庆节") for d in (1, 2, 3)),
    ]
    return tuple(sorted(days))


@lru_cache(maxsize=128)
def statutory_dates(year: int) -> frozenset[date]:
    """The dates of statutory_holidays(year)."""
    return frozenset(h.day for h in statutory_holidays(year))
