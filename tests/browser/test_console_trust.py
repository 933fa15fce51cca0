"""What staff meet in a real browser when things go wrong (issue 28): text pasted over the
size limit is neither sent nor lost, the limit is said in Chinese, and the local copy comes
back after a failed save and is gone after logout."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.browser.conftest import Site
from tests.browser.test_console_flow import log_in, log_out, shot

pytestmark = pytest.mark.browser

TEN_MB = 10 * 1024 * 1024


async def test_a_10_mb_paste_keeps_the_text_and_says_the_limit_in_chinese(
    browser: Browser, site: Site
) -> None:
    page = await browser.new_page(viewport={"width": 1366, "height": 860}, locale="zh-CN")
    await log_in(page, site, "alice", "Pw-alpha-2026")
    await page.goto(site.url("/console/items/new?kind=notice"))
    await page.get_by_label("标题（必填）").fill("关于超长正文的通知")
    body = page.get_by_label("正文", exact=True)
    # A paste: the value set at once, then the input event the browser fires.
    await body.evaluate(
        "(el, n) => { el.value = '长'.repeat(n); el.dispatchEvent(new Event('input', "
        "{bubbles: true})); }",
        TEN_MB // 3,
    )
    await page.get_by_role("button", name="保存草稿").click()
    note = page.locator(".draft-note")
    await expect(note).to_contain_text("超过允许的 1 MB")
    await expect(note).to_contain_text("已保存在本机")
    await shot(page, site, "trust-01-over-limit")
    assert page.url.endswith("/console/items/new?kind=notice")  # nothing was sent
    assert await body.evaluate("el => el.value.length") == TEN_MB // 3

    # Leaving and coming back: the copy is offered and restores what was typed.
    await page.goto(site.url("/console/"))
    await page.goto(site.url("/console/items/new?kind=notice"))
    await expect(page.locator(".draft-note")).to_contain_text("未保存成功的内容")
    await page.get_by_role("button", name="恢复这些内容").click()
    await expect(page.get_by_label("标题（必填）")).to_have_value("关于超长正文的通知")
    assert await body.evaluate("el => el.value.length") == TEN_MB // 3

    # Cut down and saved: the server has it, so the copy is dropped.
    await body.fill("正文已删减。")
    await page.get_by_role("button", name="保存草稿").click()
    await expect(page.get_by_text("已创建稿件")).to_be_visible()
    assert (
        await page.evaluate(
            "() => Object.keys(localStorage).filter(k => k.startsWith('gongkai.draft.')).length"
        )
        == 0
    )

    # A copy left by an unsaved edit is dropped at logout.
    await page.goto(site.url("/console/items/new?kind=notice"))
    await page.get_by_label("标题（必填）").fill("未保存的标题")
    await page.wait_for_function(
        "() => Object.keys(localStorage).some(k => k.startsWith('gongkai.draft.'))"
    )
    await log_out(page)
    assert (
        await page.evaluate(
            "() => Object.keys(localStorage).filter(k => k.startsWith('gongkai.draft.')).length"
        )
        == 0
    )


async def test_a_draft_with_a_phone_number_shows_the_finding_before_submit(
    browser: Browser, site: Site
) -> None:
    page = await browser.new_page(viewport={"width": 1366, "height": 860}, locale="zh-CN")
    await log_in(page, site, "alice", "Pw-alpha-2026")
    await page.goto(site.url("/console/items/new?kind=notice"))
    await page.get_by_label("标题（必填）").fill("关于调整办公地点的通知")
    await page.get_by_label("正文", exact=True).fill(
        "即日起办公地点迁至新址。联系人：王明，手机 13912345678。"
    )
    live = page.locator("#live-findings")
    await expect(live).to_contain_text("13912345678")  # while writing, before any save
    await expect(live).to_contain_text("阻断")
    await shot(page, site, "trust-02-findings-while-writing")
    await page.get_by_role("button", name="保存草稿").click()
    await expect(page.get_by_text("已创建稿件")).to_be_visible()
    # The saved draft's page says the same, before it is submitted.
    findings = page.locator(".finding")
    await expect(findings.first).to_contain_text("手机")
    await expect(page.get_by_text("没有预审提示")).to_have_count(0)


async def test_the_feedback_text_survives_leaving_the_form_and_is_dropped_once_sent(
    browser: Browser, site: Site
) -> None:
    page = await browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
    await page.goto(site.url("/feedback"))
    text = "请问政府信息公开申请的答复期限是多少个工作日？"
    await page.locator("#content").fill(text)
    await page.goto(site.url("/"))  # a failed submission, a closed form: the text is gone…
    await page.goto(site.url("/feedback"))
    await expect(page.locator("#content")).to_have_value(text)  # …and comes back
    await expect(page.get_by_text("已恢复您上次填写但未提交成功的留言内容")).to_be_visible()
    await page.get_by_role("button", name="提交留言").click()
    await expect(page.locator("#query-code")).to_be_visible()
    kept = await page.evaluate("() => sessionStorage.getItem('gongkai.feedback.content')")
    assert kept is None
