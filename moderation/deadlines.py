"""Reply deadlines for comments, in Chinese working days (法定节假日 and 调休 counted).

The due moment. The day of receipt is never counted, whatever the hour: a comment received
on day D with a clock of N working days is due at ``end_of_day`` (config, default 17:30,
Asia/Shanghai) of the N-th working day after D. So a comment received at 09:00 or at 23:00
on a Tuesday that is a working day, or on a Saturday, a Sunday or a holiday, starts counting
from the next day: 1 working day from Friday 18:00 or from Saturday is the next Monday 17:30
(unless Monday is a holiday). Consequences the tests check: the due moment is always
end_of_day of a working day, later than the receipt, and never earlier for a later receipt or
a longer clock. China has no daylight saving time; times are converted with zoneinfo anyway.

The calendar. Working days come from the chinesecalendar package (moderation/workdays.py) for
the years the State Council has announced, plus what config adds: ``holidays`` and
``workdays`` (lists of dates, overriding the package for those dates) and ``declared_years``
(years the config declares complete). A year neither known nor declared is counted as
Monday–Friday less the statutory holidays of the 全国年节及纪念日放假办法 (computed by
moderation/holidays.py: 元旦, 春节 from 除夕, 清明, 劳动节, 端午, 中秋, 国庆), plus the config's
dates. Only the State Council's 调休 arrangement is then a guess, so never silently: the
answer says calendar_known=False,
a WARNING names the year and the config keys to set (once per year per WorkCalendar, so a
batch of 100,000 comments does not write 100,000 lines), and unknown_years_ahead() lets a
job alert staff before such a year is reached.

Which clock applies (deadline_days): petitions (信访类) have none (their own statutory
process); a simple question gets ``simple_workdays``; any other comment the
``category_workdays`` of its category, else the ``channel_workdays`` of its channel, else
``default_workdays``.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from moderation import workdays as official
from moderation.settings import DeadlineConfig

__all__ = ["CHINA", "PETITION", "WorkCalendar", "deadline_days"]

log = logging.getLogger(__name__)

# The statutory calendar is China's, whatever zone the app displays in.
CHINA = ZoneInfo("Asia/Shanghai")
PETITION = "信访类"
_DAY = timedelta(days=1)
_CACHE_LIMIT = 4096  # (date, n) answers kept per calendar; a day's comments share one


def deadline_days(cfg: DeadlineConfig, category: str, channel: str, simple: bool) -> int | None:
    """Working days to answer a comment; None when no reply clock applies (petitions)."""
    if category == PETITION:
        return None
    if simple:
        return cfg.simple_workdays
    by_category = cfg.category_workdays.get(category)  # type: ignore[call-overload]
    if by_category is not None:
        return int(by_category)
    return cfg.channel_workdays.get(channel, cfg.default_workdays)


class WorkCalendar:
    """Working days (official calendar + config) and due moments. Holds a small cache and the
    set of years already warned about; make one per process (or per config) and keep it."""

    def __init__(
        self,
        end_of_day: time,
        holidays: frozenset[date] = frozenset(),
        workdays: frozenset[date] = frozenset(),
        declared_years: frozenset[int] = frozenset(),
    ) -> None:
        if holidays & workdays:
            raise ValueError("a date cannot be both a holiday and a working day")
        self.end_of_day = end_of_day
        self.holidays = holidays
        self.workdays = workdays
        self.declared_years = declared_years
        self._warned: set[int] = set()
        self._due: dict[tuple[date, int], tuple[date, bool]] = {}

    @classmethod
    def from_config(cls, cfg: DeadlineConfig) -> WorkCalendar:
        hours, minutes = cfg.end_of_day.split(":")
        return cls(
            time(int(hours), int(minutes)),
            frozenset(cfg.holidays),
            frozenset(cfg.workdays),
            frozenset(cfg.declared_years),
        )

    def year_known(self, year: int) -> bool:
        """Whether the official calendar or the config covers every day of `year`."""
        return year in self.declared_years or official.calendar_known(year)

    def is_workday(self, day: date) -> tuple[bool, bool]:
        """(working day?, calendar known for it?). Config dates win over the package."""
        known = self.year_known(day.year)
        if day in self.holidays:
            return False, known
        if day in self.workdays:
            return True, known
        return official.is_workday(day)[0], known

    def add_workdays(self, start: date, n: int) -> tuple[date, bool]:
        """The n-th working day after `start` (start itself not counted; n >= 0), and whether
        the calendar was known for every day stepped over."""
        if n < 0:
            raise ValueError(f"add_workdays counts forwards only, got n={n}")
        day, known, remaining = start, True, n
        while remaining:
            day += _DAY
            working, day_known = self.is_workday(day)
            known = known and day_known
            remaining -= working
        return day, known

    def workdays_between(self, start: date, end: date) -> tuple[int, bool]:
        """Working days in (start, end], negative when end < start, and whether known."""
        if end < start:
            count, known = self.workdays_between(end, start)
            return -count, known
        count, known, day = 0, True, start
        while day < end:
            day += _DAY
            working, day_known = self.is_workday(day)
            count += working
            known = known and day_known
        return count, known

    def local_date(self, moment: datetime) -> date:
        """The Asia/Shanghai date of an aware moment."""
        if moment.tzinfo is None:
            raise ValueError("expected an aware datetime (UTC), got a naive one")
        return moment.astimezone(CHINA).date()

    def close_of(self, day: date) -> datetime:
        """end_of_day of `day` in Asia/Shanghai, as aware UTC."""
        return datetime.combine(day, self.end_of_day, tzinfo=CHINA).astimezone(UTC)

    def due_at(self, received_at: datetime, workdays: int) -> tuple[datetime, bool]:
        """When an answer to something received at `received_at` is due, with a clock of
        `workdays` (>= 1) working days (see the module docstring), and whether the calendar was
        known for every day counted. Warns once per unknown year."""
        if workdays < 1:
            raise ValueError(f"a reply clock has at least 1 working day, got {workdays}")
        received = self.local_date(received_at)
        key = (received, workdays)
        found = self._due.get(key)
        if found is None:
            found = self.add_workdays(received, workdays)
            if len(self._due) >= _CACHE_LIMIT:
                self._due.clear()
            self._due[key] = found
        day, known = found
        if not known:
            self._warn_unknown(received, day)
        return self.close_of(day), known

    def workdays_late(self, due_at: datetime, now: datetime) -> int:
        """Whole working days that ended after `due_at` by `now` (0 when not late, or late by
        less than one working day): each working day after the due date counts once its own
        end_of_day has passed. For reminders and escalation."""
        if now <= due_at:
            return 0
        due_day, today = self.local_date(due_at), self.local_date(now)
        count, _ = self.workdays_between(due_day, today)
        if count and self.is_workday(today)[0] and now < self.close_of(today):
            count -= 1  # today's working day has not ended yet
        return max(count, 0)

    def unknown_years_ahead(self, today: date, horizon_days: int) -> list[int]:
        """Years touched by [today, today + horizon_days] that neither the official calendar
        nor the config covers: what a daily job should alert staff about."""
        last = today + timedelta(days=max(horizon_days, 0))
        return [y for y in range(today.year, last.year + 1) if not self.year_known(y)]

    def _warn_unknown(self, start: date, end: date) -> None:
        for year in range(start.year, end.year + 1):
            if year in self._warned or self.year_known(year):
                continue
            self._warned.add(year)
            log.warning(
                "The official holiday calendar for %d is not known (chinesecalendar has no data "
                "for it): reply deadlines in %d count Monday-Friday less the statutory holidays "
                "of the holiday regulation, plus the dates in config, but no 调休 make-up days "
                "or bridging days off. Set inbox.deadlines.holidays and inbox.deadlines.workdays "
                "to the State Council's arrangement for %d and add %d to "
                "inbox.deadlines.declared_years, or upgrade chinesecalendar.",
                year,
                year,
                year,
                year,
            )
