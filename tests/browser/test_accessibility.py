"""Accessibility in headless Chromium (GB/T 37668; 适老化): axe-core finds no violation of
serious or critical impact on the public pages a visitor reads and the console pages staff
start from, in the standard and the 长辈版 view."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Page, expect

from bot.items import lifecycle
from bot.items.schemas import ItemCreate
from bot.models import Item
from tests.browser.axe import violations
from tests.browser.conftest import Site
from tests.browser.test_console_flow import log_in, log_out, shot
from tests.web.conftest import run_dispatcher

pytestmark = pytest.mark.browser


async def published_policy(site: Site) -> tuple[int, int]:
    """A policy and its interpretation, published on the website; their ids."""
    staff, config = site.staff, site.config
    policy = await lifecycle.create_item(
        ItemCreate.model_validate(
            {
                "kind": "policy",
                "title": "上海市某局政务公开工作办法",
                "body": "## 第一章 总则\n\n第一条 为规范本局政务公开工作，制定本办法。",
                "office": "办公室",
                "doc_number": "沪某〔2026〕1号",
                "written_on": "2026-11-30",
                "topic": "综合政务",
            }
        ),
        staff.editor,
        config,
    )
    reading = await lifecycle.create_item(
        ItemCreate.model_validate(
            {
                "kind": "interpretation",
                "title": "《上海市某局政务公开工作办法》解读",
                "body": "本办法明确了主动公开的范围和程序，回应社会关切。",
                "related_id": policy.id,
                "interpretation_forms": ["图解"],
            }
        ),
        staff.editor,
        config,
    )
    await lifecycle.submit(reading.id, staff.editor, config)
    await lifecycle.submit(policy.id, staff.editor, config)
    await lifecycle.approve(policy.id, staff.reviewer, config)
    await run_dispatcher(config)
    items = await Item.filter(id__in=[policy.id, reading.id])
    assert [i.status for i in items] == ["published", "published"]
    return policy.id, reading.id


async def check(page: Page, url: str) -> list[str]:
    response = await page.goto(url)
    assert response is not None and response.status < 400, url
    return [f"{url}: {v}" for v in await violations(page)]


async def font_px(page: Page, selector: str) -> float:
    size = await page.eval_on_selector(selector, "e => getComputedStyle(e).fontSize")
    return float(size.removesuffix("px"))


async def test_a_visitor_reads_a_policy_and_its_interpretation_from_home_in_the_elder_view(
    browser: Browser, site: Site
) -> None:
    policy_id, reading_id = await published_policy(site)
    page = await browser.new_page(locale="zh-CN")
    await page.goto(site.url("/"))
    column = site.config.columns["policy"].name
    await page.get_by_role("navigation", name="栏目导航").get_by_role("link", name=column).click()
    await expect(page).to_have_url(site.url("/columns/policy"))
    await page.get_by_role("link", name="上海市某局政务公开工作办法").first.click()
    await expect(page).to_have_url(site.url(f"/items/{policy_id}"))
    table = page.get_by_role("table", name="文件信息")
    for label, value in (("索引号", "GK-"), ("主题分类", "综合政务"), ("成文日期", "2026-11-30")):
        row = table.get_by_role("row", name=re.compile(label))
        await expect(row).to_contain_text(value)
    await page.get_by_role("link", name="《上海市某局政务公开工作办法》解读").click()
    await expect(page).to_have_url(site.url(f"/items/{reading_id}"))
    # 长辈版: switched in the browser, remembered on the next page, switched back.
    assert await font_px(page, "body") < 18
    toggle = page.get_by_role("button", name="长辈版")
    await toggle.click()
    await expect(toggle).to_have_attribute("aria-pressed", "true")
    assert await font_px(page, "body") >= 18
    await page.goto(site.url("/"))
    assert await font_px(page, "body") >= 18
    await shot(page, site, "elder-home")
    await page.get_by_role("button", name="长辈版").click()
    assert await font_px(page, "body") < 18


async def test_no_serious_or_critical_violation_on_public_and_console_pages(
    browser: Browser, site: Site
) -> None:
    policy_id, _ = await published_policy(site)
    context = await browser.new_context(bypass_csp=True, locale="zh-CN")
    page = await context.new_page()
    found: list[str] = []
    public = ("/", "/columns/policy", f"/items/{policy_id}", "/qa", "/feedback", "/sitemap")
    for path in public:
        found += await check(page, site.url(path))
    await page.evaluate("() => localStorage.setItem('gongkai.elder', '1')")
    for path in public:
        found += [f"长辈版 {v}" for v in await check(page, site.url(path))]
    await page.evaluate("() => localStorage.removeItem('gongkai.elder')")
    found += await check(page, site.url("/console/login"))
    await log_in(page, site, "alice", "Pw-alpha-2026")
    for path in (
        "/console/",
        f"/console/items/{policy_id}",
        "/console/items/new",
        "/console/calendar",
        "/console/deliveries",
        "/console/dashboard",
        "/console/password",
    ):
        found += await check(page, site.url(path))
    await log_out(page)
    await log_in(page, site, "root", "Pw-romeo-2026")
    for path in ("/console/users", f"/console/users/{site.staff.editor.user_id}", "/console/inbox"):
        found += await check(page, site.url(path))
    await context.close()
    assert found == [], "\n".join(found)
