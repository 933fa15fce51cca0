"""撤稿 in headless Chromium with JavaScript turned off: the first click only shows the page
that names the channels the item is on, and 确认撤稿 on it (a plain form) retracts the item;
axe-core finds no serious or critical violation on that page."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Page, expect

from bot.models import Item
from tests.browser.axe import violations
from tests.browser.conftest import Site
from tests.browser.test_accessibility import published_policy
from tests.browser.test_console_flow import log_in

pytestmark = pytest.mark.browser


async def ask_to_retract(page: Page, site: Site, item_id: int) -> None:
    await page.goto(site.url(f"/console/items/{item_id}"))
    await page.get_by_label("撤稿理由（必填）").fill("政策已调整，另行发布")
    await page.get_by_role("button", name="撤稿", exact=True).click()
    await expect(page.get_by_role("heading", name=re.compile("^确认撤稿"))).to_be_visible()


async def test_retract_without_scripts_asks_first_naming_the_channels_then_retracts(
    browser: Browser, site: Site
) -> None:
    policy_id, reading_id = await published_policy(site)
    context = await browser.new_context(java_script_enabled=False, locale="zh-CN")
    page = await context.new_page()
    await log_in(page, site, "bob", "Pw-bravo-2026")
    await ask_to_retract(page, site, policy_id)
    said = page.locator("[data-confirm=consequence]")
    await expect(said).to_contain_text("将从以下渠道撤下《上海市某局政务公开工作办法》：")
    await expect(said).to_contain_text(re.compile(r"网站（已发布 \d{4}-\d\d-\d\d \d\d:\d\d）"))
    await expect(said).to_contain_text("门户推送（已发布")
    await expect(said).to_contain_text("已撤下的内容无法恢复")
    assert (await Item.get(id=policy_id)).status == "published"  # nothing happened yet

    await page.get_by_role("link", name="取消").click()
    await expect(page).to_have_url(site.url(f"/console/items/{policy_id}"))
    assert (await Item.get(id=policy_id)).status == "published"

    await ask_to_retract(page, site, policy_id)
    await page.get_by_role("button", name="确认撤稿").click()
    await expect(page.get_by_text("已撤稿。", exact=True)).to_be_visible()
    assert (await Item.get(id=policy_id)).status == "retracted"
    assert (await Item.get(id=reading_id)).status == "published"
    await context.close()

    # The same page with scripts, for axe-core (the console's CSP bypassed for it).
    context = await browser.new_context(bypass_csp=True, locale="zh-CN")
    page = await context.new_page()
    await log_in(page, site, "bob", "Pw-bravo-2026")
    await ask_to_retract(page, site, reading_id)
    assert await violations(page) == []
    await context.close()
