"""The inbox in headless Chromium against the running site: a member of the public writes
through the website's 留言 form; a moderator finds it in 留言处理, assigns it to herself with
the keyboard shortcut, sees its category, replies; the reply sender running in this loop with
the site's channels delivers the answer through the website channel, and the comment page's
reply status turns to 已送达. Hostile text in the message shows as text. The inbox list and
detail (laptop and 400-px windows), the dashboard and the mass-send plan are screenshotted
under tests/browser/screenshots/."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import Browser, Page, Route, expect

from bot.inbox.replies import ReplySender
from bot.models import ChannelEvent, Comment, CommentReply, Delivery, Item, User
from bot.outbox.channel_set import build_channels
from tests.browser.conftest import Site
from tests.conftest import add_test_user

pytestmark = pytest.mark.browser

MESSAGE = (
    '请问政府信息公开申请一般多久答复？<script>alert(1)</script>"><img src=x onerror=alert(2)>'
)
# What sticks out of a 400-px window (for the failure message).
WIDER_THAN_WINDOW = (
    "Array.from(document.querySelectorAll('body *'))"
    ".filter(e => e.getBoundingClientRect().right > 401)"
    ".map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"
    ".slice(0, 10)"
)
ANSWER = "您好，政府信息公开申请一般在20个工作日内答复。"


async def shot(page: Page, site: Site, name: str) -> None:
    path = site.shots / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


async def log_in(
    page: Page, site: Site, username: str, password: str, lands: str = "发布队列"
) -> None:
    """Log in from the login page; `lands` is the heading of the role's first page."""
    await page.goto(site.url("/console/login"))
    await page.get_by_label("用户名").fill(username)
    await page.get_by_label("密码").fill(password)
    await page.get_by_role("button", name="登录").click()
    await expect(page.get_by_role("heading", name=lands)).to_be_visible()


async def seed_figures() -> None:
    """Publications over the last weeks, interpretations, followers and today's WeChat
    articles flagged for the mass send: something for the dashboard and the plan to show."""
    author = await User.get(username="alice")
    now = datetime.now(UTC)

    async def published(channel: str, at: datetime, **fields: Any) -> None:
        data: dict[str, Any] = {"kind": "notice", "title": "通知", "column": "notices"}
        data.update(fields)
        item = await Item.create(author=author, status="published", published_at=at, **data)
        await Delivery.create(
            item=item,
            item_version=1,
            channel=channel,
            status="done",
            due_at=at,
            next_attempt_at=at,
            finished_at=at,
        )

    for week in range(8):
        for n in range(week % 3 + 1):
            await published("feed", now - timedelta(weeks=week, hours=n))
        if week % 2:
            await published("webhook", now - timedelta(weeks=week, days=1))
    for forms in (["图解"], ["文字"], ["视频", "文字"]):
        await published("feed", now, kind="interpretation", interpretation_forms=forms)
    for day in range(20):
        for n in range(day % 4):
            at = now - timedelta(days=day, minutes=n)
            await ChannelEvent.create(channel="wechat", key=f"s:{day}:{n}", kind="subscribe", at=at)
        if day % 5 == 0:
            await ChannelEvent.create(channel="wechat", key=f"u:{day}", kind="unsubscribe", at=now)
    for n in range(10):
        title = f"2021年政务公开重点工作（第{n + 1}期）"
        await published("wechat", now, title=title, notify=True, priority=n % 3)


async def test_moderator_triages_and_answers_a_website_message_until_delivered(
    browser: Browser, site: Site
) -> None:
    await add_test_user("mod", ["moderator"], "Pw-mike-2026", "system:test", display_name="李答复")
    fast = site.config.model_copy(
        update={"inbox": site.config.inbox.model_copy(update={"reply_interval_seconds": 0.1})}
    )
    sender = ReplySender(fast, build_channels(fast))
    sender.start()
    dialogs: list[str] = []
    try:
        # The public writes through the website form.
        public = await browser.new_page(locale="zh-CN")
        public.on("dialog", lambda d: dialogs.append(d.message))
        # The form posts to the configured public address; send that to this test's server.
        base = site.config.app.public_base_url.rstrip("/")

        async def to_site(route: Route) -> None:
            await route.continue_(url=site.url(route.request.url[len(base) :]))

        await public.route(f"{base}/**", to_site)
        await public.goto(site.url("/feedback"))
        await public.get_by_label(re.compile("留言内容")).fill(MESSAGE)
        await public.get_by_role("button", name="提交留言").click()
        await expect(public.get_by_text("查询码").first).to_be_visible()
        comment = await Comment.get(channel="feed")
        assert comment.kind == "form" and comment.query_code

        page = await browser.new_page(viewport={"width": 1366, "height": 860}, locale="zh-CN")
        page.on("dialog", lambda d: dialogs.append(d.message))
        await log_in(page, site, "mod", "Pw-mike-2026", lands="留言处理")  # a moderator's start
        row = page.locator(f'tr[data-row="{comment.id}"]')
        await expect(row).to_contain_text("<script>alert(1)</script>")  # shown as text
        await expect(row.locator(".badge.due-ok, .badge.due-soon")).to_have_count(1)
        await shot(page, site, "inbox-01-list")

        # j selects the first row and focuses its link; Enter opens it.
        await page.locator("body").press("j")
        await expect(row).to_have_class(re.compile("current"))
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("heading", name=f"留言 #{comment.id}")).to_be_visible()
        await expect(page.locator("dl.meta")).to_contain_text(comment.category or "未分类")
        assert comment.category  # triage gave it a category, and the page shows it

        # a: assign to me (the shortcut submits the form); typing in a field fires nothing.
        await page.get_by_label("办结说明（可选）").press("c")
        await expect(page.get_by_label("办结说明（可选）")).to_have_value("c")
        await page.get_by_label("办结说明（可选）").fill("")
        await page.locator("h1").click()
        await page.keyboard.press("a")
        await expect(page.get_by_text("已分派给我（mod）")).to_be_visible()
        await expect(page.locator("dl.meta")).to_contain_text("mod")
        assert (await Comment.get(id=comment.id)).status == "open"  # "c" did not close it

        # r focuses the reply box; send the answer.
        await page.locator("h1").click()
        await page.keyboard.press("r")
        await expect(page.get_by_label(re.compile("答复内容"))).to_be_focused()
        await page.keyboard.type(ANSWER)
        await page.get_by_role("button", name="发送答复").click()
        # The confirmation page names the text and the channel; nothing is queued yet.
        await expect(page.locator("[data-confirm=quote]")).to_have_text(ANSWER)
        assert not await CommentReply.filter(comment_id=comment.id).exists()
        await page.get_by_role("button", name="确认发送").click()
        await expect(page.get_by_text("答复已排入发送队列")).to_be_visible()
        status = page.locator("[data-reply-status]").first
        for _ in range(80):
            if await status.get_attribute("data-reply-status") == "sent":
                break
            await asyncio.sleep(0.25)
            await page.reload()
        await expect(status).to_have_text("已送达")
        await expect(page.locator(".badge.st-c-replied").first).to_have_text("已答复")
        await shot(page, site, "inbox-02-detail")

        reply = await CommentReply.get(comment_id=comment.id)
        assert reply.status == "sent" and reply.remote_id == f"web-reply-{reply.id}"
        stored = await Comment.get(id=comment.id)
        mod = await User.get(username="mod")
        assert stored.status == "replied" and stored.assignee_id == mod.id
        assert stored.first_reply_at is not None

        # The same pages in a 400-px window.
        narrow = await browser.new_page(
            viewport={"width": 400, "height": 800},
            locale="zh-CN",
            storage_state=await page.context.storage_state(),
        )
        await narrow.goto(site.url(f"/console/inbox/{comment.id}"))
        await expect(narrow.get_by_role("heading", name=f"留言 #{comment.id}")).to_be_visible()
        width = await narrow.evaluate("document.documentElement.scrollWidth")
        wide = await narrow.evaluate(WIDER_THAN_WINDOW)
        await shot(narrow, site, "inbox-03-detail-400px")
        assert width <= 400, (width, wide)  # nothing forces sideways scrolling of the page
        await shot(narrow, site, "inbox-03-detail-400px")
        await narrow.goto(site.url("/console/inbox?status=all"))
        await shot(narrow, site, "inbox-04-list-400px")

        # The dashboard (every staff role) and the mass-send plan (reviewers, editors).
        await seed_figures()
        await page.get_by_role("link", name="数据看板").click()
        await expect(page.get_by_role("heading", name="数据看板")).to_be_visible()
        await expect(page.locator("svg.chart").first).to_have_attribute("role", "img")
        await shot(page, site, "inbox-05-dashboard")
        await page.get_by_role("button", name="退出登录").click()
        await log_in(page, site, "bob", "Pw-bravo-2026")
        await page.get_by_role("link", name="群发计划").click()
        await expect(page.get_by_role("heading", name="微信公众号群发计划")).to_be_visible()
        await expect(page.locator("h3", has_text="未能纳入")).to_have_count(1)
        await shot(page, site, "inbox-06-mass-send")
        assert dialogs == []  # no injected script ran anywhere
    finally:
        await sender.stop()
