"""/healthz over real HTTP: healthy only when a worker beats and consumes due deliveries."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from bot.config import Config
from bot.items import lifecycle
from bot.items.schemas import ItemCreate
from bot.models import Delivery, JobSlot, Kind, WorkerHeartbeat
from bot.outbox.channel_set import build_channels
from bot.outbox.dispatcher import Dispatcher
from bot.outbox.wakeup import Wakeup
from bot.web.app import create_app
from tests.conftest import Staff, make_config
from tests.web.conftest import Publish


async def healthz(client: TestClient[Any, Any]) -> tuple[int, dict[str, Any]]:
    resp = await client.get("/healthz")
    assert resp.headers["Content-Type"].startswith("application/json")
    return resp.status, await resp.json()


async def write_beat(worker_id: str, beat_at: datetime, consumed_at: datetime | None) -> None:
    await WorkerHeartbeat.create(
        worker_id=worker_id,
        role="worker",
        host="test",
        pid=os.getpid(),
        started_at=beat_at - timedelta(hours=1),
        beat_at=beat_at,
        consumed_at=consumed_at,
    )


async def approve_without_sending(config: Config, staff: Staff) -> int:
    item = await lifecycle.create_item(
        ItemCreate(kind=Kind.NOTICE, title="待发送的通知", body="正文"), staff.editor, config
    )
    await lifecycle.submit(item.id, staff.editor, config)
    await lifecycle.approve(item.id, staff.reviewer, config)
    return item.id


async def test_healthz_ok_right_after_a_dispatcher_heartbeat(
    config: Config, client: TestClient[Any, Any]
) -> None:
    dispatcher = Dispatcher(config, build_channels(config), Wakeup(), owner="test-worker")
    await dispatcher.beat()
    status, body = await healthz(client)
    assert status == 200
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    workers = body["checks"]["workers"]
    assert workers["status"] == "ok" and workers["alive"] == 1
    assert [w["worker_id"] for w in workers["workers"]] == ["test-worker"]


async def test_healthz_ok_while_a_started_dispatcher_runs_and_fails_once_it_is_long_gone(
    config: Config, client: TestClient[Any, Any]
) -> None:
    dispatcher = Dispatcher(config, build_channels(config), Wakeup(), owner="live-worker")
    await dispatcher.start()
    try:
        status, _ = await healthz(client)
        assert status == 200
    finally:
        await dispatcher.stop(grace=0)
    old = datetime.now(UTC) - timedelta(seconds=config.dispatcher.health_stale_seconds + 1)
    await WorkerHeartbeat.filter(worker_id="live-worker").update(beat_at=old)
    status, body = await healthz(client)
    assert status == 503 and body["checks"]["workers"]["status"] == "fail"


async def test_healthz_fails_with_a_clear_message_when_no_worker_ever_beat(
    client: TestClient[Any, Any],
) -> None:
    status, body = await healthz(client)
    assert status == 503
    assert body["status"] == "fail"
    assert body["checks"]["database"]["status"] == "ok"  # the web process itself is fine
    workers = body["checks"]["workers"]
    assert workers["status"] == "fail"
    assert "没有任何工作进程" in workers["message"] and "--role worker" in workers["message"]


async def test_healthz_fails_when_the_last_heartbeat_is_stale(
    config: Config, client: TestClient[Any, Any]
) -> None:
    stale = datetime.now(UTC) - timedelta(seconds=config.dispatcher.health_stale_seconds + 30)
    await write_beat("old-worker", stale, stale)
    status, body = await healthz(client)
    assert status == 503
    workers = body["checks"]["workers"]
    assert workers["status"] == "fail" and workers["alive"] == 0
    assert "没有心跳" in workers["message"]
    assert workers["last_beat_at"] == stale.isoformat()


async def test_healthz_fails_when_due_deliveries_wait_while_the_beating_worker_consumes_nothing(
    config: Config, staff: Staff, client: TestClient[Any, Any]
) -> None:
    stale_seconds = config.dispatcher.health_stale_seconds
    now = datetime.now(UTC)
    long_ago = now - timedelta(seconds=stale_seconds * 2)
    await write_beat("stuck-worker", now, long_ago)  # alive, but last consumed long ago
    item_id = await approve_without_sending(config, staff)
    # Due for a while, yet not claimed: the Postiz #1748 situation.
    await Delivery.filter(item_id=item_id).update(next_attempt_at=long_ago)
    status, body = await healthz(client)
    assert status == 503
    workers = body["checks"]["workers"]
    assert workers["status"] == "fail" and workers["overdue_deliveries"] == 1
    assert "卡住" in workers["message"]

    # The same worker consuming again (other work) is healthy even with the backlog.
    await WorkerHeartbeat.filter(worker_id="stuck-worker").update(consumed_at=now)
    status, body = await healthz(client)
    assert status == 200, body


async def test_healthz_ok_when_deliveries_became_due_only_recently(
    config: Config, staff: Staff, client: TestClient[Any, Any]
) -> None:
    # Just-approved work is not yet a sign of a stuck worker.
    await write_beat("idle-worker", datetime.now(UTC), None)
    await approve_without_sending(config, staff)
    status, body = await healthz(client)
    assert status == 200, body
    assert body["checks"]["workers"]["overdue_deliveries"] == 0


async def test_healthz_reports_each_channels_last_successful_delivery(
    config: Config, publish: Publish, client: TestClient[Any, Any]
) -> None:
    _, body = await healthz(client)
    assert body["checks"]["channels"]["last_success"] == {"feed": None}
    item = await publish()
    done = await Delivery.get(item_id=item.id, channel="feed")
    assert done.finished_at is not None
    _, body = await healthz(client)
    last = body["checks"]["channels"]["last_success"]["feed"]
    assert datetime.fromisoformat(last) == done.finished_at


async def scheduler_client(config: Config) -> TestClient[Any, Any]:
    """The app with `[metrics] check_scheduler = true`, on the same database."""
    checked = make_config(config.database.url, metrics={"check_scheduler": True})
    return TestClient(TestServer(create_app(checked), host="127.0.0.1"))


async def test_healthz_scheduler_check_is_off_unless_configured(
    config: Config, client: TestClient[Any, Any]
) -> None:
    await write_beat("w", datetime.now(UTC), None)
    _, body = await healthz(client)
    assert "scheduler" not in body["checks"]


async def test_healthz_fails_when_scheduled_jobs_stopped_starting_and_recovers_when_they_run(
    config: Config,
) -> None:
    now = datetime.now(UTC)
    # A worker alive for an hour with no inbox.sla run (every 15 minutes) since: stuck.
    await write_beat("sched-worker", now, now)
    async with await scheduler_client(config) as client:
        status, body = await healthz(client)
        assert status == 503
        check = body["checks"]["scheduler"]
        assert check["status"] == "fail"
        assert "inbox.sla" in check["message"] and "inbox.poll" in check["message"]
        assert "inbox.calendar" not in check["message"]  # daily: not due yet
        for job in ("inbox.sla", "inbox.poll"):
            await JobSlot.create(job=job, slot=f"s-{job}", owner="w", started_at=now)
        status, body = await healthz(client)
        assert status == 200, body
        jobs = body["checks"]["scheduler"]["jobs"]
        assert datetime.fromisoformat(jobs["inbox.sla"]["last_started_at"]) == now


async def test_healthz_scheduler_check_fails_without_a_live_worker(config: Config) -> None:
    stale = datetime.now(UTC) - timedelta(seconds=config.dispatcher.health_stale_seconds + 60)
    await write_beat("gone", stale, stale)
    async with await scheduler_client(config) as client:
        status, body = await healthz(client)
    assert status == 503
    assert body["checks"]["scheduler"]["status"] == "fail"
    assert "没有存活的工作进程" in body["checks"]["scheduler"]["message"]


async def test_healthz_ok_for_a_freshly_started_worker_before_its_jobs_are_due(
    config: Config,
) -> None:
    dispatcher = Dispatcher(config, build_channels(config), Wakeup(), owner="fresh")
    await dispatcher.beat()  # started just now: no job has had a chance to run yet
    async with await scheduler_client(config) as client:
        status, body = await healthz(client)
    assert status == 200, body
    assert body["checks"]["scheduler"]["status"] == "ok"
