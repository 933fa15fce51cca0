"""The dispatcher against the webhook receiver simulator over real HTTP on 127.0.0.1:
retries and error classes, unknown outcomes, missed windows, retraction, lease takeover,
per-channel isolation and wake-ups."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from bot import audit, db
from bot.config import Config
from bot.items import lifecycle
from bot.items.schemas import ItemCreate
from bot.models import Delivery, Item
from bot.outbox.channel_set import build_channels, retract_support
from bot.outbox.dispatcher import Dispatcher
from bot.outbox.store import Outbox
from bot.outbox.wakeup import Wakeup
from channels.base import Channel, ChannelLimits, Content, Job, Published, StillProcessing
from channels.sandbox.webhook import LEDGER, Ledger, create_app
from tests.conftest import Staff, create_staff, make_config
from tests.waiting import sleep_until, wait_until

SECRET = "test-secret"


@dataclass
class Env:
    config: Config
    staff: Staff
    ledger: Ledger
    server: TestServer

    def dispatcher(self, owner: str = "w1") -> Dispatcher:
        return Dispatcher(self.config, build_channels(self.config), Wakeup(), owner=owner)

    async def approved(self, title: str = "关于开展政务公开日活动的通知", **extra: Any) -> Item:
        data = {"kind": "notice", "title": title, "body": "活动安排如下。", "office": "办公室"}
        data.update(extra)
        item = await lifecycle.create_item(
            ItemCreate.model_validate(data), self.staff.editor, self.config
        )
        await lifecycle.submit(item.id, self.staff.editor, self.config)
        return await lifecycle.approve(item.id, self.staff.reviewer, self.config)


async def make_env(
    db_url: str, latency_ms: float = 0, lease_seconds: float = 5, **webhook: Any
) -> AsyncIterator[Env]:
    server = TestServer(create_app(SECRET, latency_ms=latency_ms), host="127.0.0.1")
    await server.start_server()
    hook = {"enabled": True, "url": str(server.make_url("/push")), "timeout_seconds": 5}
    hook.update(webhook)
    config = make_config(
        db_url,
        channels={"webhook": hook},
        dispatcher={
            "backoff_base_seconds": 0.05,
            "backoff_max_seconds": 0.2,
            "lease_seconds": lease_seconds,
            "max_attempts": 4,
        },
    )
    await db.init(config, check_schema=False)
    await db.upgrade()
    try:
        yield Env(config, await create_staff(), server.app[LEDGER], server)
    finally:
        await db.close()
        await server.close()


@pytest.fixture
async def env(backend_url: str) -> AsyncIterator[Env]:
    async for e in make_env(backend_url):
        yield e


async def deliveries(item: Item) -> dict[str, Delivery]:
    return {d.channel: d for d in await Delivery.filter(item_id=item.id, action="publish")}


async def until_due(item: Item, channel: str = "webhook") -> Delivery:
    """Wait out the delivery's backoff: until its next_attempt_at (no wait if it is not
    pending)."""
    delivery = (await deliveries(item))[channel]
    if delivery.status == "pending":
        await sleep_until(delivery.next_attempt_at)
    return delivery


async def test_item_published_on_every_channel_once(env: Env) -> None:
    item = await env.approved()
    assert await env.dispatcher().run_until_idle() == 2
    rows = await deliveries(item)
    assert {c: d.status for c, d in rows.items()} == {"feed": "done", "webhook": "done"}
    assert (await Item.get(id=item.id)).status == "published"
    assert [r["item_id"] for r in env.ledger.received] == [item.id]
    assert rows["webhook"].remote_id == env.ledger.received[0]["id"]
    # Running again publishes nothing more.
    assert await env.dispatcher().run_until_idle() == 0
    assert len(env.ledger.received) == 1


async def test_two_dispatchers_over_the_same_rows_publish_once(env: Env) -> None:
    items = [await env.approved(f"通知 {n}") for n in range(20)]
    first, second = env.dispatcher("w1"), env.dispatcher("w2")
    await asyncio.gather(first.run_until_idle(), second.run_until_idle())
    keys = [r["key"] for r in env.ledger.received]
    assert len(keys) == len(set(keys)) == len(items)
    assert await Delivery.filter(status="done").count() == 2 * len(items)


async def test_transient_errors_retry_with_backoff_until_success(env: Env) -> None:
    env.ledger.faults.extend([503, 502])
    item = await env.approved()
    for _ in range(2):
        await env.dispatcher().run_until_idle()
        assert (await until_due(item)).status == "pending"
    await env.dispatcher().run_until_idle()
    hook = (await deliveries(item))["webhook"]
    assert (hook.status, hook.attempts) == ("done", 3)
    assert len(env.ledger.received) == 1


async def test_attempts_exhausted_marks_delivery_dead_with_reason(env: Env) -> None:
    env.ledger.faults.extend([503] * 10)
    item = await env.approved()
    for _ in range(6):  # two runs more than it takes: a dead delivery is not tried again
        await env.dispatcher().run_until_idle()
        await until_due(item)
    hook = (await deliveries(item))["webhook"]
    assert hook.status == "dead"
    assert hook.attempts == 4
    assert "已重试 4 次" in hook.last_error and "HTTP 503" in hook.last_error
    assert (await Item.get(id=item.id)).status == "partly_published"


async def test_permanent_error_is_dead_at_once(env: Env) -> None:
    env.ledger.faults.append(400)
    item = await env.approved()
    await env.dispatcher().run_until_idle()
    hook = (await deliveries(item))["webhook"]
    assert (hook.status, hook.attempts, hook.error_class) == ("dead", 1, "permanent")
    assert "HTTP 400" in hook.last_error


async def test_rate_limited_waits_for_the_hint_then_succeeds(env: Env) -> None:
    env.ledger.faults.append(429)
    item = await env.approved()
    await env.dispatcher().run_until_idle()
    hook = (await deliveries(item))["webhook"]
    assert (hook.status, hook.error_class) == ("pending", "rate_limited")
    assert hook.next_attempt_at > datetime.now(UTC) + timedelta(seconds=0.5)  # Retry-After: 1
    await sleep_until(hook.next_attempt_at)
    await env.dispatcher().run_until_idle()
    assert (await deliveries(item))["webhook"].status == "done"


async def test_auth_error_is_retried_once_then_dead(env: Env) -> None:
    env.ledger.faults.extend([401, 401])
    item = await env.approved()
    await env.dispatcher().run_until_idle()
    await env.dispatcher().run_until_idle()
    hook = (await deliveries(item))["webhook"]
    assert (hook.status, hook.attempts, hook.error_class) == ("dead", 2, "auth")


async def test_lost_answer_is_looked_up_not_resent(backend_url: str) -> None:
    # The receiver takes longer than the channel waits: the push arrives, the answer is lost.
    async for env in make_env(backend_url, latency_ms=600, timeout_seconds=0.3):
        item = await env.approved()
        await env.dispatcher().run_until_idle()
        await wait_until(lambda e=env: e.ledger.received, 5, "the push to reach the receiver")
        for _ in range(5):
            await until_due(item)
            await env.dispatcher().run_until_idle()
            if (await deliveries(item))["webhook"].status == "done":
                break
        hook = (await deliveries(item))["webhook"]
        assert hook.status == "done", hook.last_error
        assert len(env.ledger.received) == 1
        assert hook.remote_id == env.ledger.received[0]["id"]


async def test_lost_answer_without_lookup_becomes_unconfirmed(backend_url: str) -> None:
    async for env in make_env(backend_url, latency_ms=600, timeout_seconds=0.3, lookup=False):
        item = await env.approved()
        await env.dispatcher().run_until_idle()
        await wait_until(lambda e=env: e.ledger.received, 5, "the push to reach the receiver")
        await until_due(item)
        await env.dispatcher().run_until_idle()
        hook = (await deliveries(item))["webhook"]
        assert hook.status == "unconfirmed"
        assert "结果未知" in hook.last_error
        assert len(env.ledger.received) == 1  # never sent a second time


async def test_delivery_overdue_beyond_window_is_missed_not_sent(env: Env) -> None:
    item = await env.approved()
    long_ago = datetime.now(UTC) - timedelta(days=3)
    await Delivery.filter(item_id=item.id).update(due_at=long_ago, next_attempt_at=long_ago)
    assert await env.dispatcher().run_until_idle() == 0
    rows = await deliveries(item)
    assert {d.status for d in rows.values()} == {"missed"}
    assert env.ledger.received == []
    assert (await Item.get(id=item.id)).status == "failed"


async def test_overdue_delivery_already_begun_remotely_is_finished_not_missed(env: Env) -> None:
    item = await env.approved()
    long_ago = datetime.now(UTC) - timedelta(days=3)
    await Delivery.filter(item_id=item.id).update(
        due_at=long_ago, next_attempt_at=long_ago, checkpoint={"draft_media_id": "m1"}
    )
    await env.dispatcher().run_until_idle()
    rows = await deliveries(item)
    assert {d.status for d in rows.values()} == {"done"}
    assert len(env.ledger.received) == 1


async def test_overdue_delivery_attempted_before_is_looked_up_not_missed_nor_resent(
    env: Env,
) -> None:
    item = await env.approved()
    long_ago = datetime.now(UTC) - timedelta(days=3)
    # A first attempt's push reached the receiver; the worker died before recording it.
    key = f"gongkai-{item.id}-v{item.version}-webhook-publish"
    record = {"id": "r-earlier", "key": key, "url": "http://portal/1", "item_id": item.id}
    env.ledger.received.append(record)
    env.ledger.by_key[key] = record
    await Delivery.filter(item_id=item.id).update(
        due_at=long_ago, next_attempt_at=long_ago, attempts=1
    )
    await env.dispatcher().run_until_idle()
    hook = (await deliveries(item))["webhook"]
    assert (hook.status, hook.remote_id, hook.attempts) == ("done", "r-earlier", 2)
    assert env.ledger.received == [record]  # looked up, never pushed again


async def test_the_claim_never_takes_a_publish_due_to_be_marked_missed(env: Env) -> None:
    item = await env.approved()
    long_ago = datetime.now(UTC) - timedelta(days=3)
    await Delivery.filter(item_id=item.id).update(due_at=long_ago, next_attempt_at=long_ago)
    outbox = Outbox("w1", lease_seconds=5, missed_after=timedelta(hours=24))
    assert await outbox.claim("webhook", 10) == []  # left for mark_missed, not sent stale
    assert await outbox.mark_missed("webhook") == 1


class _Waiting(Channel):
    """A channel whose remote job takes several looks before it is done."""

    name = "webhook"
    label = "等待"
    limits = ChannelLimits(concurrency=1, rate_per_second=1000)

    def __init__(self, looks: int) -> None:
        self.looks = looks

    async def publish(self, content: Content, job: Job) -> Published:
        self.looks -= 1
        if self.looks > 0:
            raise StillProcessing("远端处理中", retry_after=0)
        return Published("r1")


async def test_waiting_on_the_remote_side_never_uses_up_the_attempts(env: Env) -> None:
    item = await env.approved()
    channel = _Waiting(looks=env.config.dispatcher.max_attempts * 2)
    dispatcher = Dispatcher(env.config, {"webhook": channel}, Wakeup(), owner="w1")
    await dispatcher.run_until_idle()
    hook = (await deliveries(item))["webhook"]
    assert (hook.status, hook.remote_id, channel.looks) == ("done", "r1", 0)


async def test_retraction_removes_item_from_every_channel_it_reached(env: Env) -> None:
    item = await env.approved()
    await env.dispatcher().run_until_idle()
    outcome = await lifecycle.retract(
        item.id, env.staff.reviewer, "信息有误", retract_support(env.config)
    )
    assert outcome.cannot_retract == []
    await env.dispatcher().run_until_idle()
    retractions = await Delivery.filter(item_id=item.id, action="retract").values_list(
        "channel", "status"
    )
    assert sorted(retractions) == [("feed", "done"), ("webhook", "done")]
    assert env.ledger.deleted == [env.ledger.received[0]["id"]]
    assert (await Item.get(id=item.id)).status == "retracted"


async def test_retracted_while_claimed_is_cancelled_not_published(env: Env) -> None:
    item = await env.approved()
    outbox = Outbox("crashed-worker", 5, timedelta(days=1))
    claimed = await outbox.claim("webhook", 10)
    assert len(claimed) == 1
    await lifecycle.retract(item.id, env.staff.reviewer, "撤回", retract_support(env.config))
    # The worker that claimed it died; another takes the expired lease over.
    await Delivery.filter(id=claimed[0].id).update(lease_expires_at=datetime.now(UTC))
    await env.dispatcher().run_until_idle()
    assert (await Delivery.get(id=claimed[0].id)).status == "cancelled"
    assert env.ledger.received == []


async def test_expired_lease_of_a_dead_worker_is_taken_over(env: Env) -> None:
    item = await env.approved()
    dead = Outbox("dead-worker", 5, timedelta(days=1))
    assert await dead.claim("webhook", 10)
    assert await env.dispatcher().run_until_idle() == 1  # only feed: the lease is still held
    await Delivery.filter(channel="webhook").update(
        lease_expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    assert await env.dispatcher().run_until_idle() == 1
    hook = (await deliveries(item))["webhook"]
    assert (hook.status, hook.attempts) == ("done", 2)
    assert len(env.ledger.received) == 1


async def test_prereview_again_before_dispatch_blocks_what_config_no_longer_allows(
    env: Env,
) -> None:
    item = await env.approved()
    # The office removed the column after approval: the dispatch-time review catches it.
    stricter = make_config(
        env.config.database.url,
        channels={"webhook": {"enabled": False}},
        columns={"policy": {"name": "政策文件", "kinds": ["policy"]}},
    )
    await Dispatcher(stricter, build_channels(stricter), Wakeup()).run_until_idle()
    feed = (await deliveries(item))["feed"]
    assert feed.status == "dead"
    assert "发布前复核未通过" in feed.last_error


async def test_slow_channel_does_not_hold_up_another(backend_url: str) -> None:
    async for env in make_env(backend_url, latency_ms=1500):
        dispatcher = env.dispatcher()
        await dispatcher.start()
        try:
            item = await env.approved()
            dispatcher.wakeup.notify()
            for _ in range(50):
                rows = await deliveries(item)
                if rows["feed"].status == "done":
                    break
                await asyncio.sleep(0.05)
            assert rows["feed"].status == "done"
            assert rows["webhook"].status == "running"  # still waiting on the slow receiver
        finally:
            await dispatcher.stop(grace=5)
        assert (await deliveries(item))["webhook"].status == "done"


async def test_idle_dispatcher_wakes_on_approval_without_polling(env: Env) -> None:
    wakeup = Wakeup()
    dispatcher = Dispatcher(env.config, build_channels(env.config), wakeup, owner="w1")
    await dispatcher.start()  # sweep interval is an hour: only a wake-up can start work
    try:
        await asyncio.sleep(0.2)
        item = await env.approved()
        wakeup.notify()
        for _ in range(100):
            if (await Item.get(id=item.id)).status == "published":
                break
            await asyncio.sleep(0.05)
        assert (await Item.get(id=item.id)).status == "published"
    finally:
        await dispatcher.stop()


async def test_shutdown_gives_back_unfinished_work(backend_url: str) -> None:
    async for env in make_env(backend_url, latency_ms=3000):
        dispatcher = env.dispatcher()
        await dispatcher.start()
        item = await env.approved()
        dispatcher.wakeup.notify()
        # In flight: the push has reached the receiver, which answers only after 3 s.
        await wait_until(lambda e=env: e.ledger.received, 10, "the push to reach the receiver")
        await dispatcher.stop(grace=0.2)
        hook = (await deliveries(item))["webhook"]
        # Given back at once; the cancelled attempt counts, for its push had reached the
        # receiver: the next attempt looks it up before pushing again.
        assert (hook.status, hook.lease_owner, hook.attempts) == ("pending", "", 1)
        assert (await audit.verify()).ok


def answer_claims_late(dispatcher: Dispatcher) -> tuple[asyncio.Event, asyncio.Event]:
    """Make the database answer the dispatcher's claims late: the first event is set when a
    claim has taken rows, and the claim returns them only once the second is set."""
    claimed, answer = asyncio.Event(), asyncio.Event()
    real_claim = dispatcher.outbox.claim

    async def late_claim(channel: str, limit: int) -> list[Delivery]:
        rows = await real_claim(channel, limit)
        if rows:
            claimed.set()
            await answer.wait()
        return rows

    dispatcher.outbox.claim = late_claim  # type: ignore[method-assign]
    return claimed, answer


async def test_a_claim_that_a_shutdown_meets_half_way_is_given_back(backend_url: str) -> None:
    # The database answers a claim only after the shutdown began (a slow query under load):
    # what it claimed must not stay held by a worker that is leaving.
    async for env in make_env(backend_url):
        dispatcher = env.dispatcher()
        claimed, answer = answer_claims_late(dispatcher)
        await dispatcher.start()
        item = await env.approved()
        dispatcher.wakeup.notify()
        await asyncio.wait_for(claimed.wait(), 10)
        stopping = asyncio.create_task(dispatcher.stop(grace=0.2))
        await asyncio.sleep(0.3)  # the grace period is over; the claim has not answered
        answer.set()
        await stopping
        held = {(d.status, d.lease_owner, d.attempts) for d in (await deliveries(item)).values()}
        assert held == {("pending", "", 0)}
        assert env.ledger.received == []
        assert (await audit.verify()).ok


async def test_lease_of_a_long_delivery_is_renewed_so_no_one_takes_it_over(
    backend_url: str,
) -> None:
    # The receiver answers after 2.5 s; the lease is 0.9 s and must be renewed meanwhile.
    async for env in make_env(backend_url, latency_ms=2500, lease_seconds=0.9):
        first = env.dispatcher("w1")
        await first.start()
        try:
            item = await env.approved()
            first.wakeup.notify()

            async def first_lease_end(item: Item = item) -> datetime | None:
                hook = (await deliveries(item))["webhook"]
                return hook.lease_expires_at if hook.status == "running" else None

            lease_end = await wait_until(first_lease_end, 10, "the delivery to be claimed")
            await sleep_until(lease_end)  # past the first lease's end
            assert (await deliveries(item))["webhook"].status == "running"
            second = env.dispatcher("w2")
            assert await second.run_until_idle() == 0  # nothing to take over
            for _ in range(60):
                if (await deliveries(item))["webhook"].status == "done":
                    break
                await asyncio.sleep(0.1)
        finally:
            await first.stop()
        hook = (await deliveries(item))["webhook"]
        assert (hook.status, hook.attempts) == ("done", 1)
        assert len(env.ledger.received) == 1
