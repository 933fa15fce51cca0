"""Followers gained and lost per day, counted from the WeChat subscribe and unsubscribe events
the callback stored: the statistics the console dashboard reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.models import ChannelEvent
from channels.wechat.messages import CHANNEL, SUBSCRIBE, UNSUBSCRIBE


@dataclass(frozen=True)
class FollowerDay:
    """One local day's followers gained and lost."""

    day: date
    subscribed: int
    unsubscribed: int

    @property
    def net(self) -> int:
        return self.subscribed - self.unsubscribed


async def follower_counts(first: date, last: date, tz: str = "Asia/Shanghai") -> list[FollowerDay]:
    """New and lost followers per local day from first to last (both included), for the
    dashboard; days without events are listed with zeros."""
    zone = ZoneInfo(tz)
    start = datetime.combine(first, time(), zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(), zone).astimezone(UTC)
    rows = await ChannelEvent.filter(
        channel=CHANNEL, kind__in=[SUBSCRIBE, UNSUBSCRIBE], at__gte=start, at__lt=end
    ).values_list("kind", "at")
    counts: dict[date, list[int]] = {}
    day = first
    while day <= last:
        counts[day] = [0, 0]
        day += timedelta(days=1)
    for kind, at in rows:
        local = at.astimezone(zone).date()
        if local in counts:
            counts[local][0 if kind == SUBSCRIBE else 1] += 1
    return [FollowerDay(d, s, u) for d, (s, u) in counts.items()]
