"""The sandbox's whole loop in one process, over real HTTP on 127.0.0.1 (free ports): the
sandbox config and simulators (bot/sandbox/mode.py), the bot's web app with its WeChat callback,
随申办 webhook and website form. One approved item goes out through the Dispatcher on the
feed, the WeChat simulator and the 随申办 simulator; a follower message, an article comment,
随申办 feedback and a website 留言 land in the inbox; replies sent by the reply sender reach
each channel. Also: the demo items pass pre-review, the SANDBOX banners, the log prefix."""

from __future__ import annotations

import asyncio
import errno
import io
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import xmltodict
from aiohttp import web
from wechatpy.crypto import WeChatCrypto

from bot import db, users
from bot.config import Config, LogConfig, parse_config
from bot.inbox import ops as inbox_ops
from bot.inbox.ingest import Inbox
from bot.inbox.replies import ReplySender
from bot.items import lifecycle
from bot.items.schemas import ItemCreate
from bot.logs import PrefixFilter
from bot.logs import configure as configure_logging
from bot.models import Comment, Delivery, Faq, Item, ReplyStatus, User
from bot.outbox.channel_set import build_channels
from bot.outbox.dispatcher import Dispatcher
from bot.outbox.wakeup import Wakeup
from bot.runner import SANDBOX_PREFIX
from bot.sandbox.demo import NOTICE_TITLE, POLICY_TITLE, TITLES, Seeded, seed, seed_faqs, seed_users
from bot.sandbox.followers import post_website_form
from bot.sandbox.mode import (
    SandboxPorts,
    SandboxRefused,
    SandboxSecrets,
    Simulators,
    install_log_banner,
    sandbox_config,
    start_simulators,
)
from bot.staff import passwords
from bot.web.app import create_app
from scheduler.polling import poll_channel
from tests.conftest import free_port


@dataclass
class Loop:
    config: Config
    sims: Simulators
    ports: SandboxPorts
    site: str

    async def ledger(self, url: str) -> dict[str, Any]:
        async with aiohttp.ClientSession() as s, s.get(url) as resp:
            assert resp.status == 200
            data: dict[str, Any] = await resp.json()
            return data


@pytest.fixture
async def loop_env(tmp_path: Path) -> AsyncIterator[Loop]:
    # A free port is only free when asked: another process (an outgoing connection takes an
    # ephemeral port too) may take it before the server binds. Start again on new ports then.
    for attempt in range(5):
        try:
            started = await _start_loop(tmp_path / f"try{attempt}")
            break
        except (SandboxRefused, OSError) as exc:
            if attempt == 4 or (isinstance(exc, OSError) and exc.errno != errno.EADDRINUSE):
                raise
    loop, bot = started
    try:
        yield loop
    finally:
        await bot.cleanup()
        await loop.sims.close()
        await db.close()


async def _start_loop(folder: Path) -> tuple[Loop, web.AppRunner]:
    port = free_port()
    base = parse_config(
        {
            "app": {"public_base_url": f"http://127.0.0.1:{port}"},
            "web": {"port": port},
            "dispatcher": {"backoff_base_seconds": 0.05, "backoff_max_seconds": 0.2},
        },
        "test",
        environ={},
    )
    ports = SandboxPorts(free_port(), free_port(), free_port(), free_port())
    keys = SandboxSecrets.generate()
    config = sandbox_config(base, keys, ports, data_dir=str(folder / "sandbox"))
    await db.init(config, check_schema=False)
    sims = None
    try:
        await db.upgrade()
        await seed_faqs(Seeded())  # before the app starts: its callback builds its knowledge then
        # Started after the database: the handlers inherit the ORM's context.
        sims = await start_simulators(config, keys, ports)
        bot = web.AppRunner(create_app(config), access_log=None)
        await bot.setup()
        try:
            await web.TCPSite(bot, "127.0.0.1", port).start()
        except OSError:
            await bot.cleanup()
            raise
    except BaseException:
        if sims is not None:
            await sims.close()
        await db.close()
        raise
    return Loop(config, sims, ports, f"http://127.0.0.1:{port}"), bot


async def eventually(check: Callable[[], Awaitable[Any]], seconds: float = 15) -> Any:
    """The check's first truthy answer (the callback's inbox step runs in the background)."""
    deadline = time.monotonic() + seconds
    while True:
        value = await check()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.05)


async def test_one_item_goes_out_on_every_channel_and_comments_and_replies_go_round(
    loop_env: Loop,
) -> None:
    env, config = loop_env, loop_env.config
    await seed_users(config, Seeded())
    editor = await users.actor_for_user("editor")
    reviewer = await users.actor_for_user("reviewer")
    fields = {"kind": "notice", "title": NOTICE_TITLE, "summary": "5个工作日内答复。"}
    fields.update(body="网上咨询5个工作日内答复，简单问题1个工作日内答复。", office="办公室")
    item = await lifecycle.create_item(ItemCreate.model_validate(fields), editor, config)
    await lifecycle.submit(item.id, editor, config)
    await lifecycle.approve(item.id, reviewer, config)

    await Dispatcher(config, build_channels(config), Wakeup(), owner="t").run_until_idle()
    done = {
        d.channel: d.remote_id
        for d in await Delivery.filter(item_id=item.id, action="publish", status="done")
    }
    assert set(done) == {"feed", "webhook", "wechat", "suishenban"}
    assert (await Item.get(id=item.id)).status == "published"
    async with aiohttp.ClientSession() as s, s.get(f"{env.site}/feeds/all.json") as resp:
        assert [i["title"] for i in (await resp.json())["items"]] == [NOTICE_TITLE]
    wechat = await env.ledger(env.sims.ledgers["微信公众号模拟器"])
    assert [p["titles"] for p in wechat["publications"]] == [[NOTICE_TITLE]]
    ssb = await env.ledger(env.sims.ledgers["随申办模拟器"])
    assert [c["title"] for c in ssb["cards"].values()] == [NOTICE_TITLE]

    # The public writes back on each channel, through the bot's real endpoints.
    channels = build_channels(config)  # for polling and replies, as the worker has them
    for channel in channels.values():
        await channel.start()
    try:
        await comments_and_replies(env, item.id, done, channels)
    finally:
        for channel in channels.values():
            await channel.close()


async def comments_and_replies(
    env: Loop, item_id: int, done: dict[str, str], channels: dict[str, Any]
) -> None:
    config = env.config
    moderator = await users.actor_for_user("moderator")
    sent = await env.sims.wechat.push_follower_message("o_follower", "请问备案材料在哪里下载？")
    assert (sent.status, sent.body) == (200, "success")
    # A question the FAQ answers gets WeChat's passive answer at once (encrypted, safe mode).
    faq = await env.sims.wechat.push_follower_message("o_asker", "请问网上咨询多久答复？")
    assert faq.status == 200 and faq.body != "success"
    cb = env.sims.wechat.callback
    wrapped = xmltodict.parse(faq.body)["xml"]
    plain = WeChatCrypto(cb.token, cb.aes_key, cb.app_id).decrypt_message(
        faq.body, wrapped["MsgSignature"], wrapped["TimeStamp"], wrapped["Nonce"]
    )
    assert "5个工作日" in xmltodict.parse(plain)["xml"]["Content"]
    # On the 发表 copy, by the msg_data_id freepublish/submit gave for it (not its article_id).
    copy = env.sims.wechat.msg_data_id_of(done["wechat"])
    env.sims.wechat.add_comment(copy, "o_reader", "希望多发布这类通知。")
    await poll_channel(Inbox(config), "wechat", channels["wechat"])
    record = env.sims.suishenban.add_feedback(done["suishenban"], "u-1", "公告写得很清楚，谢谢。")
    assert await env.sims.suishenban.push_feedback(record) == 200
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        code = await post_website_form(
            session, env.site, "我的电话13912345678，请问周末提交的留言何时答复？", item_id, ""
        )

    async def all_in() -> list[Comment]:
        found = await Comment.exclude(original_text="请问网上咨询多久答复？").order_by("id")
        return found if len(found) == 4 else []

    comments = {(c.channel, c.kind): c for c in await eventually(all_in)}
    assert set(comments) == {
        ("wechat", "message"),
        ("wechat", "article_comment"),
        ("suishenban", "feedback"),
        ("feed", "form"),
    }
    # Comments on the item are linked to it, whichever channel they came through.
    for key in (("wechat", "article_comment"), ("suishenban", "feedback"), ("feed", "form")):
        assert comments[key].item_id == item_id
    assert "139****5678" in comments[("feed", "form")].masked_text

    answers = {key: f"答复 {key[0]} {key[1]}" for key in comments}
    for key, comment in comments.items():
        await inbox_ops.send_reply(comment.id, moderator, text=answers[key])
    await ReplySender(config, channels, owner="t").run_until_idle()
    for comment in comments.values():
        fresh = await Comment.get(id=comment.id)
        assert (fresh.status, fresh.reply_status) == ("replied", ReplyStatus.SENT.value)

    wechat = await env.ledger(env.sims.ledgers["微信公众号模拟器"])
    assert wechat["custom_messages"] == [
        {"touser": "o_follower", "content": answers[("wechat", "message")]}
    ]
    (article_comment,) = wechat["comments"][f"{copy}:0"]
    assert article_comment["reply"]["content"] == answers[("wechat", "article_comment")]
    ssb = await env.ledger(env.sims.ledgers["随申办模拟器"])
    assert [(r["feedback_id"], r["content"]) for r in ssb["replies"].values()] == [
        (record["feedback_id"], answers[("suishenban", "feedback")])
    ]
    async with (
        aiohttp.ClientSession() as s,
        s.get(f"{env.site}/feedback/status", params={"code": code}) as resp,
    ):
        page = await resp.text()
    assert resp.status == 200 and answers[("feed", "form")] in page
    assert "SANDBOX" in page


async def test_every_public_and_console_page_says_sandbox(loop_env: Loop) -> None:
    async with aiohttp.ClientSession() as s:
        for path in ("/feedback", "/feedback/status", "/qa", "/console/login", "/items/999"):
            async with s.get(f"{loop_env.site}{path}") as resp:
                assert "SANDBOX" in await resp.text(), path


async def test_demo_items_pass_pre_review_and_are_approved_once(loop_env: Loop) -> None:
    first = await seed(loop_env.config)
    assert first.refused == {}
    assert sorted(first.approved) == sorted(TITLES)
    assert set(first.passwords) == {"editor", "reviewer", "moderator", "admin", "auditor"}
    # The printed demo passwords meet the policy and are not to be changed at first login.
    for username, password in first.passwords.items():
        passwords.check(loop_env.config.staff.password, password, (username,))
    assert not await User.filter(must_change_password=True).exists()
    assert first.faqs == 0 and await Faq.all().count() == 3  # the fixture seeded them
    kinds = dict(await Item.filter(title__in=list(TITLES)).values_list("kind", "status"))
    assert set(kinds) == {"policy", "interpretation", "enforcement", "consultation", "notice"}
    assert set(kinds.values()) == {"approved"}
    interpretation = await Item.get(kind="interpretation")
    assert interpretation.related_id == (await Item.get(title=POLICY_TITLE)).id
    assert "图解" in interpretation.interpretation_forms
    enforcement = await Item.get(kind="enforcement")
    assert enforcement.enforcement["category"] == "行政处罚"
    # A second start keeps the data: no new accounts, FAQ or items.
    again = await seed(loop_env.config)
    assert (again.passwords, again.faqs, again.approved) == ({}, 0, [])
    assert await Item.filter(title__in=list(TITLES)).count() == len(TITLES)


async def test_log_lines_start_with_sandbox_once_on_every_handler() -> None:
    root = logging.getLogger()
    streams = [io.StringIO(), io.StringIO()]
    handlers = [logging.StreamHandler(s) for s in streams]
    for handler in handlers:
        root.addHandler(handler)
    try:
        install_log_banner()
        install_log_banner()  # twice: still one filter a handler, one prefix a line
        logging.getLogger("bot.some.module").warning("delivery %s failed", 7)
    finally:
        for each in root.handlers:
            for f in [f for f in each.filters if isinstance(f, PrefixFilter)]:
                each.removeFilter(f)
        for handler in handlers:
            root.removeHandler(handler)
    assert [s.getvalue() for s in streams] == ["[SANDBOX] delivery 7 failed\n"] * 2


def test_the_bot_logging_setup_marks_every_line_in_sandbox_mode() -> None:
    out = io.StringIO()
    handler = configure_logging(LogConfig(format="json"), out, prefix=SANDBOX_PREFIX)
    try:
        logging.getLogger("bot.outbox.dispatcher").warning("delivery %s dead", 9)
    finally:
        logging.getLogger().removeHandler(handler)
    assert json.loads(out.getvalue())["message"] == "[SANDBOX] delivery 9 dead"
