"""The daily freshness check (两周未更新 fails the national inspection of government new
media): staff are alerted about every stale channel and column in one message. What counts as
stale is bot/reports/freshness.py, the dashboard's model too."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import Config
from bot.reports.freshness import assess, stale_lines
from scheduler.alerts import Alerter


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
