"""The WeChat channel against the WeChat simulator over real HTTP on 127.0.0.1, through the
dispatcher: publishing with images and a cover, resuming after a crash without a second draft,
the daily quota and the next day's retry, token invalidation, lost answers, retraction; and the
image checks (type, size, pixels read from the header) on their own."""

from __future__ import annotations

import random
import struct
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
import xmltodict
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import given, settings
from hypothesis import strategies as st
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import check_signature

from bot import db
from bot.config import Config
from bot.items import lifecycle
from bot.items.schemas import ItemCreate
from bot.models import ChannelEvent, Delivery, Item
from bot.outbox.channel_set import build_channels, retract_support
from bot.outbox.dispatcher import Dispatcher
from bot.outbox.wakeup import Wakeup
from channels.base import PermanentError
from channels.sandbox.wechat import Callback, WechatSimulator
from channels.wechat.channel import WechatChannel
from channels.wechat.media import check_image, image_size
from tests.conftest import Staff, create_staff, make_config

APP_ID, SECRET = "wx-test", "test-secret"  # make_config's GONGKAI_WEBHOOK_SECRET
TOKEN, AES_KEY = "cb-token", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


def png(width: int = 8, height: int = 8, rows: int | None = None) -> bytes:
    """An RGB PNG of width x height; with `rows`, its IDAT holds only that many rows (a header
    claiming a huge picture in a small file)."""
    if rows is None:
        raw = (b"\x00" + b"\x10\x20\x30" * width) * height
    else:
        raw = (b"\x00" + b"\x10\x20\x30" * min(width, 64)) * rows

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        return struct.pack(">I", len(data)) + kind + data + crc

    head = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", head)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def jpeg(width: int = 16, height: int = 16) -> bytes:
    """SOI, APP0 (JFIF), a frame header (SOF0) of width x height, filler, EOI: enough for
    WeChat's checks and ours, which read headers and decode nothing."""
    app0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0\x00\x11\x08" + struct.pack(">HH", height, width) + b"\x03\x01\x22\x00"
    sof += b"\x02\x11\x01\x03\x11\x01"
    return b"\xff\xd8" + app0 + sof + bytes(200) + b"\xff\xd9"


JPEG = jpeg()
SITE_FILES = {
    "one.png": png(),
    "two.jpg": JPEG,
    "huge.png": png() + random.Random(1).randbytes(1_100_000),  # over 1 MB
    "anim.gif": b"GIF89a" + bytes(64),
    "bomb.png": png(40_000, 40_000, rows=1),  # a few hundred bytes, 1.6 billion pixels
    "wide.jpg": jpeg(2001, 500),
}


@dataclass
class WechatEnv:
    config: Config
    staff: Staff
    sim: WechatSimulator
    received: list[dict[str, Any]] = field(default_factory=list)

    def dispatcher(self, owner: str = "w1") -> Dispatcher:
        return Dispatcher(self.config, build_channels(self.config), Wakeup(), owner=owner)

    def channel(self) -> WechatChannel:
        channel = build_channels(self.config)["wechat"]
        assert isinstance(channel, WechatChannel)
        return channel

    async def approved(self, title: str = "关于开展政务公开日活动的通知", **extra: Any) -> Item:
        data = {"kind": "notice", "title": title, "body": "活动安排如下。", "office": "办公室"}
        data.update(extra)
        item = await lifecycle.create_item(
            ItemCreate.model_validate(data), self.staff.editor, self.config
        )
        await lifecycle.submit(item.id, self.staff.editor, self.config)
        return await lifecycle.approve(item.id, self.staff.reviewer, self.config)

    async def delivery(self, item: Item, action: str = "publish") -> Delivery:
        return await Delivery.get(item_id=item.id, channel="wechat", action=action)

    async def run(self, rounds: int = 1) -> None:
        for _ in range(rounds):
            await self.dispatcher().run_until_idle()


def site_app() -> web.Application:
    """Our public site as far as article images go: files under /files/."""

    async def serve(request: web.Request) -> web.Response:
        data = SITE_FILES.get(request.match_info["name"])
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="application/octet-stream")

    app = web.Application()
    app.router.add_get("/files/{name}", serve)
    return app


def receiver_app(received: list[dict[str, Any]]) -> web.Application:
    """Stands in for the bot's callback endpoint (bot/web/callbacks/wechat.py): checks the
    signature, decrypts with wechatpy and stores publish results as ChannelEvent rows in the
    shape of the contract."""

    async def receive(request: web.Request) -> web.Response:
        q = request.query
        check_signature(TOKEN, q["signature"], q["timestamp"], q["nonce"])
        crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
        plain = crypto.decrypt_message(
            await request.text(), q["msg_signature"], q["timestamp"], q["nonce"]
        )
        msg = xmltodict.parse(plain)["xml"]
        received.append(msg)
        if msg.get("Event") == "PUBLISHJOBFINISH":
            info = msg["PublishEventInfo"]
            items = (info.get("article_detail") or {}).get("item") or []
            items = [items] if isinstance(items, dict) else items
            fail = info.get("fail_idx") or []
            payload = {
                "publish_id": info["publish_id"],
                "publish_status": int(info["publish_status"]),
                "article_id": info.get("article_id") or "",
                "article_urls": [i["article_url"] for i in items],
                "fail_idx": [int(f) for f in (fail if isinstance(fail, list) else [fail])],
            }
            await ChannelEvent.get_or_create(
                channel="wechat",
                key=f"publish:{info['publish_id']}",
                defaults={"kind": "PUBLISHJOBFINISH", "payload": payload, "at": datetime.now(UTC)},
            )
        return web.Response(text="success")

    app = web.Application()
    app.router.add_post("/wechat/callback", receive)
    return app


async def started(env: WechatEnv) -> AsyncIterator[WechatChannel]:
    """The env's WeChat channel, started, closed afterwards (for channel fixtures)."""
    ch = env.channel()
    await ch.start()
    yield ch
    await ch.close()


async def make_env(db_url: str, **wechat: Any) -> AsyncIterator[WechatEnv]:
    received: list[dict[str, Any]] = []
    site = TestServer(site_app(), host="127.0.0.1")
    await site.start_server()
    callback = Callback("", TOKEN, AES_KEY, APP_ID, "safe")
    callback.timeout = 2
    sim = WechatSimulator(APP_ID, SECRET, callback)
    api = TestServer(sim.app, host="127.0.0.1")
    await api.start_server()
    settings = {
        "enabled": True,
        "app_id": APP_ID,
        "app_secret_env": "GONGKAI_WEBHOOK_SECRET",
        "api_base_url": str(api.make_url("")).rstrip("/"),
        "fallback_base_urls": [],
        "timeout_seconds": 2,
        "publish_wait_seconds": 3,
        "publish_poll_minutes": 0,
        "mass_send_time": "00:00",
    }
    settings.update(wechat)
    config = make_config(
        db_url,
        app={"public_base_url": str(site.make_url("")).rstrip("/")},
        channels={"feed": {"enabled": False}, "wechat": settings},
        review={"check_links": False},
        dispatcher={
            "backoff_base_seconds": 0.05,
            "backoff_max_seconds": 0.2,
            "lease_seconds": 5,
            "max_attempts": 4,
        },
    )
    await db.init(config, check_schema=False)
    await db.upgrade()
    # Started after the database: its handlers inherit the ORM's context.
    hook = TestServer(receiver_app(received), host="127.0.0.1")
    await hook.start_server()
    callback.url = str(hook.make_url("/wechat/callback"))
    try:
        yield WechatEnv(config, await create_staff(), sim, received)
    finally:
        await db.close()
        await api.close()
        await hook.close()
        await site.close()


@pytest.fixture
async def env(backend_url: str) -> AsyncIterator[WechatEnv]:
    async for e in make_env(backend_url):
        yield e


BODY = "活动安排如下。\n\n![现场](/files/one.png)\n\n具体见附图。\n\n![日程](/files/two.jpg)"


async def test_item_published_as_article_with_uploaded_images_and_cover(env: WechatEnv) -> None:
    item = await env.approved(body=BODY, summary="政务公开日活动安排")
    await env.run()
    d = await env.delivery(item)
    assert d.status == "done", d.last_error
    (pub,) = env.sim.ledger.publications.values()
    (article,) = pub["articles"]
    assert d.remote_id == pub["article_id"] and d.remote_url == pub["urls"][0]
    # Both body images were uploaded and the article refers only to WeChat's copies.
    assert [i["name"] for i in env.sim.ledger.images] == ["one.png", "two.jpg"]
    assert "/files/" not in article["content"]
    assert all(i["url"] in article["content"] for i in env.sim.ledger.images)
    # The cover is the first body image, uploaded as thumb material.
    cover = env.sim.ledger.materials[article["thumb_media_id"]]
    assert (cover["type"], cover["name"]) == ("image", "one.png")
    assert article["digest"] == "政务公开日活动安排"
    assert article["content_source_url"].endswith(
        f"/items/{item.id}?gk={d.checkpoint['marker'].split('gk=')[1]}"
    )
    assert (await Item.get(id=item.id)).status == "published"


async def test_item_without_images_gets_the_default_cover(env: WechatEnv) -> None:
    item = await env.approved()
    await env.run()
    assert (await env.delivery(item)).status == "done"
    (material,) = env.sim.ledger.materials.values()
    assert material["name"] == "default_cover.png"
    assert env.sim.ledger.images == []


async def test_image_from_another_site_is_refused_naming_it(env: WechatEnv) -> None:
    item = await env.approved(body="见图：![x](https://elsewhere.example/pic.png)")
    await env.run()
    d = await env.delivery(item)
    assert (d.status, d.error_class) == ("dead", "permanent")
    assert "https://elsewhere.example/pic.png" in d.last_error
    assert env.sim.ledger.drafts == {}


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("huge.png", "超过 1024 KB"),
        ("anim.gif", "JPG"),
        ("bomb.png", "40000 × 40000 像素（16 亿像素），超过图片像素上限 4000 万像素"),
    ],
)
async def test_oversize_or_wrong_type_image_is_permanent_naming_the_file(
    env: WechatEnv, name: str, words: str
) -> None:
    item = await env.approved(body=f"![图](/files/{name})")
    await env.run()
    d = await env.delivery(item)
    assert d.status == "dead"
    assert name in d.last_error and words in d.last_error
    assert env.sim.ledger.images == []


async def test_the_pixel_limit_is_web_media_max_image_pixels(env: WechatEnv) -> None:
    media = env.config.web.media.model_copy(update={"max_image_pixels": 1_000_000})
    web_cfg = env.config.web.model_copy(update={"media": media})
    config = env.config.model_copy(update={"web": web_cfg})
    item = await env.approved(body="![横幅](/files/wide.jpg)")
    await Dispatcher(config, build_channels(config), Wakeup(), owner="w1").run_until_idle()
    d = await env.delivery(item)
    assert (d.status, d.error_class) == ("dead", "permanent")
    assert "wide.jpg" in d.last_error and "2001 × 500 像素" in d.last_error
    assert "上限 100 万像素" in d.last_error
    assert env.sim.ledger.images == []


def test_check_image_refuses_an_image_above_the_pixel_limit_and_takes_one_at_it() -> None:
    assert check_image("a.png", png(1000, 1000, rows=1), 1024 * 1024, max_pixels=1_000_000)
    assert check_image("b.jpg", jpeg(1000, 1000), 1024 * 1024, max_pixels=1_000_000)
    for name, data in (("c.png", png(1000, 1001, rows=1)), ("d.jpg", jpeg(1001, 1000))):
        with pytest.raises(PermanentError, match=rf"「{name}」尺寸为 10\d\d × 10\d\d 像素"):
            check_image(name, data, 1024 * 1024, max_pixels=1_000_000)


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(200) + b"\xff\xd9",  # no frame header
        b"\xff\xd8\xff\xda\x00\x08" + bytes(200) + b"\xff\xd9",  # a scan before any frame
        png()[:20],  # cut inside IHDR
        png(0, 8),
        jpeg(16, 0),
    ],
    ids=["jpeg-no-frame", "jpeg-scan-first", "png-cut", "png-zero-width", "jpeg-zero-height"],
)
def test_check_image_refuses_an_image_whose_size_cannot_be_read(data: bytes) -> None:
    with pytest.raises(PermanentError, match=r"「坏图」无法读取尺寸.*不是有效的 JPG/PNG 图片"):
        check_image("坏图", data, 1024 * 1024, max_pixels=40_000_000)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([b"\xff\xd8", b"\x89PNG\r\n\x1a\n"]), st.binary(max_size=300))
def test_image_size_reads_any_bytes_without_raising(magic: bytes, rest: bytes) -> None:
    size = image_size(magic + rest)
    assert size is None or (size[0] > 0 and size[1] > 0)


async def test_the_article_link_a_delivery_stored_opens_the_article_until_deleted(
    env: WechatEnv,
) -> None:
    # The console's 查看 link is the delivery's remote_url (templates/console/deliveries_table).
    item = await env.approved(body=BODY)
    await env.run()
    d = await env.delivery(item)
    assert d.status == "done", d.last_error
    async with aiohttp.ClientSession() as http:
        async with http.get(d.remote_url) as resp:
            assert (resp.status, resp.content_type) == (200, "text/html")
            page = await resp.text()
        assert f"<h1>{item.title}</h1>" in page and "活动安排如下" in page
        assert "阅读原文" in page and f"/items/{item.id}?gk=" in page
        await lifecycle.retract(
            item.id, env.staff.reviewer, "信息有误", retract_support(env.config)
        )
        await env.run()
        async with http.get(d.remote_url) as resp:
            assert resp.status == 410 and "该内容已被发布者删除" in await resp.text()
        async with http.get(d.remote_url.rsplit("/", 1)[0] + "/no-such_0") as resp:
            assert resp.status == 404


async def test_retraction_deletes_the_published_article(env: WechatEnv) -> None:
    item = await env.approved()
    await env.run()
    article_id = (await env.delivery(item)).remote_id
    outcome = await lifecycle.retract(
        item.id, env.staff.reviewer, "信息有误", retract_support(env.config)
    )
    assert outcome.cannot_retract == []
    await env.run()
    r = await env.delivery(item, "retract")
    assert (r.status, r.remote_id) == ("done", article_id)
    assert env.sim.ledger.deleted == [(article_id, 0)]
    assert env.sim.ledger.articles[article_id]["deleted"] is True
    assert "deleted_at" in r.checkpoint
