"""The WeChat channel when things go wrong, against the simulator over real HTTP through the
dispatcher: a worker dying between draft and publish, lost answers, the daily quota and the
next day's retry, token invalidation (one refresh, never a loop), failed and slow publish jobs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.models import ChannelEvent, Delivery
from tests.channels.test_wechat import BODY, WechatEnv, make_env
from tests.waiting import wait_until


@pytest.fixture
async def env(backend_url: str) -> AsyncIterator[WechatEnv]:
    async for e in make_env(backend_url):
        yield e


async def test_crash_between_draft_and_publish_resumes_without_a_second_draft(
    env: WechatEnv,
) -> None:
    gate = env.sim.faults.hold("freepublish/submit")
    item = await env.approved(body=BODY)
    first = env.dispatcher("dies")
    await first.start()
    for _ in range(200):
        if env.sim.faults.held["freepublish/submit"]:
            break
        await asyncio.sleep(0.02)
    assert env.sim.faults.held["freepublish/submit"] == 1
    assert len(env.sim.ledger.drafts) == 1
    await first.stop(grace=0)  # the worker dies with the submit in flight
    gate.set()
    await asyncio.sleep(0.1)
    assert env.sim.ledger.publications == {}  # the request never reached WeChat
    assert "media_id" in (await env.delivery(item)).checkpoint
    await env.dispatcher("takes-over").run_until_idle()
    d = await env.delivery(item)
    assert d.status == "done", d.last_error
    assert len(env.sim.ledger.drafts) == 1
    assert len(env.sim.ledger.publications) == 1
    assert len(env.sim.ledger.images) == 2  # images were not uploaded again either


async def test_lost_draft_answer_is_looked_up_not_sent_again(backend_url: str) -> None:
    async for env in make_env(backend_url, timeout_seconds=0.5):
        env.sim.faults.lose_answer["draft/add"] = 1
        env.sim.faults.lost_answer_seconds = 1.5
        item = await env.approved()
        await env.run()
        for _ in range(5):
            if (await env.delivery(item)).status == "done":
                break
            await asyncio.sleep(0.3)
            await env.run()
        d = await env.delivery(item)
        assert d.status == "done", d.last_error
        assert len(env.sim.ledger.drafts) == 1
        assert len(env.sim.ledger.publications) == 1


async def test_daily_quota_waits_for_beijing_midnight_then_publishes_next_day(
    env: WechatEnv,
) -> None:
    env.sim.quotas.daily["freepublish/submit"] = 1
    first = await env.approved("第一篇")
    await env.run()
    assert (await env.delivery(first)).status == "done"
    second = await env.approved("第二篇")
    await env.run()
    d = await env.delivery(second)
    assert (d.status, d.error_class) == ("pending", "rate_limited")
    assert "45009" in d.last_error
    assert d.next_attempt_at > datetime.now(UTC) + timedelta(seconds=50)
    assert d.next_attempt_at <= datetime.now(UTC) + timedelta(days=1, minutes=2)
    # The next day: quotas reset on WeChat's side, and our retry time has come.
    env.sim.next_day()
    await Delivery.filter(id=d.id).update(next_attempt_at=datetime.now(UTC))
    await env.run()
    d = await env.delivery(second)
    assert d.status == "done", d.last_error
    assert len(env.sim.ledger.drafts) == 2  # the second item's draft was made once
    assert len(env.sim.ledger.publications) == 2


async def test_token_invalidated_mid_run_refreshes_once_and_succeeds(env: WechatEnv) -> None:
    first = await env.approved("第一篇")
    await env.run()
    assert (await env.delivery(first)).status == "done"
    env.sim.invalidate_tokens()
    second = await env.approved("第二篇")
    await env.run()
    d = await env.delivery(second)
    assert (d.status, d.attempts) == ("done", 1)
    assert env.sim.ledger.force_refreshes == 1


async def test_repeated_token_error_does_not_loop(env: WechatEnv) -> None:
    env.sim.faults.fail("draft/add", 40001, 40001, 40001, 40001, 40001)
    item = await env.approved()
    await env.run(3)
    d = await env.delivery(item)
    # One forced refresh and one retry, then one more attempt from the dispatcher; but a
    # second forced refresh within 30 s is not asked for (stable_token: S1 S3), so that attempt
    # waits for the 30 s to pass instead.
    assert (d.status, d.error_class, d.attempts) == ("pending", "rate_limited", 2)
    assert d.next_attempt_at > datetime.now(UTC) + timedelta(seconds=20)
    assert (env.sim.ledger.force_refreshes, env.sim.ledger.force_refused) == (1, 0)
    assert env.sim.faults.errcodes["draft/add"] == [40001, 40001]
    assert env.sim.ledger.drafts == {}


@pytest.mark.parametrize(("status", "words"), [(3, "常规失败"), (4, "审核不通过")])
async def test_failed_publish_job_is_permanent_with_wechats_reason(
    env: WechatEnv, status: int, words: str
) -> None:
    env.sim.next_publish_status.append(status)
    item = await env.approved()
    await env.run()
    d = await env.delivery(item)
    assert (d.status, d.error_class) == ("dead", "permanent")
    assert words in d.last_error and f"publish_status={status}" in d.last_error
    assert len(env.sim.ledger.publications) == 1


async def test_publish_result_comes_from_the_callback_event_without_polling(
    backend_url: str,
) -> None:
    async for env in make_env(backend_url, publish_poll_minutes=60):
        env.sim.publish_delay = 0.3
        item = await env.approved()
        await env.run()
        d = await env.delivery(item)
        assert d.status == "done", d.last_error
        assert env.sim.ledger.calls["freepublish/get"] == 0
        event = await ChannelEvent.get(
            channel="wechat", key=f"publish:{d.checkpoint['publish_id']}"
        )
        assert event.payload["article_id"] == d.remote_id
        assert [m["Event"] for m in env.received] == ["PUBLISHJOBFINISH"]


async def test_still_running_publish_comes_back_later_and_never_resubmits(
    backend_url: str,
) -> None:
    async for env in make_env(backend_url, publish_wait_seconds=0, publish_poll_minutes=60):
        env.sim.publish_delay = 0.5
        env.sim.callback.url = ""  # no event: only a later poll can tell
        item = await env.approved()
        await env.run()
        d = await env.delivery(item)
        assert (d.status, d.error_class) == ("pending", "waiting")
        assert d.next_attempt_at > datetime.now(UTC) + timedelta(minutes=50)

        def job_finished(e: WechatEnv = env) -> bool:  # on WeChat's side, 0.5 s after submit
            return [p["status"] for p in e.sim.ledger.publications.values()] == [0]

        await wait_until(job_finished, 5, "WeChat to finish the publish job")
        checkpoint = dict(d.checkpoint, polled_at=0)  # the poll interval has passed
        await Delivery.filter(id=d.id).update(
            next_attempt_at=datetime.now(UTC), checkpoint=checkpoint
        )
        await env.run()
        d = await env.delivery(item)
        assert d.status == "done", d.last_error
        assert len(env.sim.ledger.publications) == 1
        assert env.sim.ledger.calls["freepublish/get"] == 1
