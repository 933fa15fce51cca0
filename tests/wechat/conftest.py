"""The WeChat environment the 群发 tests share: the simulator, the channel and a database on
each backend (tests/channels/test_wechat.py builds them)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.models import Item
from bot.wechat.mass_send import MassSender
from channels.wechat.channel import WechatChannel
from tests.channels.test_wechat import WechatEnv, make_env, started


@pytest.fixture
async def env(backend_url: str) -> AsyncIterator[WechatEnv]:
    async for e in make_env(backend_url):
        yield e


@pytest.fixture
async def channel(env: WechatEnv) -> AsyncIterator[WechatChannel]:
    async for ch in started(env):
        yield ch


async def published_and_mass_sent(
    env: WechatEnv, channel: WechatChannel
) -> tuple[Item, Item, dict[str, Any]]:
    """Two notify items published, then the day's 群发 of both (the first is article 1): the
    items and the simulator's record of the send."""
    first = await env.approved("关于开展政务公开日活动的通知", notify=True, priority=2)
    second = await env.approved("政务公开日活动解读", notify=True, priority=1)
    await env.run()
    outcome = await MassSender(env.config, channel).send_due(datetime.now(UTC))
    assert outcome is not None and outcome.status == "sent", outcome
    (mass,) = env.sim.ledger.mass_sends
    return first, second, mass
