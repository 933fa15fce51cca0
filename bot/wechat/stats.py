"""数据统计 from WeChat: once a day (scheduler job wechat.stats) the days before are read from
datacube — each 群发 article's reads, shares and favourites (getarticlesummary), the account's new
and cancelled followers (getusersummary) and its total (getusercumulate) — and stored per day.
WeChat gives a day's figures from the next day on, and one day per call for articles [S50]. A
day is stored whole or not at all (WechatStatsDay written with its figures): a day WeChat could
not answer is read again by the next run while it is within `stats_lookback_days`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from bot.config import Config
from bot.models import WechatArticleStat, WechatFollowerStat, WechatStatsDay
from bot.outbox.channel_set import build_wechat
from bot.outbox.channel_state import WechatCommentTargets
from channels.base import ChannelError
from channels.wechat.api import WechatApi

log = logging.getLogger(__name__)
CHANNEL = "wechat"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass
class StatsRun:
    stored: list[str] = field(default_factory=list)  # ISO days stored by this run
    failed: dict[str, str] = field(default_factory=dict)  # ISO day: why WeChat did not answer

    def as_dict(self) -> dict[str, Any]:
        return {"stored": self.stored, "failed": self.failed}


def _figures(row: dict[str, Any]) -> dict[str, int]:
    def num(name: str) -> int:
        value = row.get(name, 0)
        return int(value) if isinstance(value, int | str) and str(value).isdigit() else 0

    return {
        "read_user": num("int_page_read_user"),
        "read_count": num("int_page_read_count"),
        "share_user": num("share_user"),
        "share_count": num("share_count"),
        "fav_user": num("add_to_fav_user"),
        "fav_count": num("add_to_fav_count"),
    }


async def _day(api: WechatApi, day: date) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """WeChat's answers for one day: the article rows and the follower figures."""
    span = {"begin_date": day.isoformat(), "end_date": day.isoformat()}
    articles = (await api.call("/datacube/getarticlesummary", span)).get("list") or []
    summary = (await api.call("/datacube/getusersummary", span)).get("list") or []
    cumulate = (await api.call("/datacube/getusercumulate", span)).get("list") or []
    users = {
        # getusersummary gives one row per user_source: the day's figures are their sum.
        "new_user": sum(int(r.get("new_user", 0)) for r in summary),
        "cancel_user": sum(int(r.get("cancel_user", 0)) for r in summary),
        "cumulate_user": max((int(r.get("cumulate_user", 0)) for r in cumulate), default=0),
    }
    return [a for a in articles if isinstance(a, dict)], users


async def _items_by_msgid(days: int) -> dict[str, int]:
    """WeChat's msgid ("msg_data_id_index", index from 1) of each article we sent: its item."""
    targets = await WechatCommentTargets(CHANNEL, days)()
    return {f"{t.msg_data_id}_{t.index + 1}": t.item_id for t in targets if t.item_id}


async def _store(
    day: date, articles: list[dict[str, Any]], users: dict[str, int], items: dict[str, int]
) -> bool:
    try:
        async with in_transaction() as conn:
            await WechatStatsDay.create(
                using_db=conn, day=day, fetched_at=datetime.now(UTC), articles=len(articles)
            )
            for row in articles:
                msgid = str(row.get("msgid", ""))[:64]
                await WechatArticleStat.create(
                    using_db=conn,
                    day=day,
                    msgid=msgid,
                    item_id=items.get(msgid),
                    title=str(row.get("title", ""))[:255],
                    **_figures(row),
                )
            await WechatFollowerStat.create(using_db=conn, day=day, **users)
    except IntegrityError:  # another process stored the day first
        return False
    return True


async def collect(config: Config, now: datetime, api: WechatApi | None = None) -> StatsRun:
    """Store every day of the look-back window before today (Shanghai) not stored yet."""
    lookback = config.channels.wechat.stats_lookback_days
    today = now.astimezone(SHANGHAI).date()
    window = [today - timedelta(days=n) for n in range(lookback, 0, -1)]
    have = set(await WechatStatsDay.filter(day__in=window).values_list("day", flat=True))
    missing = [d for d in window if d not in have]
    run = StatsRun()
    if not missing:
        return run
    channel = None
    if api is None:
        channel = build_wechat(config)
        await channel.start()
        api = channel.api
    try:
        items = await _items_by_msgid(lookback + 7)
        for day in missing:
            try:
                articles, users = await _day(api, day)
            except ChannelError as exc:
                log.warning("wechat stats of %s not available: %s", day, exc)
                run.failed[day.isoformat()] = str(exc)
                continue
            if await _store(day, articles, users, items):
                run.stored.append(day.isoformat())
    finally:
        if channel is not None:
            await channel.close()
    return run
