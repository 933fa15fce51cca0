"""Fixtures for the web app: the real aiohttp application on a real server on 127.0.0.1 over
the migrated SQLite database of tests/conftest.py, and a helper that takes an item through the
real lifecycle and dispatcher until the website feed has published it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.config import Config
from bot.items import lifecycle
from bot.items.schemas import ItemCreate
from bot.models import Item
from bot.outbox.channel_set import build_channels, retract_support
from bot.outbox.dispatcher import Dispatcher
from bot.outbox.wakeup import Wakeup
from bot.site import version as site_version
from bot.web.app import SERVER_LIMITS, create_app
from bot.web.keys import SITE_FOLLOWER
from tests.conftest import Staff
from tests.waiting import wait_until
from tests.web.console.test_auth import Client as ConsoleClient
from tests.web.console.test_auth import client_for, console_db, console_staff

Publish = Callable[..., Awaitable[Item]]


@pytest.fixture
async def cconfig(sqlite_url: str) -> AsyncIterator[Config]:
    """A console configuration on a migrated database of its own (connected)."""
    async with console_db(sqlite_url) as cfg:
        yield cfg


@pytest.fixture
async def cstaff(cconfig: Config) -> Staff:
    return await console_staff()


@pytest.fixture
async def cclient(cconfig: Config, cstaff: Staff) -> AsyncIterator[ConsoleClient]:
    """A client of the console app, its staff created (not logged in)."""
    c = await client_for(cconfig)
    yield c
    await c.close()


def build_app(config: Config) -> web.Application:
    """The application exactly as `gongkai serve` builds it."""
    return create_app(config)


async def site_caught_up(app: web.Application, seconds: float = 10) -> None:
    """Until the app's built pages follow the site version committed now (its follower has
    read it): what a reader gets once a change is announced."""
    committed = await site_version.current()
    follower = app[SITE_FOLLOWER]
    await wait_until(
        lambda: follower.seen is not None and follower.seen >= committed,
        seconds,
        f"the web process to follow site version {committed}",
    )


class SiteClient(TestClient[web.Request, web.Application]):
    """A test client that reads its own writes: each request waits (with a deadline) until the
    app has followed every site change committed before it."""

    async def _request(self, method: str, path: Any, **kwargs: Any) -> Any:
        await site_caught_up(self.app)
        return await super()._request(method, path, **kwargs)


@pytest.fixture
async def client(config: Config) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    server = TestServer(build_app(config), host="127.0.0.1")
    await server.start_server(**SERVER_LIMITS)  # the limits `gongkai run` serves with
    async with SiteClient(server) as test_client:
        yield test_client


async def run_dispatcher(config: Config) -> int:
    """Process every due delivery with the configured channels, as a worker would."""
    return await Dispatcher(config, build_channels(config), Wakeup()).run_until_idle()


@pytest.fixture
def publish(config: Config, staff: Staff) -> Publish:
    """Create an item as the editor, submit, approve as the reviewer, run the dispatcher."""

    async def _publish(**fields: Any) -> Item:
        data: dict[str, Any] = {
            "kind": "notice",
            "title": "关于开展2021年政务公开工作的通知",
            "body": "各处室：\n\n请按照**工作要点**做好政务公开工作。",
            "office": "办公室",
            "doc_number": "沪金管〔2021〕1号",
        }
        data.update(fields)
        if data["kind"] == "policy":  # 成文日期 and 主题分类, or warnings wait for an override
            data = {"written_on": "2021-03-01", "topic": "综合政务", **data}
        item = await lifecycle.create_item(ItemCreate(**data), staff.editor, config)
        if item.kind == "policy":  # a policy goes out only with its interpretation (退文 rule)
            interpretation = ItemCreate.model_validate(
                {
                    "kind": "interpretation",
                    "title": f"《{item.title}》解读",
                    "body": "解读正文",
                    "related_id": item.id,
                    "interpretation_forms": ["图解"],
                }
            )
            await lifecycle.create_item(interpretation, staff.editor, config)
        outcome = await lifecycle.submit(item.id, staff.editor, config)
        assert not [f for f in outcome.findings if f.blocks], outcome.findings
        await lifecycle.approve(item.id, staff.reviewer, config)
        await run_dispatcher(config)
        return await Item.get(id=item.id)

    return _publish


@pytest.fixture
def retract(config: Config, staff: Staff) -> Callable[[int], Awaitable[Item]]:
    """Retract an item as the reviewer and let the dispatcher run the retraction."""

    async def _retract(item_id: int) -> Item:
        await lifecycle.retract(item_id, staff.reviewer, "原因", retract_support(config))
        await run_dispatcher(config)
        return await Item.get(id=item_id)

    return _retract
