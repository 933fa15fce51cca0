"""选登 (bot/inbox/qa.py) and the public Q&A page: the preview removes personal data, selecting
publishes on /qa (and its Atom feed) with an audit event, withdrawing takes it off again, and
what must never be published cannot be selected."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import feedparser
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot import db, users
from bot.actors import Actor
from bot.config import Config
from bot.inbox import ops as inbox_ops
from bot.inbox import qa
from bot.inbox.ingest import Inbox
from bot.inbox.replies import ReplySender
from bot.items.lifecycle import NotPermitted
from bot.models import AuditEvent, Comment, QaEntry
from bot.outbox.channel_set import build_channels
from bot.web.app import create_app
from channels.base import IncomingComment
from tests.conftest import add_test_user, make_config
from tests.web.conftest import SiteClient

Client = TestClient[web.Request, web.Application]
ID_CARD = "11010519491231002X"  # valid check digit (GB 11643)
ID_TYPO = "110105194912310021"  # same with a wrong check digit: still a person's number
PHONE = "13800138000"
XSS = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


@pytest.fixture
async def qa_config(sqlite_url: str) -> AsyncIterator[Config]:
    cfg = make_config(sqlite_url, inbox={"form": {"qa_per_page": 2}})
    await db.init(cfg, check_schema=False)
    await db.upgrade()
    yield cfg
    await db.close()


@pytest.fixture
async def site(qa_config: Config) -> AsyncIterator[Client]:
    async with SiteClient(TestServer(create_app(qa_config), host="127.0.0.1")) as client:
        yield client


@pytest.fixture
async def mod(qa_config: Config) -> Actor:
    await add_test_user("mia", ["moderator"], "Pw-lima-2026", "system:test", office="办公室")
    return await users.actor_for_user("mia")


async def comment(config: Config, text: str) -> Comment:
    incoming = IncomingComment(
        channel="feed",
        remote_id=uuid.uuid4().hex,
        text=text,
        received_at=datetime.now(UTC),
        kind="form",
        author_ref=f"feed:{uuid.uuid4().hex}",
        reply_ref={"type": "query_code"},
    )
    return (await Inbox(config).ingest(incoming)).comment


async def answered(config: Config, mod: Actor, text: str, reply: str) -> Comment:
    """A comment answered the way it happens in production: queued, sent by the sender."""
    c = await comment(config, text)
    await inbox_ops.send_reply(c.id, mod, text=reply)
    assert await ReplySender(config, build_channels(config)).run_until_idle() == 1
    return await Comment.get(id=c.id)


def test_scrub_masks_valid_and_mistyped_id_numbers_phones_and_long_digit_runs() -> None:
    out = qa.scrub(f"身份证{ID_CARD}，又写成{ID_TYPO}，电话{PHONE}，座机021-6123 4567-8")
    assert ID_CARD not in out.text and ID_TYPO not in out.text and PHONE not in out.text
    assert not re.search(r"\d{11}", out.text)
    assert "138****8000" in out.text
    assert {"居民身份证号码", "手机号码", "长数字串"} <= set(out.removed)
    assert qa.scrub("2021年5号文件，第3条").text == "2021年5号文件，第3条"


async def test_preview_masks_an_id_card_and_a_phone_number_in_question_and_answer(
    qa_config: Config, mod: Actor
) -> None:
    c = await answered(
        qa_config,
        mod,
        f"我的身份证号{ID_CARD}，另一个证件{ID_TYPO}，电话{PHONE}，想查询公开申请进度。",
        "请拨打13912345678咨询，或携带身份证到窗口办理。",
    )
    preview = await qa.preview(c.id)
    for number in (ID_CARD, ID_TYPO, PHONE):
        assert number not in preview.question
    assert not re.search(r"\d{11}", preview.question + preview.answer)
    assert "13912345678" not in preview.answer and "139****5678" in preview.answer
    assert "手机号码" in preview.removed
    assert preview.comment_id == c.id and preview.category == c.category
    assert await QaEntry.all().count() == 0  # a preview publishes nothing


async def test_select_publishes_on_the_qa_page_and_withdraw_takes_it_off(
    qa_config: Config, mod: Actor, site: Client
) -> None:
    c = await answered(qa_config, mod, f"请问公开目录在哪里查询？{XSS}", f"在网站首页查询。{XSS}")
    entry = await qa.select(c.id, mod)
    assert (await Comment.get(id=c.id)).selected
    event = await AuditEvent.get(action="qa.select", target_id=str(entry.id))
    assert event.actor == "user:mia" and event.details["comment_id"] == c.id

    page = await (await site.get("/qa")).text()
    assert f"/qa/{entry.id}" in page and "请问公开目录在哪里查询？" in page
    assert "<script>" not in page and "&lt;script&gt;" in page
    resp = await site.get(f"/qa/{entry.id}")
    page = await resp.text()
    assert resp.status == 200 and "在网站首页查询。" in page and "<img" not in page
    feed = feedparser.parse(await (await site.get("/qa.atom")).read())
    assert not feed.bozo and [e.link for e in feed.entries] == [
        f"{qa_config.app.public_base_url}/qa/{entry.id}"
    ]

    with pytest.raises(qa.InvalidText, match="原因"):
        await qa.withdraw(entry.id, mod, "  ")
    await qa.withdraw(entry.id, mod, "答复内容已过时")
    assert not (await Comment.get(id=c.id)).selected
    event = await AuditEvent.get(action="qa.withdraw", target_id=str(entry.id))
    assert event.details["reason"] == "答复内容已过时"
    assert f"/qa/{entry.id}" not in await (await site.get("/qa")).text()
    assert (await site.get(f"/qa/{entry.id}")).status == 410
    assert feedparser.parse(await (await site.get("/qa.atom")).read()).entries == []
    with pytest.raises(qa.AlreadyWithdrawn):
        await qa.withdraw(entry.id, mod, "再撤一次")

    again = await qa.select(c.id, mod, answer="在网站首页「信息公开」栏目查询。")
    assert again.id == entry.id and again.withdrawn_at is None
    assert "「信息公开」栏目" in await (await site.get(f"/qa/{entry.id}")).text()


async def test_the_moderators_edited_text_is_masked_again(qa_config: Config, mod: Actor) -> None:
    c = await answered(qa_config, mod, "请问如何申请政府信息公开？", "可以在线申请。")
    entry = await qa.select(
        c.id,
        mod,
        question=f"市民（身份证{ID_CARD}，电话{PHONE}）问：如何申请政府信息公开？",
        answer=f"可以在线申请，或致电 {PHONE[:3]} {PHONE[3:7]} {PHONE[7:]}。",
    )
    stored = await QaEntry.get(id=entry.id)
    assert ID_CARD not in stored.question and PHONE not in stored.question
    assert not re.search(r"\d[\d ]{9,}\d", stored.answer)
    with pytest.raises(qa.InvalidText, match="「问题」不能为空"):
        await qa.select(c.id, mod, question="   ")


async def test_spam_unanswered_petition_hidden_or_already_selected_comments_cannot_be_selected(
    qa_config: Config, mod: Actor
) -> None:
    unanswered = await comment(qa_config, "请问什么时候公布年度报告？")
    with pytest.raises(qa.NotSelectable, match="尚未答复"):
        await qa.preview(unanswered.id)
    with pytest.raises(qa.NotSelectable):
        await qa.select(unanswered.id, mod)

    spam = await answered(qa_config, mod, "请问年度报告在哪里看？", "在网站查看。")
    await inbox_ops.mark_spam(spam.id, mod, reason="广告")
    with pytest.raises(qa.NotSelectable, match="垃圾信息"):
        await qa.select(spam.id, mod)

    petition = await answered(qa_config, mod, "请问政策何时出台？", "正在研究。")
    await Comment.filter(id=petition.id).update(status="petition")
    with pytest.raises(qa.NotSelectable, match="信访"):
        await qa.select(petition.id, mod)

    hidden = await answered(qa_config, mod, "请问公开指南在哪？", "网站首页。")
    await Comment.filter(id=hidden.id).update(hidden=True)
    with pytest.raises(qa.NotSelectable, match="隐藏"):
        await qa.select(hidden.id, mod)

    ok = await answered(qa_config, mod, "请问申请表在哪下载？", "网站下载。")
    await qa.select(ok.id, mod)
    with pytest.raises(qa.AlreadySelected):
        await qa.select(ok.id, mod)
    with pytest.raises(qa.CommentNotFound):
        await qa.select(999_999, mod)
    assert await QaEntry.all().count() == 1

    await add_test_user("ed", ["editor"], "Pw-echo-2026", "system:test")
    with pytest.raises(NotPermitted):
        await qa.select(ok.id, await users.actor_for_user("ed"))


async def test_qa_page_is_newest_first_paginated_and_filtered_by_category(
    qa_config: Config, mod: Actor, site: Client
) -> None:
    ids = []
    for n, category in enumerate(("咨询", "建议", "咨询")):
        c = await answered(qa_config, mod, f"第{n}个问题：公开目录{n}在哪？", f"第{n}个答复。")
        await Comment.filter(id=c.id).update(category=category)
        ids.append((await qa.select(c.id, mod)).id)

    first = await (await site.get("/qa")).text()
    assert first.index(f"/qa/{ids[2]}") < first.index(f"/qa/{ids[1]}")
    assert f"/qa/{ids[0]}" not in first and "page=2" in first
    second = await (await site.get("/qa?page=2")).text()
    assert f"/qa/{ids[0]}" in second and f"/qa/{ids[2]}" not in second
    assert (await site.get("/qa?page=3")).status == 404

    advice = await (await site.get("/qa", params={"category": "建议"})).text()
    assert f"/qa/{ids[1]}" in advice
    assert f"/qa/{ids[0]}" not in advice and f"/qa/{ids[2]}" not in advice
    assert (await site.get("/qa/12345")).status == 404


async def test_select_and_withdraw_work_on_each_database_backend(any_config: Config) -> None:
    await add_test_user("mia", ["moderator"], "Pw-lima-2026", "system:test")
    mod = await users.actor_for_user("mia")
    c = await answered(any_config, mod, f"电话{PHONE}，请问公开目录在哪？", "在网站首页。")
    entry = await qa.select(c.id, mod)
    assert PHONE not in entry.question
    assert [e.id for e in (await qa.published(1, 10))[0]] == [entry.id]
    await qa.withdraw(entry.id, mod, "不再适用")
    assert (await qa.published(1, 10)) == ([], 0)
    assert (await qa.select(c.id, mod)).id == entry.id
