"""Freshness of channels and website columns (两周未更新 fails the national inspection of
government new media), one model for the dashboard and the daily check (scheduler/freshness.py).

A channel's days are those since its last completed publication, a column's since the last
completed publication on the website (the feed channel) of an item in that column, both in
Shanghai calendar days. Each is warned at `scheduler.freshness_warn_days` and alarmed at
`scheduler.freshness_alarm_days`; columns named in `scheduler.column_alarm_days` (通知公告 and
政策文件: six months) have their own limit and are warned as many days before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.functions import Max

from bot import db
from bot.config import Config
from bot.db import sql
from bot.models import Delivery, DeliveryAction, DeliveryStatus, Item
from bot.reports.labels import channel_label
from bot.timeutil import aware_or_none

WEBSITE = "feed"  # the channel that is the website, whose columns the inspection counts
# The dashboard's colours for each level (CSS classes fresh-green / -amber / -red).
COLOURS = {"ok": "green", "warn": "amber", "alarm": "red"}


@dataclass(frozen=True)
class Freshness:
    scope: str  # channel | column
    key: str  # the channel's name or the column's key
    label: str
    last: datetime | None  # the last completed publication
    days: int | None  # None: never published
    warn_days: int
    alarm_days: int

    @property
    def level(self) -> str:
        if self.days is None or self.days >= self.alarm_days:
            return "alarm"
        return "warn" if self.days >= self.warn_days else "ok"

    @property
    def colour(self) -> str:
        return COLOURS[self.level]

    @property
    def name(self) -> str:
        return f"{self.label}栏目" if self.scope == "column" else self.label

    @property
    def status_text(self) -> str:
        """The dashboard's badge."""
        if self.days is None:
            return "从未发布"
        if self.level == "alarm":
            return f"{self.days} 天未更新（已达 {self.alarm_days} 天）"
        if self.level == "warn":
            return f"{self.days} 天未更新（临近 {self.alarm_days} 天）"
        return "今天有更新" if self.days == 0 else f"{self.days} 天前更新"

    @property
    def alert_text(self) -> str:
        """One line of the staff alert and the digest."""
        if self.days is None:
            return f"{self.name}从未发布（要求每 {self.alarm_days} 天内至少更新一次）"
        if self.level == "alarm":
            return f"{self.name}已 {self.days} 天未更新（超过 {self.alarm_days} 天的要求）"
        left = self.alarm_days - self.days
        return f"{self.name}已 {self.days} 天未更新，{left} 天后将超过 {self.alarm_days} 天的要求"

    def as_dict(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "key": self.key,
            "label": self.label,
            "days": self.days,
            "level": self.level,
            "alarm_days": self.alarm_days,
        }


def _days(today: date, when: datetime | None, tz: ZoneInfo) -> int | None:
    return None if when is None else (today - when.astimezone(tz).date()).days


async def channel_freshness(config: Config, today: date) -> list[Freshness]:
    """Every enabled channel, from its last completed publication."""
    rows = (
        await Delivery.filter(status=DeliveryStatus.DONE.value, action=DeliveryAction.PUBLISH.value)
        .annotate(last=Max("finished_at"))
        .group_by("channel")
        .values("channel", "last")
    )
    last = {str(r["channel"]): aware_or_none(r["last"]) for r in rows}
    tz = ZoneInfo(config.app.timezone)
    s = config.scheduler
    return [
        Freshness(
            "channel",
            name,
            channel_label(name),
            last.get(name),
            _days(today, last.get(name), tz),
            s.freshness_warn_days,
            s.freshness_alarm_days,
        )
        for name in config.channels.enabled_names()
    ]


async def _column_last_posts() -> dict[str, datetime | None]:
    """The last completed website publication of an item in each column."""
    rows = await db.connection().execute_query_dict(
        sql(
            f'SELECT i."column" AS col, MAX(d.finished_at) AS last '
            f"FROM {Delivery._meta.db_table} d JOIN {Item._meta.db_table} i ON i.id = d.item_id "
            'WHERE d.channel = ? AND d.action = ? AND d.status = ? GROUP BY i."column"'
        ),
        [WEBSITE, DeliveryAction.PUBLISH.value, DeliveryStatus.DONE.value],
    )
    return {str(r["col"]): aware_or_none(r["last"]) for r in rows}


async def assess(config: Config, today: date) -> list[Freshness]:
    """Every enabled channel and (with the website enabled) every column, stale or not."""
    out = await channel_freshness(config, today)
    if WEBSITE not in config.channels.enabled_names():
        return out
    s = config.scheduler
    tz = ZoneInfo(config.app.timezone)
    warn, alarm = s.freshness_warn_days, s.freshness_alarm_days
    last = await _column_last_posts()
    for key, column in config.columns.items():
        limit = s.column_alarm_days.get(key, alarm)
        when = last.get(key)
        # A column with its own limit is warned as many days ahead as the others are.
        out.append(
            Freshness(
                "column",
                key,
                column.name,
                when,
                _days(today, when, tz),
                max(1, limit - alarm + warn),
                limit,
            )
        )
    return out


def stale_lines(found: list[Freshness]) -> list[str]:
    """Alarms first, then warnings, one line each."""
    ordered = sorted(
        (f for f in found if f.level != "ok"), key=lambda f: (f.level != "alarm", f.scope, f.key)
    )
    return [("【告警】" if f.level == "alarm" else "【预警】") + f.alert_text for f in ordered]
