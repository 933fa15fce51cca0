"""数据统计 from WeChat (bot/wechat/stats.py, job wechat.stats) against the simulator's seeded
datacube, on clocks the test sets: the figures stored and shown on the dashboard equal the
seeded ones, linked to their items; a second run in the same slot writes nothing; a day WeChat
could not answer is filled in by the next day's run. The simulator's date rules (format, span,
nothing after yesterday) are checked with wechatpy's own client."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from bot.inbox.ingest import Inbox
from bot.models import JobSlot, WechatArticleStat, WechatFollowerStat, WechatStatsDay
from bot.reports.wechat_figures import csv_rows
from channels.wechat.channel import WechatChannel
from scheduler.alerts import Alerter
from scheduler.jobs import JobContext, job_specs, run_job
from tests.channels.test_wechat import APP_ID, SECRET, WechatEnv, make_env, started
from tests.web.console.test_auth import client_for, login
from tests.wechat.conftest import published_and_mass_sent

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def env(backend_url: str) -> AsyncIterator[WechatEnv]:
    async for e in make_env(backend_url, stats_lookback_days=4):
        yield e


@pytest.fixture
async def channel(env: WechatEnv) -> AsyncIterator[WechatChannel]:
    async for ch in started(env):
        yield ch


def _freeze(env: WechatEnv, at: datetime) -> None:
    env.sim.clock = lambda: at.timestamp()
    env.sim.offset = 0.0


async def test_job_stores_seeded_figures_once_per_slot_and_fills_a_missed_day_later(
    env: WechatEnv, channel: WechatChannel
) -> None:
    first, second, mass = await published_and_mass_sent(env, channel)
    now = datetime.now(UTC).astimezone(SHANGHAI).replace(hour=11, minute=0).astimezone(UTC)
    today = now.astimezone(SHANGHAI).date()
    _freeze(env, now)
    cube = env.sim.datacube
    d1, d2, d3 = (today - timedelta(days=n) for n in (1, 2, 3))
    mdi = mass["msg_data_id"]
    cube.seed_article(
        d1, mdi, 0, first.title, int_page_read_user=120, int_page_read_count=150, share_user=8
    )
    cube.seed_article(
        d1, mdi, 1, second.title, int_page_read_user=45, share_user=2, add_to_fav_user=1
    )
    cube.seed_article(d3, mdi, 0, first.title, int_page_read_user=30, share_user=1)
    for n, day in enumerate((d3, d2, d1)):
        cube.seed_users(day, new=10 + n, cancel=n, cumulate=1000 + 10 * n)
    # Days are asked oldest first: the fourth day back answers (nothing), WeChat cannot answer
    # for the third (-1, 系统繁忙).
    env.sim.faults.fail("datacube/getarticlesummary", 0, -1)

    spec = next(s for s in job_specs(env.config) if s.name == "wechat.stats")
    assert spec.at == env.config.scheduler.wechat_stats_time
    spec = dataclasses.replace(spec, at="10:00")
    ctx = JobContext(
        env.config, Inbox(env.config), {"wechat": channel}, Alerter(env.config, None), "p1"
    )

    result = await run_job(spec, ctx, now)
    assert result is not None
    assert result["stored"] == [
        (today - timedelta(days=4)).isoformat(),
        d2.isoformat(),
        d1.isoformat(),
    ]
    assert list(result["failed"]) == [d3.isoformat()]
    rows = {(r.day, r.item_id): r for r in await WechatArticleStat.all()}
    assert (rows[(d1, first.id)].read_user, rows[(d1, first.id)].read_count) == (120, 150)
    assert (rows[(d1, second.id)].read_user, rows[(d1, second.id)].fav_user) == (45, 1)
    assert (await WechatFollowerStat.get(day=d1)).cumulate_user == 1020

    calls = sum(env.sim.ledger.calls.values())
    counts = (await WechatArticleStat.all().count(), await WechatFollowerStat.all().count())
    assert await run_job(spec, ctx, now + timedelta(hours=2)) is None  # the same day's slot
    other = dataclasses.replace(ctx, owner="p2")
    assert await run_job(spec, other, now + timedelta(hours=3)) is None
    assert sum(env.sim.ledger.calls.values()) == calls
    assert (await WechatArticleStat.all().count(), await WechatFollowerStat.all().count()) == counts
    assert await JobSlot.filter(job="wechat.stats").count() == 1

    tomorrow = now + timedelta(days=1)
    _freeze(env, tomorrow)
    cube.seed_users(today, new=20, cancel=1, cumulate=1040)
    again = await run_job(spec, ctx, tomorrow)
    assert again is not None
    assert again["stored"] == [d3.isoformat(), today.isoformat()]  # the missed day, filled in
    assert (await WechatArticleStat.get(day=d3, item_id=first.id)).read_user == 30
    assert await WechatStatsDay.all().count() == 5

    # The CSV export has each stored figure; a title a spreadsheet would run stays text.
    await WechatArticleStat.create(day=d2, msgid="1_1", title="=HYPERLINK(1)", read_user=3)
    rows = await csv_rows(d3, today)
    assert [d1.isoformat(), f"{mdi}_1", first.id, first.title, 120, 150, 8] == rows[-2][:7]
    assert "'=HYPERLINK(1)" in [r[3] for r in rows]

    # The dashboard shows WeChat's figures: the total and the most read article.
    cclient = await client_for(env.config)
    try:
        await login(cclient, "bob", "Pw-bravo-2026")
        page = await (await cclient.get("/console/dashboard")).text()
    finally:
        await cclient.close()
    assert "data-wechat-total>1040<" in page
    assert f">{first.title}</a></th><td>150</td>" in page  # 120 + 30 reads over the days
    assert f">{second.title}</a></th><td>45</td><td>2</td><td>1</td>" in page


async def test_wechatpy_reads_datacube_and_the_date_rules_refuse_bad_ranges(
    env: WechatEnv,
) -> None:
    now = datetime(2026, 12, 7, 12, 0, tzinfo=SHANGHAI)
    _freeze(env, now)
    yesterday = now.date() - timedelta(days=1)
    env.sim.datacube.seed_article(yesterday, 2455800001, 0, "通知", int_page_read_user=5)
    env.sim.datacube.seed_article(yesterday, 2455800001, 1, "阅读太少", int_page_read_user=2)
    env.sim.datacube.seed_users(yesterday, new=3, cancel=1, cumulate=99)
    env.sim.tokens["wp-token"] = env.sim.now() + 7200
    client = WeChatClient(APP_ID, SECRET, access_token="wp-token")
    client.datacube.API_BASE_URL = env.config.channels.wechat.api_base_url + "/datacube/"

    def read() -> dict[str, Any]:
        out: dict[str, Any] = {
            "articles": client.datacube.get_article_summary(yesterday, yesterday),
            "users": client.datacube.get_user_summary(yesterday - timedelta(days=6), yesterday),
            "total": client.datacube.get_user_cumulate(yesterday, yesterday),
            "sent": client.datacube.get_article_total(yesterday, yesterday),
        }
        codes = []
        for call in (
            lambda: client.datacube.get_article_summary(yesterday - timedelta(days=1), yesterday),
            lambda: client.datacube.get_user_summary(yesterday - timedelta(days=7), yesterday),
            lambda: client.datacube.get_user_cumulate(now.date(), now.date()),
            lambda: client.datacube.get_user_cumulate("2026/12/06", "2026/12/06"),
        ):
            with pytest.raises(WeChatClientException) as refused:
                call()
            codes.append(refused.value.errcode)
        out["codes"] = codes
        return out

    got = await asyncio.to_thread(read)
    # msgid is msg_data_id and the article's place from 1; an article read by fewer than 3 is
    # not counted [S50].
    assert [(a["msgid"], a["int_page_read_user"]) for a in got["articles"]] == [("2455800001_1", 5)]
    assert [(u["new_user"], u["cancel_user"]) for u in got["users"]] == [(3, 1)]
    assert got["total"] == [{"ref_date": yesterday.isoformat(), "cumulate_user": 99}]
    assert got["sent"][0]["msgid"] == "2455800001_1"
    assert got["codes"] == [61501, 61501, 61501, 61500]
