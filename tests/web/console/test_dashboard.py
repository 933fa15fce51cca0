"""The console's 数据看板 and 群发计划 pages over a real server and SQLite database, on seeded
rows: the exact 多元化解读率, on-time rate and median first reply, the weekly publication
counts, channel freshness colours at 10 and 14 days, dead deliveries and overdue comments with
their links, followers per day; the charts' accessible labels and escaping; who may see the
mass-send plan and what it lists."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bot import db
from bot.config import Config
from bot.models import ChannelEvent, Comment, Delivery, Item, User
from bot.reports.freshness import channel_freshness
from bot.web.console import charts
from bot.web.console.dashboard import WEEKS, duration_text, weekly_posts
from tests.conftest import Staff
from tests.web.console.test_auth import console_config, login

Client = TestClient[web.Request, web.Application]
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def cconfig(sqlite_url: str) -> AsyncIterator[Config]:
    cfg = console_config(
        sqlite_url,
        channels={
            "webhook": {"enabled": True, "url": "http://127.0.0.1:9/push"},
            "wechat": {"mass_send_max_articles": 2},
        },
    )
    await db.init(cfg, check_schema=False)
    await db.upgrade()
    yield cfg
    await db.close()


async def make_item(**fields: Any) -> Item:
    author = await User.get(username="alice")
    data: dict[str, Any] = {
        "kind": "notice",
        "title": "通知",
        "column": "notices",
        "author": author,
    }
    data.update(fields)
    return await Item.create(**data)


async def delivered(
    channel: str, finished_at: datetime, item: Item | None = None, **kw: Any
) -> Delivery:
    item = item or await make_item(status="published", published_at=finished_at)
    data: dict[str, Any] = {
        "item": item,
        "item_version": 1,
        "channel": channel,
        "status": "done",
        "due_at": finished_at,
        "next_attempt_at": finished_at,
        "finished_at": finished_at,
    }
    data.update(kw)
    return await Delivery.create(**data)


async def comment(n: int, received: datetime, **fields: Any) -> Comment:
    data: dict[str, Any] = {
        "channel": "feed",
        "remote_id": f"r{n}",
        "original_text": "问题",
        "masked_text": "问题",
        "received_at": received,
    }
    data.update(fields)
    return await Comment.create(**data)


def figure(page: str, ident: str) -> str:
    match = re.search(rf'id="{ident}">([^<]*)<', page)
    assert match, ident
    return match.group(1)


async def test_dashboard_shows_the_exact_rates_and_counts_of_seeded_data(
    cclient: Client, cconfig: Config
) -> None:
    now = datetime.now(UTC)
    recent = now - timedelta(minutes=1)
    for forms in (["图解"], ["文字"], ["视频", "文字"], ["文字"], ["短视频"]):
        await make_item(
            kind="interpretation",
            status="published",
            published_at=recent,
            interpretation_forms=forms,
        )
    await make_item(
        kind="interpretation",
        status="retracted",
        published_at=recent,
        interpretation_forms=["文字"],
    )
    # Four judged comments: two answered on time, one late, one open past its due time;
    # answered after 6, 18 and 30 minutes (median 18 minutes).
    base = now - timedelta(minutes=50)
    due = base + timedelta(minutes=20)
    await comment(1, base, due_at=due, first_reply_at=base + timedelta(minutes=6), status="replied")
    await comment(
        2, base, due_at=due, first_reply_at=base + timedelta(minutes=18), status="replied"
    )
    await comment(
        3, base, due_at=due, first_reply_at=base + timedelta(minutes=30), status="replied"
    )
    await comment(4, base, due_at=due)
    await comment(5, base, due_at=now + timedelta(days=3))  # not yet due: not judged
    await comment(6, base, due_at=due, status="spam")  # spam: left out
    await delivered("feed", now, status="dead")
    await login(cclient, "alice", "Pw-alpha-2026")  # an editor: every staff role sees the dashboard
    page = await (await cclient.get("/console/dashboard")).text()
    assert figure(page, "rate-value") == "60.0%"  # 3 of 5 (the retracted one left out)
    assert "本年发布政策解读 5 篇" in page and "已达目标" in page
    assert figure(page, "ontime-value") == "50.0%"
    assert "应计 4 条，按时答复 2 条" in page
    assert figure(page, "median-value") == "18 分钟"
    # An editor may not open the inbox: the figure, without a link that would be refused.
    overdue = re.search(r'<span id="overdue-link"><span[^>]*>(\d+)<', page)
    assert overdue and overdue.group(1) == "1"
    assert "/console/inbox?due=overdue" not in page
    dead = re.search(
        r'href="/console/deliveries\?status=dead" id="dead-link"><span[^>]*>(\d+)<', page
    )
    assert dead and dead.group(1) == "1"
    assert 'aria-label="多元化解读率 60.0%，目标 60%"' in page
    assert page.count('role="img"') >= 4


async def test_below_target_rate_is_flagged(cclient: Client) -> None:
    recent = datetime.now(UTC) - timedelta(minutes=1)
    for forms in (["图解"], ["文字"]):
        await make_item(
            kind="interpretation",
            status="published",
            published_at=recent,
            interpretation_forms=forms,
        )
    await login(cclient, "bob", "Pw-bravo-2026")
    page = await (await cclient.get("/console/dashboard")).text()
    assert figure(page, "rate-value") == "50.0%" and "未达目标" in page


async def test_freshness_turns_amber_at_10_days_and_red_at_14(
    cclient: Client, cconfig: Config
) -> None:
    # Days are counted between Shanghai dates: noon of the day N days back is N days at any hour.
    today = datetime.now(SHANGHAI).date()

    def days_ago(n: int) -> datetime:
        return datetime(today.year, today.month, today.day, 12, tzinfo=SHANGHAI) - timedelta(days=n)

    await delivered("feed", days_ago(3))
    await delivered("feed", days_ago(20))  # an older one does not count
    hook = await delivered("webhook", days_ago(10))
    await login(cclient, "mod", "Pw-mike-2026")

    def levels(page: str) -> dict[str, str]:
        return dict(re.findall(r'data-channel="(\w+)".*?data-level="(\w+)"', page, re.S))

    page = await (await cclient.get("/console/dashboard")).text()
    assert levels(page) == {"feed": "green", "webhook": "amber"}
    assert "10 天未更新（临近 14 天）" in page
    await Delivery.filter(id=hook.id).update(finished_at=days_ago(14))
    page = await (await cclient.get("/console/dashboard")).text()
    assert levels(page)["webhook"] == "red" and "14 天未更新（已达 14 天）" in page
    await Delivery.filter(channel="feed").delete()
    page = await (await cclient.get("/console/dashboard")).text()
    assert levels(page)["feed"] == "red" and "从未发布" in page


async def test_weekly_posts_are_counted_per_channel_by_shanghai_week(
    cclient: Client, cconfig: Config
) -> None:
    today = datetime.now(SHANGHAI).date()
    monday = today - timedelta(days=today.weekday())
    # Monday 00:30 Shanghai is Sunday 16:30 UTC: it belongs to the new week, not the old one.
    this_week = datetime(monday.year, monday.month, monday.day, 0, 30, tzinfo=SHANGHAI)
    await delivered("feed", this_week.astimezone(UTC))
    await delivered("feed", this_week.astimezone(UTC))
    await delivered("webhook", (this_week - timedelta(weeks=2)).astimezone(UTC))
    await delivered("webhook", (this_week - timedelta(weeks=20)).astimezone(UTC))  # too old
    await delivered("feed", this_week.astimezone(UTC), status="dead")  # not done
    await login(cclient, "alice", "Pw-alpha-2026")
    page = await (await cclient.get("/console/dashboard")).text()
    table = page[page.index('id="h-weekly"') :]
    head = re.search(r"<thead><tr><th scope=\"col\">周（周一）</th>(.*?)</tr>", table)
    assert head
    header = head.group(1)
    names = re.findall(r"<th scope=\"col\">([^<]*)</th>", header)
    cells = {
        label: re.findall(r"<td>(\d+)</td>", tds)
        for label, tds in re.findall(r'<tr><th scope="row">([\d-]+)</th>(.*?)</tr>', table)
    }
    assert len(names) == 2 and "共 3 条" in table
    feed, hook = names.index("网站"), 1 - names.index("网站")
    assert cells[monday.strftime("%m-%d")][feed] == "2"
    assert cells[(monday - timedelta(weeks=2)).strftime("%m-%d")][hook] == "1"
    assert sum(int(row[hook]) for row in cells.values() if len(row) == 2) == 1


async def test_followers_per_day_are_shown_with_totals(cclient: Client) -> None:
    now = datetime.now(UTC)
    for i, kind in enumerate(["subscribe", "subscribe", "subscribe", "unsubscribe"]):
        await ChannelEvent.create(channel="wechat", key=f"{kind}:o{i}:1", kind=kind, at=now)
    await login(cclient, "bob", "Pw-bravo-2026")
    page = await (await cclient.get("/console/dashboard")).text()
    assert (
        "新关注 <strong>3</strong> 人，取消关注 <strong>1</strong> 人，净增 <strong>2</strong> 人"
        in page
    )
    today = now.astimezone(SHANGHAI).strftime("%Y-%m-%d")
    assert f'<th scope="row">{today}</th><td>3</td><td>1</td><td>2</td>' in page


async def test_week_and_freshness_queries_agree_on_sqlite_and_postgresql(
    any_config: Config, any_staff: Staff
) -> None:
    today = datetime.now(SHANGHAI).date()
    monday = today - timedelta(days=today.weekday())
    start = datetime(monday.year, monday.month, monday.day, 0, 30, tzinfo=SHANGHAI)
    await delivered("feed", start.astimezone(UTC))  # Sunday 16:30 UTC: this Shanghai week
    await delivered("feed", (start - timedelta(hours=1)).astimezone(UTC))  # last week
    await delivered("webhook", (start - timedelta(weeks=3)).astimezone(UTC))
    first = monday - timedelta(weeks=WEEKS - 1)
    counts = await weekly_posts(first, WEEKS, SHANGHAI)
    assert counts == {
        "feed": [0] * (WEEKS - 2) + [1, 1],
        "webhook": [0] * (WEEKS - 4) + [1, 0, 0, 0],
    }
    fresh = {f.key: f for f in await channel_freshness(any_config, today)}
    assert fresh["feed"].days == (today - monday).days and fresh["feed"].last is not None


def test_first_reply_times_read_in_minutes_under_an_hour_else_hours() -> None:
    assert duration_text(None) == "—"
    assert duration_text(0.001) == "不到 1 分钟"
    assert duration_text(0.75) == "45 分钟"
    assert duration_text(26.04) == "26.0 小时"


def test_chart_text_is_escaped_and_labelled() -> None:
    svg = charts.bar_chart(
        '<script>x</script>"', ["<b>w1</b>", "w2"], [charts.Series('"><img onerror=1>', [1, 2])]
    )
    text = str(svg)
    assert "<script>" not in text and "<img" not in text and "<b>" not in text
    assert 'aria-label="&lt;script&gt;x&lt;/script&gt;&#34;"' in text
    assert "<title>&lt;script&gt;" in text
    line = str(charts.line_chart("趋势", ["a"], [charts.Series("s", [0])]))
    assert 'role="img"' in line and "<polyline" in line
    meter = str(charts.meter("率", 0.5, 0.6))
    assert 'class="meter-bad"' in meter and "目标 60%" in meter


async def test_mass_send_plan_lists_articles_in_order_and_what_does_not_fit(
    cclient: Client, cconfig: Config
) -> None:
    now = datetime.now(UTC)
    for title, priority in (("低优先级", 0), ("最重要的通知", 5), ("次要通知", 1)):
        item = await make_item(title=title, status="published", notify=True, priority=priority)
        await delivered("wechat", now, item=item, remote_id=f"a-{title}")
    quiet = await make_item(title="不群发的通知", status="published", notify=False)
    await delivered("wechat", now, item=quiet)
    await login(cclient, "mod", "Pw-mike-2026")
    assert (await cclient.get("/console/mass-send")).status == 403
    cclient.session.cookie_jar.clear()
    await login(cclient, "bob", "Pw-bravo-2026")
    page = await (await cclient.get("/console/mass-send")).text()
    today = page[: page.index("明天")]
    assert today.index("最重要的通知") < today.index("次要通知") < today.index("<h3>未能纳入")
    assert today.index("<h3>未能纳入") < today.index("低优先级")
    assert "不群发的通知" not in page
    assert "尚未生成" in page
    cclient.session.cookie_jar.clear()
    await login(cclient, "alice", "Pw-alpha-2026")
    assert (await cclient.get("/console/mass-send")).status == 200
