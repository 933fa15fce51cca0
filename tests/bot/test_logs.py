"""Logging ([log]): JSON lines that name the delivery and item during a real dispatch (webhook
simulator on 127.0.0.1, SQLite); ids kept apart between concurrent tasks; the text format."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot import db
from bot.config import LogConfig
from bot.items import lifecycle
from bot.items.schemas import ItemCreate
from bot.logs import configure, log_context
from bot.models import Delivery, Kind
from bot.outbox.channel_set import build_channels
from bot.outbox.dispatcher import Dispatcher
from bot.outbox.wakeup import Wakeup
from channels.sandbox.webhook import LEDGER
from channels.sandbox.webhook import create_app as create_webhook_app
from tests.conftest import create_staff, make_config


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The root logger routed to a buffer in JSON at DEBUG, restored afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, logging.getLogger("tortoise").level)
    stream = io.StringIO()
    configure(LogConfig(format="json", level="DEBUG"), stream)
    yield stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])
    logging.getLogger("tortoise").setLevel(saved[2])


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


@pytest.fixture
async def hook(sqlite_url: str) -> AsyncIterator[TestServer]:
    server = TestServer(create_webhook_app("test-secret"), host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


async def test_json_log_lines_carry_delivery_and_item_ids_during_a_dispatch(
    sqlite_url: str, hook: TestServer, captured: io.StringIO
) -> None:
    config = make_config(
        sqlite_url,
        channels={"webhook": {"enabled": True, "url": str(hook.make_url("/push"))}},
        dispatcher={"backoff_base_seconds": 60, "backoff_max_seconds": 120},
    )
    await db.init(config, check_schema=False)
    await db.upgrade()
    try:
        staff = await create_staff()
        hook.app[LEDGER].faults.extend([400, 503])
        item_ids = []
        for title in ("第一条通知", "第二条通知"):
            item = await lifecycle.create_item(
                ItemCreate(kind=Kind.NOTICE, title=title, body="正文。"), staff.editor, config
            )
            await lifecycle.submit(item.id, staff.editor, config)
            await lifecycle.approve(item.id, staff.reviewer, config)
            item_ids.append(item.id)
        await Dispatcher(config, build_channels(config), Wakeup()).run_until_idle()
        hooks = {d.item_id: d.id for d in await Delivery.filter(channel="webhook")}
    finally:
        await db.close()
    records = [r for r in lines(captured) if r["logger"] == "bot.outbox.dispatcher"]
    webhook = [r for r in records if r.get("channel") == "webhook"]
    assert len(webhook) == 2  # one dead, one retry: a line each
    levels = sorted(r["level"] for r in webhook)
    assert levels == ["INFO", "WARNING"]
    for record in webhook:
        assert record["delivery_id"] == hooks[record["item_id"]]  # the right pair, not mixed
        assert record["action"] == "publish"
        assert "time" in record and "message" in record
    assert {r["item_id"] for r in webhook} == set(item_ids)
    feed = [r for r in records if r.get("channel") == "feed"]
    assert len(feed) == 2 and all(r["level"] == "DEBUG" and r["delivery_id"] for r in feed)


async def test_concurrent_tasks_keep_their_own_ids(captured: io.StringIO) -> None:
    log = logging.getLogger("gongkai.test")

    async def work(delivery_id: int) -> None:
        with log_context(delivery_id=delivery_id, item_id=delivery_id * 10):
            await asyncio.sleep(0.01)
            log.info("working on %s", delivery_id)

    await asyncio.gather(*(work(i) for i in range(1, 6)))
    log.info("outside")
    records = [r for r in lines(captured) if r["logger"] == "gongkai.test"]
    inside = {r["message"]: (r["delivery_id"], r["item_id"]) for r in records[:-1]}
    assert inside == {f"working on {i}": (i, i * 10) for i in range(1, 6)}
    assert "delivery_id" not in records[-1]


async def test_comment_id_and_extra_fields_appear_and_tracebacks_stay_on_one_json_line(
    captured: io.StringIO,
) -> None:
    log = logging.getLogger("gongkai.test")
    with log_context(comment_id=42):
        try:
            raise ValueError("坏数据")
        except ValueError:
            log.exception("triage failed", extra={"stage": "triage"})
    (record,) = [r for r in lines(captured) if r["logger"] == "gongkai.test"]
    assert record["comment_id"] == 42 and record["stage"] == "triage"
    assert record["level"] == "ERROR" and "ValueError: 坏数据" in record["exc_info"]


def test_text_format_appends_the_ids_after_the_message() -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    try:
        configure(LogConfig(format="text", level="INFO"), stream)
        log = logging.getLogger("gongkai.test")
        with log_context(item_id=3, delivery_id=7):
            log.info("sent")
        log.debug("hidden below the level")
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
    text = stream.getvalue()
    assert text.rstrip().endswith("INFO gongkai.test: sent [item_id=3 delivery_id=7]")
    assert "hidden" not in text


async def test_a_request_aiohttp_cannot_parse_is_one_warning_line_not_an_error_traceback(
    captured: io.StringIO,
) -> None:
    """A NUL in a header: aiohttp answers 400 and logs it; our log says so in one line."""
    app = web.Application()
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nX-Probe: \x00\r\n\r\n")
        await writer.drain()
        status = await reader.readline()
        writer.close()
    finally:
        await server.close()
    assert status.split()[1] == b"400"
    refused = [r for r in lines(captured) if r.get("logger") == "aiohttp.server"]
    assert refused and all(r["level"] == "WARNING" for r in refused), refused
    assert all("exc_info" not in r and "malformed request" in r["message"] for r in refused)
