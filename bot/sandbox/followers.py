"""The sandbox's demo loop: once the demo items are out, simulated members of the public write
back on every channel, so the inbox fills by itself. WeChat followers send messages (signed,
encrypted callbacks from the WeChat simulator) and comment on articles (polled by the inbox job);
随申办 users leave feedback (pushed to the webhook, or left for polling); a website visitor
fills in the 留言 form like a browser (GET the form, POST it with its CSRF token). Then the demo
moderator answers one message on each channel. The upstream feed is pulled into the review
queue first. Every step logs its failure and the loop goes on: the bot never stops for it."""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot import users
from bot.config import Config
from bot.errors import Unavailable
from bot.inbox import ops as inbox_ops
from bot.models import ChannelState, Comment, Delivery, DeliveryAction, DeliveryStatus, Item
from bot.sandbox.demo import (
    CONSULTATION_TITLE,
    ENFORCEMENT_TITLE,
    NOTICE_TITLE,
    POLICY_TITLE,
    TITLES,
)
from bot.sources import pull as sources
from bot.web.public.form_guard import CSRF_FIELD
from channels.sandbox.suishenban import SuishenbanSimulator
from channels.sandbox.wechat import WechatSimulator

log = logging.getLogger(__name__)
DONE_KEY = "sandbox.demo"  # ChannelState row: the followers have written (once per database)
FINAL = frozenset({s.value for s in DeliveryStatus} - {"pending", "running"})
_TOKEN = re.compile(rf'name="{CSRF_FIELD}" value="([^"]+)"')
_CODE = re.compile(r'id="query-code">([^<]+)<')


@dataclass(frozen=True)
class Message:
    """One simulated member of the public writing in."""

    route: str  # wechat (message) | wechat_comment | suishenban (pushed) | suishenban_polled | form
    about: str  # the demo item's title, "" for none
    text: str
    who: str = ""  # openid / 随申办 user id
    contact: str = ""  # the form's optional contact field
    answer: str = ""  # the demo moderator's answer ("" = left for the moderator)

    @property
    def channel(self) -> str:
        return {"wechat_comment": "wechat", "suishenban_polled": "suishenban", "form": "feed"}.get(
            self.route, self.route
        )


MESSAGES = (
    Message("wechat", "", "请问网上咨询多久答复？", "o_demo_li"),
    Message(
        "wechat",
        "",
        "我的手机号是13912345678，想咨询融资租赁公司变更股东需要报送哪些材料，请工作人员联系我。",
        "o_demo_wang",
        answer="您好，融资租赁公司变更事项由地方金融监管二处办理，工作人员将在5个工作日内"
        "与您联系并告知需报送的材料。",
    ),
    Message(
        "wechat",
        "",
        "某理财平台跑路了，我投的二十万血汗钱追不回来，已经多次上访没有结果，强烈要求领导"
        "接访解决！",
        "o_demo_zhao",
    ),
    Message(
        "wechat_comment",
        POLICY_TITLE,
        "建议政策解读多出一些图解和短视频，比大段文字更容易看懂。",
        "o_demo_chen",
    ),
    Message("wechat_comment", ENFORCEMENT_TITLE, "执法信息公示得很及时，点赞！", "o_demo_liu"),
    Message(
        "suishenban",
        CONSULTATION_TITLE,
        "建议目录里写明每个决策事项征求意见的截止时间，方便企业按时提交意见。",
        "ssb_u1001",
        answer="感谢您的建议，我们将在目录中逐项标明征求意见的起止时间。",
    ),
    Message(
        "suishenban_polled",
        NOTICE_TITLE,
        "上周在网站留言咨询备案问题，到现在还没有人回复，投诉办理效率太低。",
        "ssb_u1002",
    ),
    Message(
        "form",
        NOTICE_TITLE,
        "请问简单问题1个工作日内答复，是从提交留言的当天开始计算吗？",
        answer="您好，答复期限自收到留言之日起按工作日计算，简单问题在1个工作日内答复，"
        "节假日顺延。",
    ),
    Message(
        "form",
        "",
        "门户网站政策文件栏目里有一个附件链接打不开，属于断链，建议尽快修复。",
        contact="13812345678",
    ),
)


class DemoError(Unavailable):
    """A step of the demo loop could not be done (the message says which and why)."""


async def post_website_form(
    session: aiohttp.ClientSession, site_url: str, text: str, item_id: int | None, contact: str
) -> str:
    """Fill in the website's 留言 form like a browser: GET it (token cookie and hidden field),
    POST it; returns the 查询码 shown. The session's cookie jar must accept 127.0.0.1
    (aiohttp.CookieJar(unsafe=True))."""
    query = f"?item={item_id}" if item_id else ""
    async with session.get(f"{site_url}/feedback{query}") as resp:
        page = await resp.text()
        if resp.status != 200:
            raise DemoError(f"website form: GET answered {resp.status}")
    found = _TOKEN.search(page)
    if found is None:
        raise DemoError("website form: no CSRF token on the form page")
    data = {CSRF_FIELD: found.group(1), "content": text, "contact": contact, "website": ""}
    if item_id:
        data["item"] = str(item_id)
    async with session.post(f"{site_url}/feedback", data=data) as resp:
        page = await resp.text()
        if resp.status != 200:
            raise DemoError(f"website form: POST answered {resp.status}: {page[:200]}")
    code = _CODE.search(page)
    if code is None:
        raise DemoError("website form: no 查询码 on the answer page")
    return code.group(1).strip()


async def published_refs(channels: list[str], wait_seconds: float) -> dict[str, dict[str, str]]:
    """Wait (at most wait_seconds) until every demo item's publication on these channels
    has finished; returns {title: {channel: remote id}} of the publications done."""
    deadline = time.monotonic() + wait_seconds
    while True:
        items = dict(await Item.filter(title__in=list(TITLES)).values_list("id", "title"))
        rows = await Delivery.filter(
            item_id__in=list(items), action=DeliveryAction.PUBLISH.value, channel__in=channels
        ).values("item_id", "channel", "status", "remote_id")
        settled = rows and all(r["status"] in FINAL for r in rows)
        if settled or time.monotonic() >= deadline:
            out: dict[str, dict[str, str]] = {}
            for r in rows:
                if r["status"] == DeliveryStatus.DONE.value:
                    out.setdefault(items[r["item_id"]], {})[r["channel"]] = str(r["remote_id"])
            return out
        await asyncio.sleep(0.5)


class DemoLoop:
    def __init__(
        self,
        config: Config,
        wechat: WechatSimulator | None,
        suishenban: SuishenbanSimulator | None,
        site_url: str,
        *,
        wait_seconds: float = 120,
    ) -> None:
        self.config = config
        self.wechat = wechat
        self.suishenban = suishenban
        self.site_url = site_url.rstrip("/")
        self.wait_seconds = wait_seconds
        self.refs: dict[str, dict[str, str]] = {}
        self.item_ids: dict[str, int] = {}

    async def run(self) -> None:
        """The whole loop; the followers write only once per sandbox database."""
        await self._step("upstream pull", self.pull_upstream)
        if await ChannelState.filter(key=DONE_KEY).exists():
            log.info("sandbox demo: followers wrote on an earlier start; not again")
            return
        await self._step("waiting for publication", self.wait_for_items)
        for route in ("wechat", "wechat_comment", "suishenban", "suishenban_polled", "form"):
            await self._step(f"followers ({route})", functools.partial(self.write, route))
        await ChannelState.update_or_create(key=DONE_KEY, defaults={"value": {"written": True}})
        await self._step("demo replies", self.answer)
        log.info("sandbox demo loop finished")

    async def _step(self, name: str, work: Callable[[], Awaitable[Any]]) -> None:
        try:
            await work()
        except asyncio.CancelledError:
            raise
        except Exception:  # the demo is a show: a failing step is logged, the bot goes on
            log.exception("sandbox demo: step %s failed", name)

    async def pull_upstream(self) -> None:
        for result in await sources.pull_all(self.config):
            log.info(
                "sandbox demo: upstream %s pulled: %d entries, error %r",
                result.source,
                len(result.entries),
                result.error,
            )

    async def wait_for_items(self) -> None:
        channels = [c for c in ("feed", "wechat", "suishenban") if self._enabled(c)]
        self.refs = await published_refs(channels, self.wait_seconds)
        self.item_ids = dict(await Item.filter(title__in=list(TITLES)).values_list("title", "id"))
        log.info("sandbox demo: published %s", {t: sorted(c) for t, c in self.refs.items()})

    def _enabled(self, channel: str) -> bool:
        return bool(getattr(self.config.channels, channel).enabled)

    async def write(self, route: str) -> None:
        for message in (m for m in MESSAGES if m.route == route):
            await self.send(message)

    async def send(self, m: Message) -> None:
        ref = self.refs.get(m.about, {}).get(m.channel, "")
        if m.route == "wechat" and self.wechat is not None:
            result = await self.wechat.push_follower_message(m.who, m.text)
            if result.status != 200:
                raise DemoError(f"wechat callback answered {result.status}")
            if result.body not in ("", "success"):  # a passive answer, from the FAQ
                log.info("sandbox demo: follower %s answered at once (FAQ auto-reply)", m.who)
        elif m.route == "wechat_comment" and self.wechat is not None and ref:
            # On the 发表 copy of the article (ref: its article_id), by the msg_data_id WeChat
            # gave for it; the inbox.poll job fetches it.
            self.wechat.add_comment(self.wechat.msg_data_id_of(ref), m.who, m.text)
        elif m.route in ("suishenban", "suishenban_polled") and self.suishenban is not None:
            record = self.suishenban.add_feedback(ref or "card-unknown", m.who, m.text)
            if m.route == "suishenban":
                status = await self.suishenban.push_feedback(record)
                if status != 200:
                    raise DemoError(f"suishenban webhook answered {status}")
        elif m.route == "form":
            jar = aiohttp.CookieJar(unsafe=True)  # the site is http://127.0.0.1
            async with aiohttp.ClientSession(cookie_jar=jar) as session:
                item_id = self.item_ids.get(m.about) if m.about else None
                await post_website_form(session, self.site_url, m.text, item_id, m.contact)
        else:
            log.info("sandbox demo: %s message skipped (channel off or item not out)", m.route)

    async def answer(self) -> None:
        """The demo moderator answers the messages that have a demo answer, once they are in
        the inbox (polling may take an interval)."""
        moderator = await users.actor_for_user("moderator")
        wanted = {(m.channel, m.text): m.answer for m in MESSAGES if m.answer}
        deadline = time.monotonic() + self.wait_seconds
        while wanted and time.monotonic() < deadline:
            for (channel, text), answer in list(wanted.items()):
                comment = await Comment.filter(channel=channel, original_text=text).first()
                if comment is None:
                    continue
                del wanted[(channel, text)]
                await inbox_ops.send_reply(comment.id, moderator, text=answer)
            if wanted:
                await asyncio.sleep(1)
        if wanted:
            raise DemoError(f"messages never reached the inbox: {sorted(wanted)}")
