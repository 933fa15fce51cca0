"""The WeChat environment the 群发 tests share: the simulator, the channel and a database on
each backend (tests/channels/test_wechat.py builds them)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from channels.wechat.channel import WechatChannel
from tests.channels.test_wechat import WechatEnv, make_env


@pytest.fixture
async def env(backend_url: str) -> AsyncIterator[WechatEnv]:
    async for e in make_env(backend_url):
        yield e


@pytest.fixture
async def channel(env: WechatEnv) -> AsyncIterator[WechatChannel]:
    ch = env.channel()
    await ch.start()
    yield ch
    await ch.close()
