"""The weekly slot (scheduler/jobs.py weekly_slot) of the 专项回应 scan: a week's slot exists
from its weekday and time on, in app.timezone, and is that week's ISO week, so every process
names the same one and a week runs once however late its first tick."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from scheduler.jobs import weekly_slot

SHANGHAI = ZoneInfo("Asia/Shanghai")
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@given(moments, st.integers(1, 7), st.integers(0, 23), st.integers(0, 59))
def test_a_week_has_its_slot_from_its_weekday_and_time_on(
    now: datetime, weekday: int, hour: int, minute: int
) -> None:
    at = f"{hour:02d}:{minute:02d}"
    slot = weekly_slot(now, weekday, at, "Asia/Shanghai")
    local = now.astimezone(SHANGHAI)
    year, week, day = local.isocalendar()
    due = (day, local.time()) >= (weekday, time(hour, minute))
    assert (slot is not None) == due
    if slot is not None:
        assert slot == f"{year}-W{week:02d}"
        # later in the same week: the same slot
        end = local.replace(hour=23, minute=59) + timedelta(days=7 - day)
        assert weekly_slot(end.astimezone(UTC), weekday, at, "Asia/Shanghai") == slot


def test_the_week_turns_on_monday_in_shanghai_not_in_utc() -> None:
    sunday_night = datetime(2025, 7, 6, 15, 59, tzinfo=UTC)  # Sunday 23:59 in Shanghai
    monday = datetime(2025, 7, 6, 16, 0, tzinfo=UTC)  # Monday 00:00 in Shanghai
    assert weekly_slot(sunday_night, 1, "00:00", "Asia/Shanghai") == "2025-W27"
    assert weekly_slot(monday, 1, "00:00", "Asia/Shanghai") == "2025-W28"
    assert weekly_slot(monday, 1, "09:00", "Asia/Shanghai") is None
