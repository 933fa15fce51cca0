"""The WeChat jobs against the simulator over real HTTP: wechat.token refreshes a token close
to expiry in the background (and leaves a fresh one alone), wechat.mass_send sends the day's
群发 once per slot however many processes tick — and never twice a day."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.models import ChannelState, JobSlot
from bot.outbox.channel_state import DbTokenStore
from channels.wechat.token import TOKEN_KEY
from scheduler.jobs import job_specs, run_job
from tests.channels.test_wechat import WechatEnv, make_env
from tests.conftest import make_config
from tests.scheduler.support import context, spec


@pytest.fixture
async def env(backend_url: str) -> AsyncIterator[WechatEnv]:
    async for e in make_env(backend_url):
        yield e


def test_wechat_jobs_are_listed_only_with_wechat_enabled() -> None:
    on = make_config("sqlite://unused.db", channels={"wechat": {"enabled": True}})
    assert {"wechat.token", "wechat.mass_send"} <= {s.name for s in job_specs(on)}
    off = make_config("sqlite://unused.db")
    assert not {"wechat.token", "wechat.mass_send"} & {s.name for s in job_specs(off)}


async def test_token_close_to_expiry_is_refreshed_ahead_and_a_fresh_one_left_alone(
    env: WechatEnv,
) -> None:
    job = spec(env.config, "wechat.token")
    now = datetime.now(UTC)
    first = await run_job(job, context(env.config, "p1"), now)
    assert first is not None and first["fetched"] and first["changed"]
    store = DbTokenStore()
    old = await store.read(TOKEN_KEY)
    assert old is not None and old.value in env.sim.tokens
    assert "access_token" not in str(first) and old.value not in str(first)
    # Two hours on, the token has 200 seconds left (on WeChat's clock and in our store).
    env.sim.advance(old.expires_at.timestamp() - datetime.now(UTC).timestamp() - 200)
    await ChannelState.filter(key=TOKEN_KEY).update(
        expires_at=datetime.now(UTC) + timedelta(seconds=200)
    )
    fetches = env.sim.ledger.token_fetches
    later = now + timedelta(seconds=job.seconds)
    runs = await asyncio.gather(
        *(run_job(job, context(env.config, f"p{i}"), later) for i in range(3))
    )
    (second,) = [r for r in runs if r is not None]
    assert second["fetched"] and second["changed"] and second["seconds_left"] > 7000
    new = await store.read(TOKEN_KEY)
    assert new is not None and new.value != old.value
    assert env.sim.tokens[new.value] > env.sim.now() + 7000  # WeChat took the new one
    assert env.sim.ledger.token_fetches == fetches + 1
    # A fresh token: the next tick asks WeChat for nothing.
    third = await run_job(job, context(env.config, "p1"), later + timedelta(seconds=job.seconds))
    assert third is not None and not third["fetched"] and not third["changed"]
    assert env.sim.ledger.token_fetches == fetches + 1


async def test_mass_send_job_sends_once_per_slot_and_once_a_day(env: WechatEnv) -> None:
    await env.approved("关于开展政务公开日活动的通知", notify=True)
    await env.run()
    job = spec(env.config, "wechat.mass_send")
    now = datetime.now(UTC)
    runs = await asyncio.gather(
        *(run_job(job, context(env.config, f"p{i}"), now) for i in range(3))
    )
    (sent,) = [r for r in runs if r is not None]
    assert sent["status"] == "sent" and sent["msg_id"]
    assert await JobSlot.filter(job="wechat.mass_send").count() == 1
    again = await run_job(job, context(env.config, "p1"), now + timedelta(seconds=job.seconds))
    assert again is not None and again["status"] == "already_sent"
    assert env.sim.ledger.calls["message/mass/sendall"] == 1
