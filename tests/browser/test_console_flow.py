"""The console in headless Chromium against the running site: an editor writes a policy
without an interpretation and sees it returned (退文) with the finding; adds the
interpretation and resubmits; a reviewer approves; the deliveries reach 已完成 on every
enabled channel (website feed and webhook, received by the simulator) and the item 已发布.
Every page is screenshotted under tests/browser/screenshots/."""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import Browser, Page, expect

from bot import users
from bot.models import Delivery, Item
from tests.browser.conftest import Site

pytestmark = pytest.mark.browser

POLICY_BODY = (
    "## 第一章 总则\n\n第一条 为规范本局政务公开工作，制定本办法。\n\n"
    "第二条 本办法适用于本局各处室的政务公开工作。"
)
INTERP_BODY = (
    "本办法出台的背景是进一步规范政务公开。我们重点说明了适用范围：各处室在日常工作中应当"
    "主动公开政策文件，并同步做好**政策解读**，回应社会关切。"
)


async def shot(page: Page, site: Site, name: str) -> None:
    path = site.shots / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


async def log_in(page: Page, site: Site, username: str, password: str) -> None:
    await page.goto(site.url("/console/"))
    await expect(page).to_have_url(re.compile(r"/console/login\?next="))
    await page.get_by_label("用户名").fill(username)
    await page.get_by_label("密码").fill(password)
    await page.get_by_role("button", name="登录").click()
    await expect(page.get_by_role("heading", name="发布队列")).to_be_visible()


async def log_out(page: Page) -> None:
    await page.get_by_role("button", name="退出登录").click()
    await expect(page.get_by_role("heading", name="登录公开工作台")).to_be_visible()


async def test_policy_returned_then_approved_with_its_interpretation_and_delivered(
    browser: Browser, site: Site
) -> None:
    page = await browser.new_page(viewport={"width": 1366, "height": 860}, locale="zh-CN")
    await page.goto(site.url("/console/login"))
    await shot(page, site, "01-login")
    await log_in(page, site, "alice", "Pw-alpha-2026")

    # A policy without an interpretation: returned with the finding shown.
    await page.get_by_role("link", name="新建稿件").click()
    await page.get_by_role("link", name="政策文件").click()
    await page.get_by_label("标题（必填）").fill("上海市地方金融监督管理局政务公开工作办法")
    await page.get_by_label("文号").fill("沪金管〔2021〕3号")
    await page.get_by_label("发布处室").fill("办公室")
    await page.get_by_label("成文日期").fill("2021-03-01")  # 主动公开目录 metadata
    await page.get_by_label("主题分类").select_option("综合政务")
    await page.get_by_label("正文", exact=True).fill(POLICY_BODY)
    await expect(page.locator("#body-preview h2")).to_have_text("第一章 总则")  # live preview
    await shot(page, site, "02-editor-policy")
    await page.get_by_role("button", name="保存并提交审核").click()
    await expect(page.get_by_text("缺少政策解读稿件").first).to_be_visible()
    await expect(page.locator(".badge.st-returned")).to_have_text("已退文")
    await shot(page, site, "03-policy-returned")
    policy_id = int(page.url.rsplit("/", 1)[1])

    # The interpretation, linked to the policy from its page.
    await page.get_by_role("link", name="新建本文件的政策解读").click()
    await expect(page.get_by_label("所解读的政策文件")).to_have_value(str(policy_id))
    await page.get_by_label("标题（必填）").fill("《政务公开工作办法》政策解读")
    await page.get_by_label("图解").check()
    await page.get_by_label("正文", exact=True).fill(INTERP_BODY)
    await expect(page.locator("#body-preview strong")).to_have_text("政策解读")
    await shot(page, site, "04-editor-interpretation")
    await page.get_by_role("button", name="保存并提交审核").click()
    await expect(page.get_by_text("预审通过")).to_be_visible()

    # Resubmit the policy.
    await page.goto(site.url(f"/console/items/{policy_id}"))
    await page.get_by_role("button", name="提交审核").click()
    await expect(page.get_by_text("已提交，预审通过，等待审核。")).to_be_visible()
    await expect(page.locator(".badge.st-in_review").first).to_have_text("待审核")
    await shot(page, site, "05-policy-in-review")
    await log_out(page)

    # A reviewer approves; the deliveries complete on every enabled channel.
    await log_in(page, site, "bob", "Pw-bravo-2026")
    await shot(page, site, "06-queue-reviewer")
    await page.get_by_role("link", name="上海市地方金融监督管理局政务公开工作办法").click()
    # 三同步: the policy and its interpretation are decided together on one page.
    await page.get_by_role("link", name="整组审核（政策文件及其解读）").click()
    await expect(page.get_by_role("heading", name="《政务公开工作办法》政策解读")).to_be_visible()
    await shot(page, site, "06b-package-review")
    await page.get_by_role("button", name="批准政策文件及 1 篇解读").click()
    await expect(page.get_by_text("及其 1 篇政策解读，各渠道的投递已生成")).to_be_visible()
    await page.goto(site.url(f"/console/items/{policy_id}"))
    for _ in range(60):
        await page.reload()
        if await page.locator(".badge.st-published").count():
            break
        await asyncio.sleep(0.25)
    await expect(page.locator("p > .badge").first).to_have_text("已发布")
    rows = page.locator("table tbody tr")
    await expect(rows).to_have_count(2)
    for channel in ("网站", "门户推送"):
        row = rows.filter(has_text=channel)
        await expect(row.locator(".badge")).to_have_text("已完成")
    await shot(page, site, "07-policy-published")

    for item_id in (policy_id, policy_id + 1):
        assert (await Item.get(id=item_id)).status == "published"
        assert {d.status for d in await Delivery.filter(item_id=item_id)} == {"done"}
    assert sorted(r["item_id"] for r in site.ledger.received) == [policy_id, policy_id + 1]

    await page.goto(site.url("/console/"))
    await expect(page.get_by_text("门户推送：已完成").first).to_be_visible()
    await shot(page, site, "08-queue-published")
    await page.goto(site.url("/console/deliveries"))
    await shot(page, site, "09-deliveries")
    await page.goto(site.url(f"/console/items/{policy_id}/history"))
    await expect(page.get_by_role("heading", name="审计记录", exact=True)).to_be_visible()
    await shot(page, site, "10-history")
    await page.goto(site.url(f"/console/items/{policy_id}/preview"))
    await expect(page.get_by_role("heading", name="门户推送", exact=True)).to_be_visible()
    await shot(page, site, "11-previews")
    await page.goto(site.url("/console/calendar"))
    await shot(page, site, "12-calendar")
    await log_out(page)

    # 三员分立: the admin reads the audit log only with the duties merged (a small office).
    await users.set_roles("root", ["admin", "auditor"], "system:test", separate_duties=False)
    await log_in(page, site, "root", "Pw-romeo-2026")
    await page.goto(site.url("/console/audit"))
    await expect(page.get_by_text("哈希链校验通过")).to_be_visible()
    await shot(page, site, "13-audit")

    # A narrow window: the same pages still fit.
    await page.set_viewport_size({"width": 400, "height": 800})
    await page.goto(site.url("/console/"))
    await shot(page, site, "14-queue-narrow")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400 + 1
    await page.goto(site.url(f"/console/items/{policy_id}"))
    await shot(page, site, "15-item-narrow")


async def test_keyboard_alone_logs_in_and_reaches_the_skip_link_with_visible_focus(
    browser: Browser, site: Site
) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    await page.goto(site.url("/console/login"))
    await page.get_by_label("用户名").focus()  # the field has autofocus; do not race it
    outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    await page.keyboard.type("alice")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "password"
    await page.keyboard.type("Pw-alpha-2026")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="发布队列")).to_be_visible()
    # On a page without autofocus, the first Tab reaches the skip link, which moves focus to
    # the main content.
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "跳到正文"
    assert await page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    await page.keyboard.press("Enter")
    assert await page.evaluate("document.activeElement.id") == "main"
