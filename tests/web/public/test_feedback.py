"""The website 留言 form and 查询码 page over real HTTP: the whole flow from the form to a
moderator's answer shown on the status page, and every abuse guard (CSRF, flood, size,
honeypot, escaping, trusted proxies)."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from html import unescape
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot import db, users
from bot.actors import Actor
from bot.config import Config, parse_config
from bot.inbox import ops as inbox_ops
from bot.inbox.replies import ReplySender
from bot.models import Comment, CommentReply, ReplyStatus
from bot.outbox.channel_set import build_channels
from bot.web.app import create_app
from bot.web.public.form_guard import CSRF_COOKIE, CsrfSigner, form_key
from tests.conftest import add_test_user
from tests.web.conftest import Publish
from tests.web.public.test_pages import check_html

Client = TestClient[web.Request, web.Application]
SHANGHAI = ZoneInfo("Asia/Shanghai")
ENV = {"GONGKAI_AUTHOR_KEY": "test-author-key"}
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
CODE = re.compile(r'id="query-code">([^<]+)<')
XSS = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


@pytest.fixture
async def form_config(sqlite_url: str, request: pytest.FixtureRequest) -> AsyncIterator[Config]:
    """A migrated SQLite database with the [inbox.form] keys a test passes as its param (and
    [web] trusted_proxies, given as the param's "trusted_proxies")."""
    form = dict(getattr(request, "param", {}))
    proxies = form.pop("trusted_proxies", [])
    cfg = parse_config(
        {
            "database": {"url": sqlite_url},
            "inbox": {"form": form},
            "web": {"max_body_bytes": 32768, "trusted_proxies": proxies},
        },
        "test",
        environ=ENV,
    )
    await db.init(cfg, check_schema=False)
    await db.upgrade()
    yield cfg
    await db.close()


@pytest.fixture
async def site(form_config: Config) -> AsyncIterator[Client]:
    async with TestClient(TestServer(create_app(form_config), host="127.0.0.1")) as client:
        yield client


async def form_token(client: Client, path: str = "/feedback") -> str:
    resp = await client.get(path)
    assert resp.status == 200
    match = TOKEN.search(await resp.text())
    assert match is not None
    return unescape(match.group(1))


async def post_form(client: Client, content: str, **fields: str) -> Any:
    token = await form_token(client)
    return await client.post("/feedback", data={"csrf_token": token, "content": content, **fields})


async def submit(client: Client, content: str, **fields: str) -> str:
    """Post the form as a person would; return the 查询码 shown."""
    resp = await post_form(client, content, **fields)
    page = await resp.text()
    assert resp.status == 200, page
    match = CODE.search(page)
    assert match is not None
    return match.group(1)


async def moderator() -> Actor:
    await add_test_user("mia", ["moderator"], "Pw-lima-2026", "system:test", office="办公室")
    return await users.actor_for_user("mia")


async def answer(config: Config, comment_id: int, text: str) -> CommentReply:
    """A moderator queues an answer; the reply sender sends it through the feed channel."""
    reply = await inbox_ops.send_reply(comment_id, await moderator(), text=text)
    assert await ReplySender(config, build_channels(config)).run_until_idle() == 1
    return await CommentReply.get(id=reply.id)


def visible(page: str) -> str:
    return " ".join(check_html(page).split())


async def test_form_message_gets_a_query_code_then_the_status_page_shows_pending_and_the_answer(
    config: Config, client: Client, publish: Publish
) -> None:
    item = await publish(title="关于政府信息公开申请办理的通知")
    assert f"/feedback?item={item.id}" in await (await client.get(f"/items/{item.id}")).text()
    resp = await client.get(f"/feedback?item={item.id}")
    page = await resp.text()
    assert resp.status == 200
    assert "关于政府信息公开申请办理的通知" in visible(page)
    assert (
        resp.cookies[CSRF_COOKIE]["httponly"] and resp.cookies[CSRF_COOKIE]["samesite"] == "Strict"
    )
    assert resp.headers["Cache-Control"] == "no-store"
    token = unescape(TOKEN.search(page).group(1))  # type: ignore[union-attr]
    resp = await client.post(
        "/feedback",
        data={
            "csrf_token": token,
            "content": "请问依申请公开的办理期限是多久？",
            "item": str(item.id),
        },
    )
    code = CODE.search(await resp.text()).group(1)  # type: ignore[union-attr]
    comment = await Comment.get(query_code=code.replace("-", ""))
    assert (comment.channel, comment.kind, comment.item_id) == ("feed", "form", item.id)
    assert comment.reply_ref == {"type": "query_code"}
    assert comment.author_ref.startswith("feed:") and "127.0.0.1" not in comment.author_ref
    assert comment.due_at is not None

    resp = await client.get("/feedback/status", params={"code": code.lower()})
    text = visible(await resp.text())
    assert resp.status == 200
    assert "待答复" in text
    assert comment.due_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") in text
    assert "关于政府信息公开申请办理的通知" in text

    reply = await answer(config, comment.id, "您好，依申请公开一般在20个工作日内答复。")
    assert reply.status == ReplyStatus.SENT.value
    assert reply.remote_id == f"web-reply-{reply.id}"  # the feed channel's stable id
    resp = await client.post("/feedback/status", data={"code": code})
    text = visible(await resp.text())
    assert resp.status == 200
    assert "已答复" in text and "待答复" not in text
    assert "您好，依申请公开一般在20个工作日内答复。" in text


async def test_form_about_an_item_that_is_not_public_is_not_found(
    config: Config, client: Client
) -> None:
    assert (await client.get("/feedback?item=999")).status == 404
    assert (await client.get("/feedback?item=abc")).status == 404


async def test_contact_is_kept_only_for_staff_and_never_shown(
    config: Config, client: Client
) -> None:
    code = await submit(client, "想咨询一下公开目录的更新时间。", contact="138 0013 8000")
    comment = await Comment.get(query_code=code.replace("-", ""))
    assert comment.reply_ref == {"type": "query_code", "contact": "13800138000"}
    assert "13800138000" not in comment.original_text
    page = await (await client.get("/feedback/status", params={"code": code})).text()
    assert "13800138000" not in page and "8000" not in visible(page)

    resp = await post_form(client, "想咨询一下公开目录的更新时间。", contact="找我就行")
    assert resp.status == 400
    assert "「联系方式」" in visible(await resp.text())


@pytest.mark.parametrize("form_config", [{"submit_limit": 3}], indirect=True)
async def test_a_flood_from_one_address_is_refused_with_429_in_chinese(site: Client) -> None:
    for n in range(3):
        await submit(site, f"第{n}条关于公开目录的咨询。")
    resp = await post_form(site, "第四条关于公开目录的咨询。")
    assert resp.status == 429
    assert "过于频繁" in visible(await resp.text())
    assert int(resp.headers["Retry-After"]) > 0
    assert await Comment.all().count() == 3


@pytest.mark.parametrize(
    "form_config", [{"submit_limit": 1, "trusted_proxies": ["127.0.0.0/8"]}], indirect=True
)
async def test_forwarded_for_from_a_trusted_proxy_separates_clients(site: Client) -> None:
    for n, ip in enumerate(("203.0.113.5", "203.0.113.6")):
        resp = await site.post(
            "/feedback",
            data={"csrf_token": await form_token(site), "content": f"第{n}条咨询公开目录。"},
            headers={"X-Forwarded-For": f"198.51.100.1, {ip}"},  # left part is the client's
        )
        assert resp.status == 200
    resp = await site.post(
        "/feedback",
        data={"csrf_token": await form_token(site), "content": "再一条咨询公开目录。"},
        headers={"X-Forwarded-For": "203.0.113.5"},
    )
    assert resp.status == 429
    refs = {c.author_ref for c in await Comment.all()}
    assert len(refs) == 2


@pytest.mark.parametrize("form_config", [{"submit_limit": 1}], indirect=True)
async def test_forwarded_for_is_ignored_without_trusted_proxies(site: Client) -> None:
    await submit(site, "第一条咨询公开目录。")
    resp = await site.post(
        "/feedback",
        data={"csrf_token": await form_token(site), "content": "第二条咨询公开目录。"},
        headers={"X-Forwarded-For": "203.0.113.9"},
    )
    assert resp.status == 429


async def test_oversize_or_too_short_text_is_refused_naming_the_field(site: Client) -> None:
    resp = await post_form(site, "问" * 2001)
    text = visible(await resp.text())
    assert resp.status == 400
    assert "「留言内容」不能超过 2000 个字" in text
    resp = await post_form(site, "问")
    assert resp.status == 400
    assert "「留言内容」至少需要 5 个字" in visible(await resp.text())
    # Beyond the request body limit (web.max_body_bytes): the site's 413 page, in Chinese,
    # naming the limit and leading back to the form (where the script restores the text).
    resp = await post_form(site, "问" * 5000)
    page = await resp.text()
    assert resp.status == 413
    assert "留言未能提交" in page and "最多" in page and "返回留言页面" in page
    assert "Maximum request body" not in page
    assert await Comment.all().count() == 0


async def test_missing_forged_mismatched_or_expired_csrf_tokens_are_refused(
    form_config: Config, site: Client
) -> None:
    data = {"content": "请问公开目录何时更新？"}
    resp = await site.post("/feedback", data=data)  # no cookie, no field
    assert resp.status == 403
    assert "刷新" in visible(await resp.text())

    token = await form_token(site)  # the cookie is set now
    resp = await site.post("/feedback", data={**data, "csrf_token": token[:-4] + "0000"})
    assert resp.status == 403  # field differs from the cookie

    nonce, stamp, _ = token.split(".")
    forged = f"{nonce}.{stamp}.{'0' * 64}"
    site.session.cookie_jar.clear()
    site.session.cookie_jar.update_cookies({CSRF_COOKIE: forged})
    resp = await site.post("/feedback", data={**data, "csrf_token": forged})
    assert resp.status == 403  # same in both places, but not signed with our key

    signer = CsrfSigner(form_key(form_config), form_config.inbox.form.csrf_max_age_seconds)
    old = signer.issue(now=time.time() - form_config.inbox.form.csrf_max_age_seconds - 5)
    site.session.cookie_jar.clear()
    site.session.cookie_jar.update_cookies({CSRF_COOKIE: old})
    resp = await site.post("/feedback", data={**data, "csrf_token": old})
    assert resp.status == 403
    assert "失效" in visible(await resp.text())
    assert await Comment.all().count() == 0


async def test_honeypot_filled_pretends_success_and_stores_nothing(site: Client) -> None:
    resp = await post_form(site, "请问公开目录何时更新？", website="http://spam.example")
    page = await resp.text()
    assert resp.status == 200
    code = CODE.search(page).group(1)  # type: ignore[union-attr]
    assert await Comment.all().count() == 0
    resp = await site.get("/feedback/status", params={"code": code})
    assert resp.status == 404


async def test_script_in_a_message_and_in_its_answer_is_shown_as_text(
    form_config: Config, site: Client
) -> None:
    code = await submit(site, f"咨询：{XSS}")
    comment = await Comment.get(query_code=code.replace("-", ""))
    await answer(form_config, comment.id, f"答复：{XSS}")
    page = await (await site.get("/feedback/status", params={"code": code})).text()
    assert "<script>" not in page and "<img" not in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 2
    assert XSS in visible(page)  # shown to the reader exactly as written

    resp = await post_form(site, XSS, contact=XSS)  # re-shown in the form after an error
    page = await resp.text()
    assert resp.status == 400
    assert "<script>" not in page and "<img" not in page


@pytest.mark.parametrize("form_config", [{"lookup_limit": 2}], indirect=True)
async def test_unknown_codes_are_not_found_and_lookups_are_rate_limited(site: Client) -> None:
    resp = await site.get("/feedback/status", params={"code": "ABCD-EFGH-JKMN"})
    assert resp.status == 404
    assert "未找到" in visible(await resp.text())
    resp = await site.post("/feedback/status", data={"code": "<b>x</b>"})
    assert resp.status == 404
    resp = await site.get("/feedback/status", params={"code": "ABCD-EFGH-JKMP"})
    assert resp.status == 429
    assert "查询过于频繁" in visible(await resp.text())
    # The empty look-up form itself is not a look-up.
    assert (await site.get("/feedback/status")).status == 200


async def test_form_pages_are_labelled_html_in_chinese(site: Client) -> None:
    for path in ("/feedback", "/feedback/status"):
        page = await (await site.get(path)).text()
        check_html(page)
        controls = re.findall(r'<(?:input|textarea|select)[^>]*\bid="([^"]+)"', page)
        labels = set(re.findall(r'<label for="([^"]+)"', page))
        assert controls and set(controls) <= labels, (path, controls, labels)


async def test_form_is_closed_without_an_author_key(sqlite_url: str) -> None:
    cfg = parse_config({"database": {"url": sqlite_url}}, "test", environ={})
    await db.init(cfg, check_schema=False)
    await db.upgrade()
    try:
        async with TestClient(TestServer(create_app(cfg), host="127.0.0.1")) as client:
            assert (await client.get("/feedback")).status == 503
            assert (await client.post("/feedback", data={"content": "x"})).status == 503
            assert (await client.get("/qa")).status == 200
    finally:
        await db.close()


async def test_the_same_form_sent_twice_is_one_message_with_one_query_code(site: Client) -> None:
    token = await form_token(site)
    text = "请问小额贷款公司变更股东需要提交哪些材料？"
    pages = []
    for _ in range(2):  # a double click: the same form, the same token, the same text
        resp = await site.post("/feedback", data={"csrf_token": token, "content": text})
        assert resp.status == 200
        pages.append(await resp.text())
    codes = [m.group(1) for m in (CODE.search(p) for p in pages) if m]
    assert len(codes) == 2 and codes[0] == codes[1]
    assert await Comment.filter(original_text=text).count() == 1
    # a different message from the same form is a message of its own
    other = await site.post("/feedback", data={"csrf_token": token, "content": text + "谢谢。"})
    assert other.status == 200
    assert await Comment.filter(channel="feed").count() == 2
