"""/wechat/callback over real HTTP, with callbacks built by wechatpy's WeChatCrypto and signer
exactly as WeChat sends them: plain and safe mode, signatures, replays, hostile bodies, events,
auto-replies, crash recovery, and an answer that never waits for the inbox."""

from __future__ import annotations

import asyncio
import base64
import logging
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from wechatpy.crypto import WeChatCrypto
from wechatpy.parser import parse_message
from wechatpy.utils import WeChatSigner

from bot import db
from bot.config import Config, parse_config
from bot.inbox.ingest import Inbox, Ingested
from bot.models import ChannelEvent, ChannelState, Comment, CommentNote
from bot.outbox.channel_state import hold_lease
from bot.reports.followers import follower_counts
from bot.web.app import create_app
from bot.web.keys import WECHAT_CALLBACK, WECHAT_CLOCK
from bot.wechat.callback import CallbackState
from bot.wechat.events import AUTO_REPLY_FLAG, EventWriter, store
from bot.wechat.relay import MessageRelay
from channels.base import IncomingComment, opaque_author
from channels.wechat.messages import classify, parse_xml
from tests.search.test_export import faq as indexed_faq

TOKEN = "gongkai-test-token"
AES_KEY = base64.b64encode(b"0123456789abcdef0123456789abcdef").decode().rstrip("=")
APP_ID = "wx0123456789abcdef"
AUTHOR_KEY = "test-author-key"
ACCOUNT = "gh_0123456789ab"
OPENID = "oV5CrjpxgaGXNHIQigzNlgLTnwic"
PATH = "/wechat/callback"

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE xml [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>&lol9;</Content><MsgId>1</MsgId></xml>"""


def wechat_config(db_url: str, mode: str = "safe", enabled: bool = True, **callback: Any) -> Config:
    wechat = {"enabled": enabled, "app_id": APP_ID, "message_mode": mode, "callback": callback}
    return parse_config(
        {"database": {"url": db_url}, "channels": {"wechat": wechat}},
        "test",
        environ={
            "GONGKAI_WECHAT_TOKEN": TOKEN,
            "GONGKAI_WECHAT_AES_KEY": AES_KEY,
            "GONGKAI_AUTHOR_KEY": AUTHOR_KEY,
        },
    )


def message(content: str, msg_id: int, msg_type: str = "text", extra: str = "") -> str:
    body = f"<Content><![CDATA[{content}]]></Content>" if msg_type == "text" else ""
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{OPENID}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>"
        f"{body}{extra}<MsgId>{msg_id}</MsgId></xml>"
    )


def event(name: str, extra: str = "", openid: str = OPENID, at: int | None = None) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{at or int(time.time())}</CreateTime>"
        f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{name}]]></Event>{extra}</xml>"
    )


class WeChat:
    """Sends callbacks the way WeChat's servers do (query string, signatures, AES envelope)."""

    def __init__(self, client: TestClient[Any, Any], encrypted: bool) -> None:
        self.client = client
        self.encrypted = encrypted
        self.crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)

    def signed(self, timestamp: str | None = None, nonce: str | None = None) -> dict[str, str]:
        timestamp = timestamp or str(int(time.time()))
        nonce = nonce or uuid.uuid4().hex[:10]
        signer = WeChatSigner()
        signer.add_data(TOKEN, timestamp, nonce)
        return {"signature": signer.signature, "timestamp": timestamp, "nonce": nonce}

    def request(
        self,
        xml: str,
        timestamp: str | None = None,
        tamper: str = "",
        raw: bool = False,
        nonce: str | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """The query and body of one push, to send once or, as WeChat retries, again."""
        query = self.signed(timestamp, nonce)
        query["openid"] = OPENID
        body = xml
        if self.encrypted and not raw:
            body = self.crypto.encrypt_message(xml, query["nonce"], query["timestamp"])
            query["encrypt_type"] = "aes"
            query["msg_signature"] = parse_xml(body)["MsgSignature"]
        if tamper:
            query[tamper] = "0" * 40
        return query, body.encode()

    async def send(self, query: dict[str, str], body: bytes) -> ClientResponse:
        return await self.client.post(PATH, params=query, data=body)

    async def post(
        self, xml: str, timestamp: str | None = None, tamper: str = "", raw: bool = False
    ) -> ClientResponse:
        return await self.send(*self.request(xml, timestamp, tamper, raw))

    def open_reply(self, text: str) -> Any:
        if self.encrypted:
            envelope = parse_xml(text)
            text = self.crypto.decrypt_message(
                text, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"]
            )
        return parse_message(text)


class HeldInbox(Inbox):
    """The real inbox behind a gate: ingestion waits until the test releases it."""

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def ingest_many(
        self, batch: Sequence[IncomingComment], adjust: Any = None
    ) -> list[Ingested]:
        self.entered.set()
        await self.release.wait()
        return await super().ingest_many(batch, adjust)


class BrokenInbox(Inbox):
    """The real inbox, except that a message saying "坏" makes ingestion fail."""

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.tries: list[str] = []

    async def ingest_many(
        self, batch: Sequence[IncomingComment], adjust: Any = None
    ) -> list[Ingested]:
        self.tries += [c.text for c in batch]
        if any(c.text == "坏" for c in batch):
            raise RuntimeError("triage failed")
        return await super().ingest_many(batch, adjust)


class SteppedInbox(Inbox):
    """The real inbox, one batch at a time: each ingestion records its texts, then waits for
    the test's permit."""

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.batches: list[list[str]] = []
        self.entered = asyncio.Event()
        self.permits = asyncio.Semaphore(0)

    async def ingest_many(
        self, batch: Sequence[IncomingComment], adjust: Any = None
    ) -> list[Ingested]:
        self.batches.append([c.text for c in batch])
        self.entered.set()
        await self.permits.acquire()
        return await super().ingest_many(batch, adjust)

    async def next_batch(self) -> None:
        await asyncio.wait_for(self.entered.wait(), 10)
        self.entered.clear()


Start = Callable[..., Any]


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where a migrated database is kept once per run: copying it beats migrating each test."""
    return tmp_path_factory.mktemp("wechat-callback") / "template.db"


@pytest.fixture
async def db_url(template_db: Path, tmp_path: Path) -> str:
    """A migrated SQLite database of this test's own (not connected)."""
    if not await asyncio.to_thread(template_db.exists):
        await db.init(wechat_config(f"sqlite://{template_db}"), check_schema=False)
        await db.upgrade()
        await db.close()
    await asyncio.to_thread(shutil.copyfile, template_db, tmp_path / "wechat.db")
    return f"sqlite://{tmp_path}/wechat.db"


@pytest.fixture
def start(db_url: str) -> Start:
    """Connect the database and serve the app built for a WeChat config on 127.0.0.1."""

    @asynccontextmanager
    async def _start(
        mode: str = "safe",
        inbox: Callable[[Config], Inbox] | None = None,
        enabled: bool = True,
        clock: Callable[[], float] | None = None,
        **callback: Any,
    ) -> AsyncIterator[tuple[WeChat, CallbackState]]:
        config = wechat_config(db_url, mode, enabled, **callback)
        await db.init(config)
        try:
            app = create_app(config)
            if clock is not None:
                app[WECHAT_CLOCK] = clock
            state = app[WECHAT_CALLBACK]
            if inbox is not None:
                state.inbox = inbox(config)
            async with TestClient(TestServer(app, host="127.0.0.1")) as client:
                yield WeChat(client, encrypted=mode != "plain"), state
        finally:
            await db.close()

    return _start


def relay(state: CallbackState) -> MessageRelay:
    """The relay beside the callback (the app is built as for --role all)."""
    assert state.relay is not None
    return state.relay


async def comment_for(msg_id: int) -> Comment:
    return await Comment.get(channel="wechat", remote_id=f"msg:{msg_id}")


@pytest.mark.parametrize("mode", ["plain", "safe", "compatible"])
async def test_a_text_message_is_acknowledged_and_reaches_the_inbox(
    start: Start, mode: str
) -> None:
    async with start(mode) as (wechat, state):
        resp = await wechat.post(message("社保卡怎么补办？", 1001))
        assert resp.status == 200 and await resp.text() == "success"
        await relay(state).wait_idle()
        comment = await comment_for(1001)
        assert comment.original_text == "社保卡怎么补办？" and comment.kind == "message"
        assert comment.author_ref == opaque_author(AUTHOR_KEY.encode(), "wechat", OPENID)
        assert OPENID not in comment.author_ref
        assert comment.reply_ref["type"] == "custom" and comment.reply_ref["openid"] == OPENID
        row = await ChannelEvent.get(channel="wechat", key="msg:1001")
        assert row.kind == "message" and row.handled_at is not None


async def test_image_and_voice_messages_become_comments_with_their_labels(start: Start) -> None:
    async with start("plain") as (wechat, state):
        image = "<PicUrl><![CDATA[http://mmbiz.qpic.cn/a.jpg]]></PicUrl><MediaId>m1</MediaId>"
        voice = "<MediaId>m2</MediaId><Format>amr</Format><Recognition>营业执照</Recognition>"
        assert (await wechat.post(message("", 2001, "image", image))).status == 200
        assert (await wechat.post(message("", 2002, "voice", voice))).status == 200
        await relay(state).wait_idle()
        assert (await comment_for(2001)).original_text == "[图片] http://mmbiz.qpic.cn/a.jpg"
        assert (await comment_for(2002)).original_text == "[语音] 营业执照"


@pytest.mark.parametrize(("mode", "tamper"), [("plain", "signature"), ("safe", "msg_signature")])
async def test_a_bad_signature_is_refused_with_403_and_nothing_stored(
    start: Start, mode: str, tamper: str
) -> None:
    async with start(mode) as (wechat, _):
        resp = await wechat.post(message("伪造", 3001), tamper=tamper)
        assert resp.status == 403
        assert await ChannelEvent.all().count() == 0


async def test_a_stale_timestamp_is_refused_with_403(start: Start) -> None:
    async with start("safe", max_skew_seconds=300) as (wechat, _):
        resp = await wechat.post(message("旧消息", 3101), timestamp=str(int(time.time()) - 301))
        assert resp.status == 403
        assert await ChannelEvent.all().count() == 0


async def test_safe_mode_refuses_an_unencrypted_message_with_403(start: Start) -> None:
    async with start("safe") as (wechat, _):
        assert (await wechat.post(message("明文", 3201), raw=True)).status == 403
        assert await ChannelEvent.all().count() == 0


async def test_a_message_encrypted_for_another_account_is_refused_with_403(start: Start) -> None:
    async with start("safe") as (wechat, _):
        wechat.crypto = WeChatCrypto(TOKEN, AES_KEY, "wx_another_account")
        resp = await wechat.post(message("发给别的公众号", 3301))
        assert resp.status == 403 and "AppID" in await resp.text()
        assert await ChannelEvent.all().count() == 0


def _zeros_encrypted() -> str:
    """Two AES blocks of zero bytes under our key, as WeChat's scheme encrypts (CBC, the IV the
    key's first 16 bytes): it decrypts, and then holds neither padding nor a length."""
    key = base64.b64decode(AES_KEY + "=")
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(bytes(32)) + encryptor.finalize()).decode()


@pytest.mark.parametrize(
    "encrypt",
    [
        base64.b64encode(b"twenty bytes, no AES").decode(),  # not whole AES blocks
        "这不是base64",
        _zeros_encrypted(),
    ],
)
async def test_a_signed_encrypt_field_that_does_not_decrypt_is_refused_with_400(
    start: Start, encrypt: str
) -> None:
    async with start("safe") as (wechat, _):
        query = wechat.signed()
        signer = WeChatSigner()
        signer.add_data(TOKEN, query["timestamp"], query["nonce"], encrypt)
        query |= {"encrypt_type": "aes", "msg_signature": signer.signature}
        body = f"<xml><ToUserName>{ACCOUNT}</ToUserName><Encrypt>{encrypt}</Encrypt></xml>"
        resp = await wechat.client.post(PATH, params=query, data=body.encode())
        assert resp.status == 400
        assert await ChannelEvent.all().count() == 0


@pytest.mark.parametrize("mode", ["plain", "safe"])
async def test_the_same_msgid_twice_is_stored_once(start: Start, mode: str) -> None:
    async with start(mode) as (wechat, state):
        for _ in range(2):  # WeChat's retry: same MsgId, new signature
            resp = await wechat.post(message("重复的留言", 4001))
            assert await resp.text() == "success"
        await relay(state).wait_idle()
        assert await ChannelEvent.filter(key="msg:4001").count() == 1
        assert await Comment.filter(remote_id="msg:4001").count() == 1


# -- replays of a signed query, and the query's timestamp and nonce ---------------------------
@pytest.mark.parametrize("mode", ["plain", "compatible"])
async def test_a_signed_query_replayed_with_another_body_and_msgid_is_refused_and_not_stored(
    start: Start, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with start(mode) as (wechat, state):
        # As WeChat sends it: plain, or in compatible mode encrypted (encrypt_type=aes)
        query, body = wechat.request(message("原来的留言", 6101))
        assert await (await wechat.send(query, body)).text() == "success"
        # The captured query with another body; in compatible mode stripped of encrypt_type and
        # msg_signature, so that its unsigned plaintext would be read
        plain = {k: v for k, v in query.items() if k not in ("encrypt_type", "msg_signature")}
        with caplog.at_level(logging.WARNING, logger="bot.web.callbacks.wechat"):
            replay = await wechat.send(plain, message("伪造的留言", 6102).encode())
        assert replay.status == 403
        assert "replay of a signed query with a different body" in caplog.text
        # WeChat's own retry of the original still gets through after the refused replay
        assert await (await wechat.send(query, body)).text() == "success"
        await relay(state).wait_idle()
        assert not await ChannelEvent.filter(key="msg:6102").exists()
        assert not await Comment.filter(remote_id="msg:6102").exists()
        assert await ChannelEvent.filter(key="msg:6101").count() == 1
        assert (await comment_for(6101)).original_text == "原来的留言"


@pytest.mark.parametrize("mode", ["plain", "compatible", "safe"])
async def test_wechats_identical_retries_are_accepted_and_stored_once(
    start: Start, mode: str
) -> None:
    async with start(mode) as (wechat, state):
        query, body = wechat.request(message("重试的留言", 6201))
        for _ in range(3):  # WeChat's three tries: the very same query and body
            resp = await wechat.send(query, body)
            assert resp.status == 200 and await resp.text() == "success"
        await relay(state).wait_idle()
        assert await ChannelEvent.filter(key="msg:6201").count() == 1
        assert await Comment.filter(remote_id="msg:6201").count() == 1


async def test_a_replay_after_the_window_is_stale_and_the_memory_has_forgotten_the_query(
    start: Start,
) -> None:
    now = [1_700_000_000.0]
    async with start("plain", clock=lambda: now[0], max_skew_seconds=300) as (wechat, state):
        query, body = wechat.request(message("窗口内", 6301), timestamp=str(int(now[0])))
        assert (await wechat.send(query, body)).status == 200
        assert state.replays is not None and len(state.replays) == 1
        now[0] += 2 * 300 + 1  # past the time any replay of it could still be fresh
        replay = await wechat.send(query, message("窗口外", 6302).encode())
        assert replay.status == 403 and await replay.text() == "时间戳已过期"
        later = message("窗口后的新留言", 6303)
        assert (await wechat.post(later, timestamp=str(int(now[0])))).status == 200
        assert len(state.replays) == 1  # the new query only: the old one was let go
        assert not await ChannelEvent.filter(key="msg:6302").exists()


def _now_in_arabic_indic_digits() -> str:
    """Now, in digits int() reads as well as ASCII ones."""
    return str(int(time.time())).translate({ord("0") + i: 0x0660 + i for i in range(10)})


@pytest.mark.parametrize("mode", ["plain", "safe", "compatible"])
@pytest.mark.parametrize(
    ("timestamp", "nonce"),
    [
        ("9" * 400, None),  # signed: int() took it, the float arithmetic overflowed (500)
        ("-" + "9" * 400, None),
        (_now_in_arabic_indic_digits(), None),
        (None, "n" * 400),
        (None, "<随机&数>"),  # the nonce goes into the encrypted answer's XML as it is
    ],
    ids=["400-digits", "minus-400-digits", "arabic-indic-digits", "long-nonce", "markup-nonce"],
)
async def test_a_signed_query_with_a_malformed_timestamp_or_nonce_is_refused_with_403(
    start: Start, mode: str, timestamp: str | None, nonce: str | None
) -> None:
    async with start(mode) as (wechat, _):
        query, body = wechat.request(message("时间戳", 6401), timestamp=timestamp, nonce=nonce)
        resp = await wechat.send(query, body)
        assert resp.status == 403
        assert await ChannelEvent.all().count() == 0
        check = await wechat.client.get(PATH, params=query | {"echostr": "e1"})
        assert check.status == 403


@pytest.mark.parametrize("mode", ["plain", "safe"])
@pytest.mark.parametrize("created", ["9" * 400, "1" * 19, "1_700_000_000"])
async def test_a_create_time_that_is_no_bounded_integer_is_refused_with_400(
    start: Start, mode: str, created: str
) -> None:
    xml = message("创建时间", 6501).replace(f"<CreateTime>{int(time.time())}", "<CreateTime>")
    xml = xml.replace("<CreateTime>", f"<CreateTime>{created}", 1)
    async with start(mode) as (wechat, _):
        resp = await wechat.post(xml)
        assert resp.status == 400 and "CreateTime" in await resp.text()
        assert await ChannelEvent.all().count() == 0


@pytest.mark.parametrize("mode", ["plain", "safe"])
async def test_malformed_xml_is_refused_with_400(start: Start, mode: str) -> None:
    async with start(mode) as (wechat, _):
        assert (await wechat.post("<xml><MsgType>text</MsgType><Content>")).status == 400
        assert (await wechat.post("<xml><Content>无类型</Content></xml>")).status == 400
        assert await ChannelEvent.all().count() == 0


async def test_an_oversize_body_is_refused_with_413_announced_or_streamed(start: Start) -> None:
    async with start("plain", max_body_bytes=4096) as (wechat, _):
        big = message("长" * 3000, 5001)
        assert (await wechat.post(big)).status == 413

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked transfer
            for _ in range(64):
                yield b"x" * 1024

        resp = await wechat.client.post(PATH, params=wechat.signed(), data=chunks())
        assert resp.status == 413
        assert await ChannelEvent.all().count() == 0


@pytest.mark.parametrize("mode", ["plain", "safe"])
async def test_billion_laughs_is_refused_with_400(start: Start, mode: str) -> None:
    async with start(mode) as (wechat, _):
        resp = await wechat.post(BILLION_LAUGHS)
        assert resp.status == 400
        assert "XML" in await resp.text()
        assert await ChannelEvent.all().count() == 0


async def test_an_unknown_event_is_acknowledged_and_stored(start: Start) -> None:
    async with start("safe") as (wechat, _):
        resp = await wechat.post(event("SOME_FUTURE_EVENT", "<Detail>x</Detail>", at=1700000000))
        assert resp.status == 200 and await resp.text() == "success"
        row = await ChannelEvent.get(key=f"SOME_FUTURE_EVENT:{OPENID}:1700000000")
        assert row.kind == "SOME_FUTURE_EVENT" and row.payload["Detail"] == "x"
        assert row.at == datetime.fromtimestamp(1700000000, UTC)


async def test_publish_job_finish_is_stored_as_the_contract_event(start: Start) -> None:
    info = (
        "<PublishEventInfo><publish_id>2247503051</publish_id><publish_status>2</publish_status>"
        "<article_id><![CDATA[b5O2OUs25HBxRceL7hfReg]]></article_id><article_detail>"
        "<count>2</count><item><idx>1</idx><article_url><![CDATA[https://mp.weixin.qq.com/s/a]]>"
        "</article_url></item><item><idx>2</idx><article_url><![CDATA[https://mp.weixin.qq.com"
        "/s/b]]></article_url></item></article_detail><fail_idx>1</fail_idx><fail_idx>2</fail_idx>"
        "</PublishEventInfo>"
    )
    async with start("safe") as (wechat, _):
        assert await (await wechat.post(event("PUBLISHJOBFINISH", info))).text() == "success"
        row = await ChannelEvent.get(channel="wechat", key="publish:2247503051")
        assert row.kind == "PUBLISHJOBFINISH"
        assert row.payload == {
            "publish_id": "2247503051",
            "publish_status": 2,
            "article_id": "b5O2OUs25HBxRceL7hfReg",
            "article_urls": ["https://mp.weixin.qq.com/s/a", "https://mp.weixin.qq.com/s/b"],
            "fail_idx": [1, 2],
        }


async def test_mass_send_job_finish_is_stored_as_the_contract_event(start: Start) -> None:
    extra = (
        "<MsgID>1000001625</MsgID><Status><![CDATA[send success]]></Status>"
        "<TotalCount>100</TotalCount><FilterCount>90</FilterCount><SentCount>88</SentCount>"
        "<ErrorCount>2</ErrorCount>"
    )
    async with start("safe") as (wechat, _):
        assert (await wechat.post(event("MASSSENDJOBFINISH", extra))).status == 200
        row = await ChannelEvent.get(channel="wechat", key="masssend:1000001625")
        assert row.kind == "MASSSENDJOBFINISH"
        assert row.payload == {
            "msg_id": "1000001625",
            "status": "send success",
            "total_count": 100,
            "sent_count": 88,
            "error_count": 2,
        }


async def test_subscribe_and_unsubscribe_are_counted_by_shanghai_day(start: Start) -> None:
    # 2024-03-01 23:30 Shanghai is still 15:30 UTC on the 1st; 00:30 on the 2nd is 16:30 UTC.
    late_first = int(datetime(2024, 3, 1, 15, 30, tzinfo=UTC).timestamp())
    early_second = int(datetime(2024, 3, 1, 16, 30, tzinfo=UTC).timestamp())
    async with start("safe", max_skew_seconds=300) as (wechat, _):
        await wechat.post(event("subscribe", openid="oA", at=late_first))
        await wechat.post(event("subscribe", openid="oB", at=early_second))
        await wechat.post(event("subscribe", openid="oB", at=early_second))  # WeChat's retry
        await wechat.post(event("unsubscribe", openid="oA", at=early_second + 60))
        days = await follower_counts(date(2024, 3, 1), date(2024, 3, 3))
        assert [(d.day.day, d.subscribed, d.unsubscribed, d.net) for d in days] == [
            (1, 1, 0, 1),
            (2, 1, 1, 0),
            (3, 0, 0, 0),
        ]


async def test_get_echoes_echostr_only_with_a_valid_signature(start: Start) -> None:
    async with start("safe") as (wechat, _):
        query = {**wechat.signed(), "echostr": "5837397749890527417"}
        resp = await wechat.client.get(PATH, params=query)
        assert resp.status == 200 and await resp.text() == "5837397749890527417"
        query["signature"] = "0" * 40
        assert (await wechat.client.get(PATH, params=query)).status == 403


@pytest.mark.parametrize("mode", ["plain", "safe"])
async def test_a_message_matching_a_faq_gets_an_immediate_auto_reply(
    start: Start, mode: str
) -> None:
    async with start(mode) as (wechat, state):
        await indexed_faq(
            "如何申请政府信息公开",
            "可通过网上申请、信函申请或当面申请提交政府信息公开申请。",
            ["依申请公开", "申请方式"],
        )
        await state.inbox.refresh_knowledge()  # type: ignore[union-attr]
        resp = await wechat.post(message("如何申请政府信息公开？", 6001))
        assert resp.status == 200
        reply = wechat.open_reply(await resp.text())
        assert reply.type == "text" and reply.target == OPENID and reply.source == ACCOUNT
        assert reply.content.startswith("可通过网上申请")
        again = wechat.open_reply(
            await (await wechat.post(message("如何申请政府信息公开？", 6001))).text()
        )
        assert again.content == reply.content  # WeChat's retry gets the same answer
        other = await wechat.post(message("今天天气很好", 6002))
        assert await other.text() == "success"
        await relay(state).wait_idle()
        comment = await comment_for(6001)
        notes = await CommentNote.filter(comment_id=comment.id).values_list("text", flat=True)
        assert notes == [f"自动回复：{reply.content}"]
        assert AUTO_REPLY_FLAG in comment.flags
        assert AUTO_REPLY_FLAG not in (await comment_for(6002)).flags


async def test_a_held_inbox_never_delays_the_answer(start: Start) -> None:
    async with start("safe", inbox=HeldInbox) as (wechat, state):
        inbox = state.inbox
        assert isinstance(inbox, HeldInbox)
        assert await (await wechat.post(message("第一条", 7001))).text() == "success"
        await inbox.entered.wait()  # the worker is now stuck inside the inbox
        for msg_id in (7002, 7003):
            resp = await wechat.post(message("后来的留言", msg_id))
            assert resp.status == 200 and await resp.text() == "success"
        assert not inbox.release.is_set()
        assert await ChannelEvent.filter(kind="message", handled_at=None).count() == 3
        assert await Comment.all().count() == 0
        inbox.release.set()
        await relay(state).wait_idle()
        assert await Comment.filter(remote_id__in=["msg:7001", "msg:7002", "msg:7003"]).count() == 3


async def test_a_full_queue_still_stores_and_the_sweep_delivers(start: Start) -> None:
    async with start("plain", inbox=HeldInbox, queue_size=1, workers=1) as (wechat, state):
        inbox = state.inbox
        assert isinstance(inbox, HeldInbox)
        await wechat.post(message("一", 8001))
        await inbox.entered.wait()  # 8001 is with the worker, 8002 fills the queue
        await wechat.post(message("二", 8002))
        resp = await wechat.post(message("三", 8003))  # queue full: stored, acknowledged
        assert await resp.text() == "success"
        inbox.release.set()
        await relay(state).wait_idle()
        assert not await Comment.filter(remote_id="msg:8003").exists()
        assert await relay(state).sweep(older_than=None) == 1
        assert (await comment_for(8003)).original_text == "三"


async def test_a_message_the_inbox_fails_on_waits_before_it_is_tried_again(start: Start) -> None:
    async with start("plain", inbox=BrokenInbox, workers=1) as (wechat, state):
        inbox = state.inbox
        assert isinstance(inbox, BrokenInbox)
        await wechat.post(message("坏", 8101))
        await wechat.post(message("好", 8102))
        await relay(state).wait_idle()
        assert (await comment_for(8102)).original_text == "好"
        assert not await Comment.filter(remote_id="msg:8101").exists()
        tried = inbox.tries.count("坏")
        # The row stays unhandled; the sweeps right after leave it alone for now.
        assert await relay(state).sweep(older_than=None) == 1
        assert await relay(state).sweep(older_than=None) == 1
        assert inbox.tries.count("坏") == tried
        assert await ChannelEvent.filter(key="msg:8101", handled_at=None).exists()


async def test_rows_stored_before_a_crash_reach_the_inbox_on_the_next_start(
    start: Start, db_url: str
) -> None:
    await db.init(wechat_config(db_url, "plain"))
    # What a process that acknowledged the message and died before the worker ran left behind.
    await store(classify(parse_xml(message("崩溃前收到的留言", 9001))))
    await db.close()
    async with start("plain") as (_, state):
        await relay(state).wait_idle()
        assert (await comment_for(9001)).original_text == "崩溃前收到的留言"
        assert await ChannelEvent.filter(handled_at=None).count() == 0


async def test_with_relay_in_workers_the_callback_only_stores_and_one_worker_relays(
    start: Start,
) -> None:
    async with start("safe", relay_in_workers=True, worker_poll_seconds=0.05) as (wechat, state):
        resp = await wechat.post(message("社保卡怎么补办？", 9301))
        assert resp.status == 200 and await resp.text() == "success"
        assert state.relay is None  # no triage in the web process
        assert await ChannelEvent.filter(key="msg:9301", handled_at=None).exists()
        assert not await Comment.filter(remote_id="msg:9301").exists()
        # What two worker processes run (scheduler/worker.py): the one holding the lease polls.
        key = AUTHOR_KEY.encode()
        workers = [
            MessageRelay(state.config, Inbox(state.config), key, beside_callback=False, owner=o)
            for o in ("w1", "w2")
        ]
        for worker in workers:
            await worker.start()
        try:
            await wechat.post(message("第二条留言", 9302))
            for _ in range(500):  # up to 10 s
                if await Comment.filter(remote_id__in=["msg:9301", "msg:9302"]).count() == 2:
                    break
                await asyncio.sleep(0.02)
            assert (await ChannelState.get(key="wechat.relay")).lock_owner == "w1"
            await workers[0].stop()  # gives the lease back: the other worker goes on
            await wechat.post(message("第三条留言", 9303))
            for _ in range(500):
                if await Comment.filter(remote_id="msg:9303").exists():
                    break
                await asyncio.sleep(0.02)
            assert (await ChannelState.get(key="wechat.relay")).lock_owner == "w2"
        finally:
            for worker in workers:
                await worker.stop()
        assert (await comment_for(9303)).original_text == "第三条留言"
        assert await ChannelEvent.filter(kind="message", handled_at=None).count() == 0


async def test_a_worker_renews_the_relay_lease_during_a_long_sweep_and_stops_once_it_is_lost(
    start: Start,
) -> None:
    # A backlog after a burst takes a worker longer than its lease: it renews the lease as it
    # goes, and should the lease still lapse (a batch longer than the lease), it stops at the
    # next batch rather than sweep beside the worker that took over.
    cfg = {"relay_in_workers": True, "worker_poll_seconds": 0.05, "batch_size": 1}
    async with start("plain", **cfg) as (wechat, state):
        texts = ["第一条", "第二条", "第三条", "第四条"]
        for n, text in enumerate(texts):
            assert (await wechat.post(message(text, 9401 + n))).status == 200
        inbox = SteppedInbox(state.config)
        worker = MessageRelay(
            state.config, inbox, AUTHOR_KEY.encode(), beside_callback=False, owner="w1"
        )
        await worker.start()
        try:
            await inbox.next_batch()
            first = (await ChannelState.get(key="wechat.relay")).lock_until
            assert first is not None
            await asyncio.sleep(0.1)  # longer than a poll: the next batch renews first
            inbox.permits.release()
            await inbox.next_batch()
            lease = await ChannelState.get(key="wechat.relay")
            assert lease.lock_owner == "w1" and lease.lock_until and lease.lock_until > first
            # The lease lapses in the middle of this batch, and another worker takes it.
            await ChannelState.filter(key="wechat.relay").update(
                lock_until=datetime(2000, 1, 1, tzinfo=UTC)
            )
            assert await hold_lease("wechat.relay", "w2", 60)
            await asyncio.sleep(0.1)
            inbox.permits.release()
            await asyncio.sleep(0.3)  # several polls: w1 takes nothing more
            assert inbox.batches == [["第一条"], ["第二条"]]
        finally:
            inbox.permits.release()
            await worker.stop()
        handled = ChannelEvent.filter(kind="message", handled_at__isnull=False)
        assert sorted(await handled.values_list("key", flat=True)) == ["msg:9401", "msg:9402"]


async def test_the_endpoint_is_absent_when_wechat_is_disabled(start: Start) -> None:
    async with start("plain", enabled=False) as (wechat, state):
        assert (await wechat.post(message("无人接收", 9101))).status == 404
        assert state.relay is None


async def test_the_writer_stores_each_key_once_on_each_backend(backend_url: str) -> None:
    await db.init(wechat_config(backend_url), check_schema=False)
    await db.upgrade()
    try:
        first = classify(parse_xml(message("批量写入", 9201)))
        again = classify(parse_xml(message("批量写入", 9201)))
        other = classify(parse_xml(event("subscribe", at=1700000000)))
        writer = EventWriter()
        stored = await asyncio.gather(
            writer.store(first, "答复"), writer.store(again), writer.store(other)
        )
        assert [s.created for s in stored] == [True, False, True]
        assert stored[0].id == stored[1].id and stored[1].payload["auto_reply"] == "答复"
        retry = await writer.store(classify(parse_xml(message("批量写入", 9201))))
        assert not retry.created and retry.payload["text"] == "批量写入"
        rows = await ChannelEvent.all().order_by("id")
        assert [(r.key, r.handled_at is None) for r in rows] == [
            ("msg:9201", True),
            (f"subscribe:{OPENID}:1700000000", False),
        ]
        assert rows[0].payload["auto_reply"] == "答复"
    finally:
        await db.close()


async def test_each_callback_answer_is_timed_into_the_metrics(start: Start) -> None:
    async with start("safe") as (wechat, state):
        assert (await wechat.post(message("营业执照怎么办理？", 3001))).status == 200
        await relay(state).wait_idle()
        text = await (await wechat.client.get("/metrics")).text()
        count = next(
            line
            for line in text.splitlines()
            if line.startswith("gongkai_callback_latency_seconds_count")
            and 'channel="wechat"' in line
        )
        assert float(count.rsplit(" ", 1)[1]) == 1
