"""Every console page, as each role finds it (issue 28): the sandbox's demo data approved for
the site's channels, two messages from the public (one answered), a
returned draft; then each role's account follows every console link from its first page. No
visible text may carry a `snake_case` identifier, a `user:`/`system:` actor prefix or English
error text, no page may fail, and no title cell may be narrower than four Chinese characters,
at a laptop's width and a phone's."""

from __future__ import annotations

import re
from collections import deque
from urllib.parse import urldefrag, urlsplit

import pytest
from playwright.async_api import Browser, Page, expect

from bot import users
from bot.items import lifecycle
from bot.items.schemas import ItemCreate
from bot.models import Comment
from bot.sandbox import demo
from tests.browser.conftest import Site

pytestmark = pytest.mark.browser

ROLES = ("editor", "reviewer", "moderator", "admin", "auditor")
MAX_PAGES = 70  # per role and width: every page kind, not every page of every list
SNAKE = re.compile(r"(?<![\w./:-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w.(/-])")
PREFIX = re.compile(r"\b(?:user|system|token|cli|source):[\w-]")
ENGLISH = re.compile(
    r"Not Found|Method Not Allowed|Internal Server Error|Bad Request|Forbidden|Traceback|"
    r"Exception|Unauthorized|Request Entity Too Large|Maximum request body"
)
CHECKS = ((SNAKE, "identifier"), (PREFIX, "actor prefix"), (ENGLISH, "English"))
# Links that change something or leave the pages: never followed.
SKIPPED = ("/console/logout", "/console/static/", ".csv")
# The width of each title cell (a header naming 标题, or a cell marked title-cell) in units of
# its font size: a Chinese character is one.
TITLE_WIDTHS = """() => {
  const out = [];
  for (const table of document.querySelectorAll('main table')) {
    const heads = Array.from(table.querySelectorAll('thead th'));
    const cols = heads.map((th, i) => th.textContent.includes('标题') ? i : -1).filter(i => i >= 0);
    for (const row of table.querySelectorAll('tbody tr')) {
      const cells = Array.from(row.children);
      cells.forEach((cell, i) => {
        if (!cols.includes(i) && !cell.classList.contains('title-cell')) return;
        if (!cell.textContent.trim()) return;
        const em = parseFloat(getComputedStyle(cell).fontSize);
        out.push([cell.textContent.trim().slice(0, 20), cell.getBoundingClientRect().width / em]);
      });
    }
  }
  return out;
}"""


async def seed(site: Site, browser: Browser) -> dict[str, str]:
    """The demo's accounts (their passwords) and items, approved; two messages from the
    public; a returned draft with a phone number."""
    seeded = await demo.seed(site.config)
    assert seeded.approved, seeded.refused
    editor = await users.actor_for_user("editor")
    draft = await lifecycle.create_item(
        ItemCreate.model_validate(
            {"kind": "notice", "title": "关于调整咨询电话的通知", "body": "咨询：13912345678。"}
        ),
        editor,
        site.config,
    )
    await lifecycle.submit(draft.id, editor, site.config)

    public = await browser.new_page(locale="zh-CN")
    base = site.config.app.public_base_url.rstrip("/")
    await public.route(
        f"{base}/**", lambda route: route.continue_(url=site.url(route.request.url[len(base) :]))
    )
    for text in (
        "请问政府信息公开申请一般多久答复？需要提交哪些材料？",
        "建议在网站上增加政策文件的图解和视频解读，方便群众理解。",
    ):
        await public.goto(site.url("/feedback"))
        await public.locator("#content").fill(text)
        await public.get_by_role("button", name="提交留言").click()
        await expect(public.locator("#query-code")).to_be_visible()
    await public.close()
    return seeded.passwords


async def log_in(page: Page, site: Site, username: str, password: str) -> None:
    await page.goto(site.url("/console/login"))
    await page.get_by_label("用户名").fill(username)
    await page.get_by_label("密码").fill(password)
    await page.get_by_role("button", name="登录").click()
    await page.wait_for_url(re.compile(r"/console/(?!login)"))


async def answer_one(page: Page, site: Site) -> None:
    """The moderator answers the first message (a reply row, its audit events)."""
    first = await Comment.filter(channel="feed").order_by("id").first()
    assert first is not None
    await page.goto(site.url(f"/console/inbox/{first.id}"))
    await page.get_by_label(re.compile("答复内容")).fill("您好，一般在20个工作日内答复。")
    await page.get_by_role("button", name="发送答复").click()
    await page.get_by_role("button", name="确认发送").click()
    await expect(page.get_by_text("答复已排入发送队列")).to_be_visible()


async def crawl(page: Page, site: Site, role: str) -> list[str]:
    """Follow every console link from the role's first page; the problems found."""
    problems: list[str] = []
    start = urlsplit(page.url)
    queue = deque([start.path + (f"?{start.query}" if start.query else "")])
    seen: set[str] = set()
    while queue and len(seen) < MAX_PAGES:
        path = queue.popleft()
        if path in seen:
            continue
        seen.add(path)
        resp = await page.goto(site.url(path))
        where = f"{role} {path}"
        if resp is None or resp.status >= 400:
            problems.append(f"{where}: HTTP {resp.status if resp else '—'}")
            continue
        text = await page.locator("body").inner_text()
        for pattern, what in CHECKS:
            for found in sorted(set(pattern.findall(text)))[:5]:
                problems.append(f"{where}: {what} {found!r}")
        for title, width in await page.evaluate(TITLE_WIDTHS):
            if width < 4:
                problems.append(f"{where}: title cell {title!r} is {width:.1f} characters wide")
        for href in await page.eval_on_selector_all(
            "a[href^='/console/']", "links => links.map(a => a.getAttribute('href'))"
        ):
            link = urldefrag(href)[0]
            if link and not any(skip in link for skip in SKIPPED) and link not in seen:
                queue.append(link)
    assert len(seen) >= 3, f"{role} reached only {sorted(seen)}"
    return problems


@pytest.mark.parametrize("width", [1280, 375])
async def test_every_console_page_speaks_staff_language_for_every_role(
    browser: Browser, site: Site, width: int
) -> None:
    passwords = await seed(site, browser)
    problems: list[str] = []
    for role in ROLES:
        context = await browser.new_context(
            viewport={"width": width, "height": 900}, locale="zh-CN"
        )
        page = await context.new_page()
        await log_in(page, site, role, passwords[role])
        if role == "moderator":
            await answer_one(page, site)
            await page.goto(site.url("/console/inbox"))
        if role == "auditor":  # the audit log reads as sentences, people by their names
            log = page.locator("main")
            await expect(log).to_contain_text(
                f"办公室 审核（reviewer） 批准发布了《{demo.POLICY_TITLE}》"
            )
            await expect(log).to_contain_text(
                "宣传处 编辑（editor） 将《关于调整咨询电话的通知》提交审核"
            )
        problems += await crawl(page, site, role)
        await context.close()
    assert not problems, "\n".join(problems)
