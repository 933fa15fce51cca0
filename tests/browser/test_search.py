"""一网通查 and 一网通答 in headless Chromium (issue 24 must-show): a visitor searches for a word
of an item's body from the home page and finds the item; asks a question the FAQ answers and
sees the answer first, then opens the 留言 form with the question in it; a retracted item is
never found; axe-core finds no serious or critical violation on the search and FAQ pages, in
the standard and the 长辈版 view, and the results fit a phone's width."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect

from bot.items import lifecycle
from bot.items.schemas import ItemCreate
from bot.models import Faq, Item, Kind
from bot.outbox.channel_set import retract_support
from bot.search import index
from tests.browser.axe import violations
from tests.browser.conftest import Site
from tests.browser.test_console_flow import shot
from tests.web.conftest import run_dispatcher

pytestmark = pytest.mark.browser

BODY = (
    "各区金融工作局：\n\n为规范融资担保机构经营，现就小微企业贷款担保费率有关事项通知如下。"
    "\n\n一、担保费率原则上不超过百分之一点五。"
)
FAQ_ANSWER = "可以通过本网站「依申请公开」栏目在线提交申请表，也可以到办公室当面提交书面申请。"


async def published(site: Site, title: str, body: str = BODY) -> int:
    """A notice taken through the lifecycle and the dispatcher onto the website; its id."""
    staff, config = site.staff, site.config
    item = await lifecycle.create_item(
        ItemCreate(kind=Kind.NOTICE, title=title, body=body, office="办公室"), staff.editor, config
    )
    await lifecycle.submit(item.id, staff.editor, config)
    await lifecycle.approve(item.id, staff.reviewer, config)
    await run_dispatcher(config)
    assert (await Item.get(id=item.id)).status == "published"
    return item.id


async def with_faq() -> int:
    faq = await Faq.create(
        question="如何申请政府信息公开？", answer=FAQ_ANSWER, keywords=["依申请公开"]
    )
    await index.reindex()
    return faq.id


async def search_from_home(page: Page, site: Site, words: str) -> None:
    await page.goto(site.url("/"))
    await page.get_by_role("search", name="一网通查").get_by_role("searchbox").fill(words)
    await page.get_by_role("search", name="一网通查").get_by_role("button", name="搜索").click()
    await expect(page.get_by_role("heading", name="搜索结果")).to_be_visible()


async def test_a_visitor_finds_an_item_by_a_word_of_its_body(browser: Browser, site: Site) -> None:
    item_id = await published(site, "关于降低小微企业融资担保费率的通知")
    await published(site, "关于开展政务公开培训的通知", "请各处室派员参加培训。")
    page = await browser.new_page(locale="zh-CN")
    await search_from_home(page, site, "担保费率")
    await expect(page.locator("#result-count")).to_have_text("共 1 条结果。")
    results = page.get_by_role("region", name="搜索结果")
    await expect(results.locator("mark").first).to_have_text("担保费率")
    await shot(page, site, "search-results")
    await results.get_by_role("link", name="关于降低小微企业融资担保费率的通知").click()
    await expect(page).to_have_url(site.url(f"/items/{item_id}"))
    # From any page, the header's box searches too.
    header = page.get_by_role("search", name="站内搜索")
    await header.get_by_role("searchbox").fill("政务公开培训")
    await header.get_by_role("button", name="搜索").click()
    await expect(page.locator("#result-count")).to_have_text("共 1 条结果。")


async def test_a_question_the_faq_answers_is_answered_first(browser: Browser, site: Site) -> None:
    await published(site, "政府信息公开工作要点", "做好政府信息公开和依申请公开工作。")
    faq_id = await with_faq()
    page = await browser.new_page(locale="zh-CN")
    await search_from_home(page, site, "怎么申请政府信息公开？")
    answer = page.get_by_role("region", name="一网通答")
    await expect(answer).to_be_visible()
    await expect(answer).to_contain_text("在线提交申请表")
    await expect(answer).to_contain_text("匹配度")
    # First: the answer comes before the results in the page's order.
    first = await page.evaluate(
        "() => { const a = document.querySelector('section.answer');"
        " const r = document.querySelector('section.results');"
        " return !!(a.compareDocumentPosition(r) & Node.DOCUMENT_POSITION_FOLLOWING); }"
    )
    assert first
    await shot(page, site, "search-answer")
    await answer.get_by_role("link", name="如何申请政府信息公开？").click()
    await expect(page).to_have_url(site.url(f"/faq#faq-{faq_id}"))
    await expect(page.locator(f"#faq-{faq_id}")).to_contain_text(FAQ_ANSWER)
    await page.go_back()
    await (
        page.get_by_role("region", name="一网通答")
        .get_by_role("link", name="没有解决？去留言")
        .click()
    )
    await expect(page.get_by_role("heading", name="网上留言")).to_be_visible()
    await expect(page.get_by_label("留言内容")).to_have_value("怎么申请政府信息公开？")


async def test_a_retracted_item_is_never_found(browser: Browser, site: Site) -> None:
    kept = await published(site, "关于降低小微企业融资担保费率的通知")
    gone = await published(site, "关于担保费率的补充通知")
    page = await browser.new_page(locale="zh-CN")
    await search_from_home(page, site, "担保费率")
    await expect(page.locator("#result-count")).to_have_text("共 2 条结果。")
    await lifecycle.retract(gone, site.staff.reviewer, "内容有误", retract_support(site.config))
    await run_dispatcher(site.config)
    await page.reload()
    await expect(page.locator("#result-count")).to_have_text("共 1 条结果。")
    results = page.get_by_role("region", name="搜索结果")
    await expect(results.get_by_role("link", name="关于担保费率的补充通知")).to_have_count(0)
    await expect(page.locator(f'a[href$="/items/{gone}"]')).to_have_count(0)
    await expect(page.locator(f'a[href$="/items/{kept}"]')).to_have_count(1)
    await search_from_home(page, site, "补充通知")
    await expect(page.locator(f'a[href$="/items/{gone}"]')).to_have_count(0)


async def test_no_serious_or_critical_violation_on_the_search_pages(
    browser: Browser, site: Site
) -> None:
    await published(site, "关于降低小微企业融资担保费率的通知")
    await with_faq()
    context = await browser.new_context(bypass_csp=True, locale="zh-CN")
    page = await context.new_page()
    paths = (
        "/search",
        "/search?q=%E6%8B%85%E4%BF%9D%E8%B4%B9%E7%8E%87",  # 担保费率: results
        "/search?q=%E6%80%8E%E4%B9%88%E7%94%B3%E8%AF%B7%E6%94%BF%E5%BA%9C%E4%BF%A1%E6%81%AF"
        "%E5%85%AC%E5%BC%80%EF%BC%9F",  # 怎么申请政府信息公开？: the answer first
        "/search?q=%E4%B8%8D%E5%AD%98%E5%9C%A8%E7%9A%84%E8%AF%8D&year=abc",  # nothing, a note
        "/faq",
    )
    found: list[str] = []
    for elder in (False, True):
        if elder:
            await page.evaluate("() => localStorage.setItem('gongkai.elder', '1')")
        for path in paths:
            response = await page.goto(site.url(path))
            assert response is not None and response.status == 200, path
            found += [f"{'长辈版 ' if elder else ''}{path}: {v}" for v in await violations(page)]
    await context.close()
    assert found == [], "\n".join(found)


async def test_the_results_fit_a_phone(browser: Browser, site: Site) -> None:
    await published(site, "关于降低小微企业融资担保费率的通知")
    page = await browser.new_page(locale="zh-CN", viewport={"width": 375, "height": 800})
    await page.goto(site.url("/search?q=" + "担保费率" + "x" * 120))
    await expect(page.get_by_role("heading", name="搜索结果")).to_be_visible()
    wide = await page.evaluate("() => document.documentElement.scrollWidth")
    assert wide <= 375, wide
    await shot(page, site, "search-phone")
