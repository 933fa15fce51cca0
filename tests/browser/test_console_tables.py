"""Console tables keep Chinese titles readable (issue 28): at a laptop's 1280 px and a phone's
375 px, no title or name cell is narrower than four characters; a table too wide for the
window scrolls sideways in its wrapper instead of squeezing its titles."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Browser, Page, expect

from bot.items import lifecycle
from bot.items.schemas import ItemCreate
from tests.browser.conftest import Site
from tests.browser.test_console_flow import shot
from tests.conftest import add_test_user

pytestmark = pytest.mark.browser

TITLES = (
    "关于进一步加强本市地方金融组织监督管理工作的通知",
    "上海市地方金融监督管理局关于开展2026年度小额贷款公司监管评级工作的通知",
    "关于公布第二批融资租赁公司名单的公告",
)
VIEWPORTS = ({"width": 1280, "height": 800}, {"width": 375, "height": 740})
MIN_CHARS = 4

# Each visible title / name cell (and calendar day) as [content width in characters, text].
MEASURE = """() => [...document.querySelectorAll(
    'td.title-cell, th.title-cell, td.name-cell, table.calendar td')]
  .filter(td => td.offsetParent !== null)
  .map(td => {
    const cs = getComputedStyle(td);
    const inner = td.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
    return [inner / parseFloat(cs.fontSize), td.textContent.trim().slice(0, 24)];
  })"""


async def log_in_as(page: Page, site: Site, username: str, password: str) -> None:
    await page.goto(site.url("/console/login"))
    await page.get_by_label("用户名").fill(username)
    await page.get_by_label("密码").fill(password)
    await page.get_by_role("button", name="登录").click()
    await expect(page).not_to_have_url(re.compile(r"/console/login"))


async def narrowest(page: Page, path: str) -> tuple[int, list[tuple[float, str]]]:
    await page.goto(path)
    cells = [(float(w), str(t)) for w, t in await page.evaluate(MEASURE)]
    return len(cells), [(w, t) for w, t in cells if w < MIN_CHARS - 0.05]


async def test_title_cells_stay_four_characters_wide_and_tables_scroll_instead(
    browser: Browser, site: Site
) -> None:
    await add_test_user("audra", ["auditor"], "Pw-audit-2026", "system:test")
    ids = []
    for title in TITLES:
        data = {"kind": "notice", "title": title, "body": "具体安排见附件。", "office": "办公室"}
        item = await lifecycle.create_item(
            ItemCreate.model_validate(data), site.staff.editor, site.config
        )
        await lifecycle.submit(item.id, site.staff.editor, site.config)
        await lifecycle.approve(item.id, site.staff.reviewer, site.config)
        ids.append(item.id)
    # One more, scheduled for later this month: the calendar shows its title.
    data = {"kind": "notice", "title": TITLES[0] + "（二）", "body": "正文", "office": "办公室"}
    later = await lifecycle.create_item(
        ItemCreate.model_validate(data), site.staff.editor, site.config
    )
    await lifecycle.schedule(later.id, site.staff.editor, datetime.now(UTC) + timedelta(hours=2))

    pages = {
        "carol": (
            "Pw-charlie-2026",
            ["/console/", "/console/deliveries", f"/console/items/{ids[1]}/history"],
        ),
        "root": ("Pw-romeo-2026", ["/console/users", "/console/calendar"]),
        "audra": ("Pw-audit-2026", ["/console/audit"]),
    }
    for viewport in VIEWPORTS:
        for username, (password, paths) in pages.items():
            page = await browser.new_page(viewport=viewport, locale="zh-CN")
            await log_in_as(page, site, username, password)
            for path in paths:
                count, narrow = await narrowest(page, site.url(path))
                assert count, f"{path}: no title cells at {viewport['width']} px"
                assert narrow == [], f"{path} at {viewport['width']} px: {narrow}"
            await page.close()

    # On a phone the queue scrolls sideways in its wrapper; the page itself does not.
    page = await browser.new_page(viewport=VIEWPORTS[1], locale="zh-CN")
    await log_in_as(page, site, "carol", "Pw-charlie-2026")
    await page.goto(site.url("/console/"))
    wrap = page.locator(".table-wrap").first
    assert await wrap.evaluate("el => el.scrollWidth > el.clientWidth")
    assert await wrap.evaluate("el => getComputedStyle(el).overflowX") == "auto"
    await shot(page, site, "tables-queue-375")
    await page.close()
