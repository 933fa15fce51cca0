"""Prometheus /metrics over real HTTP: after a real dispatcher run (website feed and the
webhook simulator on 127.0.0.1, SQLite) the families carry the right counts and parse with
prometheus_client's own text parser."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from bot import db
from bot.config import Config
from bot.items import lifecycle
from bot.items.schemas import ItemCreate
from bot.metrics import Metrics
from bot.models import Comment, Item
from bot.outbox.channel_set import build_channels
from bot.outbox.dispatcher import Dispatcher
from bot.outbox.wakeup import Wakeup
from bot.web.app import create_app, create_worker_app
from bot.web.keys import METRICS
from channels.sandbox.webhook import LEDGER, Ledger
from channels.sandbox.webhook import create_app as create_webhook_app
from tests.conftest import Staff, create_staff, make_config

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@dataclass
class Env:
    config: Config
    staff: Staff
    ledger: Ledger
    client: TestClient[Any, Any]

    @property
    def metrics(self) -> Metrics:
        return self.client.app[METRICS]

    async def approve(self, title: str) -> Item:
        data = {"kind": "notice", "title": title, "body": "活动安排如下。", "office": "办公室"}
        item = await lifecycle.create_item(
            ItemCreate.model_validate(data), self.staff.editor, self.config
        )
        await lifecycle.submit(item.id, self.staff.editor, self.config)
        return await lifecycle.approve(item.id, self.staff.reviewer, self.config)

    async def dispatch(self) -> int:
        dispatcher = Dispatcher(
            self.config, build_channels(self.config), Wakeup(), metrics=self.metrics
        )
        return await dispatcher.run_until_idle()


async def make_env(tmp_url: str, **metrics: Any) -> AsyncIterator[Env]:
    hook_server = TestServer(create_webhook_app("test-secret"), host="127.0.0.1")
    await hook_server.start_server()
    config = make_config(
        tmp_url,
        channels={"webhook": {"enabled": True, "url": str(hook_server.make_url("/push"))}},
        dispatcher={"backoff_base_seconds": 60, "backoff_max_seconds": 120},
        metrics=metrics,
    )
    await db.init(config, check_schema=False)
    await db.upgrade()
    try:
        async with TestClient(TestServer(create_app(config), host="127.0.0.1")) as client:
            yield Env(config, await create_staff(), hook_server.app[LEDGER], client)
    finally:
        await db.close()
        await hook_server.close()


@pytest.fixture
async def env(sqlite_url: str) -> AsyncIterator[Env]:
    async for e in make_env(sqlite_url):
        yield e


async def scrape(client: TestClient[Any, Any], **headers: str) -> tuple[Samples, set[str]]:
    resp = await client.get("/metrics", headers=headers)
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("text/plain")
    samples: Samples = {}
    families = set()
    for family in text_string_to_metric_families(await resp.text()):
        families.add(family.name)
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples, families


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


async def add_comment(remote_id: str, status: str, due_at: datetime | None) -> None:
    await Comment.create(
        channel="feed",
        remote_id=remote_id,
        original_text="请问办理时间？",
        status=status,
        received_at=datetime.now(UTC) - timedelta(days=10),
        due_at=due_at,
    )


async def test_metrics_count_deliveries_retries_dead_letters_and_latency_after_a_dispatch(
    env: Env,
) -> None:
    env.ledger.faults.append(400)  # permanent: the first item's webhook delivery is dead
    await env.approve("第一条通知")
    await env.dispatch()
    env.ledger.faults.append(503)  # transient: the second one is retried later
    await env.approve("第二条通知")
    await env.dispatch()

    samples, families = await scrape(env.client)
    assert {
        "gongkai_deliveries",
        "gongkai_dispatch_delay_seconds",
        "gongkai_dispatch_attempt_seconds",
        "gongkai_delivery_retries",
        "gongkai_delivery_dead_letters",
        "gongkai_callback_latency_seconds",
        "gongkai_comments",
        "gongkai_comment_sla_breaches",
        "gongkai_channel_last_success_timestamp_seconds",
        "gongkai_database_up",
    } <= families
    assert value(samples, "gongkai_database_up") == 1
    deliveries = "gongkai_deliveries"
    assert value(samples, deliveries, channel="feed", action="publish", status="done") == 2
    assert value(samples, deliveries, channel="webhook", action="publish", status="dead") == 1
    assert value(samples, deliveries, channel="webhook", action="publish", status="pending") == 1
    assert value(samples, deliveries, channel="webhook", action="publish", status="done") == 0
    retries = "gongkai_delivery_retries_total"
    assert value(samples, retries, channel="webhook", error_class="transient") == 1
    dead = "gongkai_delivery_dead_letters_total"
    assert value(samples, dead, channel="webhook", error_class="permanent") == 1
    delay = "gongkai_dispatch_delay_seconds_count"
    assert value(samples, delay, channel="feed", action="publish", status="done") == 2
    assert value(samples, delay, channel="webhook", action="publish", status="dead") == 1
    attempts = "gongkai_dispatch_attempt_seconds_count"
    assert value(samples, attempts, channel="webhook", outcome="retry") == 1
    assert value(samples, attempts, channel="feed", outcome="done") == 2
    last_feed = value(samples, "gongkai_channel_last_success_timestamp_seconds", channel="feed")
    assert abs(last_feed - datetime.now(UTC).timestamp()) < 300
    assert ("gongkai_channel_last_success_timestamp_seconds", (("channel", "webhook"),)) not in (
        samples
    )


async def test_metrics_count_comments_by_status_and_open_comments_past_due(env: Env) -> None:
    now = datetime.now(UTC)
    await add_comment("c1", "open", now - timedelta(hours=1))  # an SLA breach
    await add_comment("c2", "open", now + timedelta(days=1))
    await add_comment("c3", "replied", now - timedelta(days=1))  # answered: not a breach
    await add_comment("c4", "spam", None)
    samples, _ = await scrape(env.client)
    assert value(samples, "gongkai_comments", status="open") == 2
    assert value(samples, "gongkai_comments", status="replied") == 1
    assert value(samples, "gongkai_comments", status="spam") == 1
    assert value(samples, "gongkai_comments", status="petition") == 0
    assert value(samples, "gongkai_comment_sla_breaches", channel="feed") == 1


async def test_callback_latency_observed_through_the_apps_metrics_object_is_exposed(
    env: Env,
) -> None:
    metrics = env.metrics
    with metrics.time_callback("wechat"):
        pass
    with pytest.raises(RuntimeError), metrics.time_callback("wechat"):
        raise RuntimeError("boom")
    metrics.observe_callback("wechat", 0.2)
    samples, _ = await scrape(env.client)
    count = "gongkai_callback_latency_seconds_count"
    assert value(samples, count, channel="wechat", outcome="ok") == 2
    assert value(samples, count, channel="wechat", outcome="error") == 1
    bucket = "gongkai_callback_latency_seconds_bucket"
    assert value(samples, bucket, channel="wechat", outcome="ok", le="0.25") == 2
    assert value(samples, bucket, channel="wechat", outcome="ok", le="0.1") >= 1


async def test_each_app_has_its_own_registry_so_counts_never_leak_between_apps(
    env: Env,
) -> None:
    env.metrics.observe_callback("wechat", 0.1)
    other = create_app(env.config)
    assert other[METRICS] is not env.metrics
    async with TestClient(TestServer(other, host="127.0.0.1")) as client:
        samples, _ = await scrape(client)
    key = ("gongkai_callback_latency_seconds_count", (("channel", "wechat"), ("outcome", "ok")))
    assert key not in samples


async def test_metrics_require_the_bearer_token_when_one_is_configured(sqlite_url: str) -> None:
    async for env in make_env(sqlite_url, token_env="GONGKAI_WEBHOOK_SECRET"):
        resp = await env.client.get("/metrics")
        assert resp.status == 401
        resp = await env.client.get("/metrics", headers={"Authorization": "Bearer wrong"})
        assert resp.status == 401
        samples, _ = await scrape(env.client, Authorization="Bearer test-secret")
        assert value(samples, "gongkai_database_up") == 1


async def test_worker_app_serves_the_dispatchers_metrics_and_healthz(env: Env) -> None:
    metrics = Metrics(env.config)
    await env.approve("工作进程的通知")
    dispatcher = Dispatcher(env.config, build_channels(env.config), Wakeup(), metrics=metrics)
    await dispatcher.run_until_idle()
    await dispatcher.beat()
    app = create_worker_app(env.config, metrics)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        samples, _ = await scrape(client)
        health = await client.get("/healthz")
        assert health.status == 200
    delay = "gongkai_dispatch_delay_seconds_count"
    assert value(samples, delay, channel="feed", action="publish", status="done") == 1
    assert value(samples, "gongkai_workers_alive") == 1
