"""Channel and column freshness (两周未更新 fails the national inspection of government new
media): each enabled channel and each website column is warned about at
`scheduler.freshness_warn_days` and alarmed at `scheduler.freshness_alarm_days` without a
post. Columns named in `scheduler.column_alarm_days` (通知公告 and 政策文件: six months) have
their own limit and are warned the same number of days before it.

Channel days come from the dashboard's freshness() (bot/web/console/dashboard.py), so the
console and the alerts count alike; a column's days are those since the last completed
publication on the website (the feed channel) of an item in that column.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot import db
from bot.config import Config
from bot.models import Delivery, DeliveryAction, DeliveryStatus, Item
from bot.outbox import sql
from bot.web.console.dashboard import as_datetime, freshness
from scheduler.alerts import Alerter

WEBSITE = "feed"  # the channel that is the website, whose columns the inspection counts


@dataclass(frozen=True)
class Staleness:
    scope: str  # channel | column
    key: str
    label: str
    days: int | None  # None: never published
    warn_days: int
    alarm_days: int

    @property
    def level(self) -> str:
        if self.days is None or self.days >= self.alarm_days:
            return "alarm"
        return "warn" if self.days >= self.warn_days else "ok"

    @property
    def name(self) -> str:
        return f"{self.label}栏目" if self.scope == "column" else self.label

    @property
    def text(self) -> str:
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
    return {str(r["col"]): as_datetime(r["last"]) for r in rows}


async def assess(config: Config, today: date) -> list[Staleness]:
    """Every enabled channel and (with the website enabled) every column, stale or not."""
    s = config.scheduler
    tz = ZoneInfo(config.app.timezone)
    warn, alarm = s.freshness_warn_days, s.freshness_alarm_days
    out = [
        Staleness("channel", f.channel, f.label, f.days, warn, alarm)
        for f in await freshness(config, today, tz)
    ]
    if WEBSITE not in config.channels.enabled_names():
        return out
    last = await _column_last_posts()
    for key, column in config.columns.items():
        limit = s.column_alarm_days.get(key, alarm)
        when = last.get(key)
        days = None if when is None else (today - when.astimezone(tz).date()).days
        # A column with its own limit is warned as many days ahead as the others are.
        out.append(Staleness("column", key, column.name, days, max(1, limit - alarm + warn), limit))
    return out


def stale_lines(found: list[Staleness]) -> list[str]:
    """Alarms first, then warnings, one line each."""
    ordered = sorted(
        (f for f in found if f.level != "ok"), key=lambda f: (f.level != "alarm", f.scope, f.key)
    )
    return [("【告警】" if f.level == "alarm" else "【预警】") + f.text for f in ordered]


async def freshness_check(
    config: Config, alerter: Alerter, now: datetime | None = None
) -> dict[str, Any]:
    """The daily check: alert staff about every warning and alarm in one message."""
    now = now or datetime.now(UTC)
    today = now.astimezone(ZoneInfo(config.app.timezone)).date()
    found = await assess(config, today)
    lines = stale_lines(found)
    if lines:
        await alerter.send(
            "【栏目更新提醒】以下渠道或栏目更新不及时（两周未更新不符合政务新媒体检查要求）：\n"
            + "\n".join(lines)
        )
    return {
        "day": today.isoformat(),
        "stale": [f.as_dict() for f in found if f.level != "ok"],
        "checked": len(found),
    }
