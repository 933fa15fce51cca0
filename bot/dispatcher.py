"""The dispatcher: claims due deliveries per channel, runs them through their channel, and
records the outcome. One loop per channel with its own concurrency and rate limit, so a slow
channel never holds up another. It sleeps until the next due time or a wake-up, with a sweep
interval as the longest sleep; a worker heartbeat tells /healthz it is consuming.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from bot.config import Config
from bot.lifecycle import review_context
from bot.models import (
    Delivery,
    DeliveryAction,
    DeliveryStatus,
    Finding,
    Item,
    ItemStatus,
    ItemVersion,
    WorkerHeartbeat,
)
from bot.outbox import Backoff, LeaseLost, Outbox
from bot.ratelimit import TokenBucket
from bot.render import Renderer
from bot.wakeup import Wakeup
from channels.base import (
    AuthError,
    Channel,
    ChannelError,
    OutcomeUnknown,
    PermanentError,
    Published,
    RateLimited,
    TransientError,
)
from moderation.review import review

log = logging.getLogger(__name__)
D = DeliveryStatus


def idempotency_key(d: Delivery) -> str:
    return f"gongkai-{d.item_id}-v{d.item_version}-{d.channel}-{d.action}"


class DeliveryJob:
    """What a channel sees of a delivery: its key and a checkpoint it can save."""

    def __init__(self, outbox: Outbox, delivery: Delivery) -> None:
        self.delivery_id = delivery.id
        self.idempotency_key = idempotency_key(delivery)
        self.checkpoint: dict[str, Any] = dict(delivery.checkpoint or {})
        self._outbox = outbox

    async def save(self, **updates: Any) -> None:
        self.checkpoint.update(updates)
        await self._outbox.save_checkpoint(self.delivery_id, self.checkpoint)


class Dispatcher:
    def __init__(
        self, config: Config, channels: dict[str, Channel], wakeup: Wakeup, owner: str | None = None
    ) -> None:
        self.config = config
        self.cfg = config.dispatcher
        self.channels = channels
        self.wakeup = wakeup
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        self.outbox = Outbox(
            self.owner, self.cfg.lease_seconds, timedelta(minutes=self.cfg.missed_after_minutes)
        )
        self.backoff = Backoff(self.cfg.backoff_base_seconds, self.cfg.backoff_max_seconds)
        self.renderer = Renderer(config)
        self.limiters = {n: TokenBucket(c.limits.rate_per_second) for n, c in channels.items()}
        self.inflight: dict[str, set[asyncio.Task[None]]] = {n: set() for n in channels}
        self._loops: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._started = datetime.now(UTC)
        self.consumed_at: datetime | None = None
        self.processed = 0

    # -- running -------------------------------------------------------------------------
    async def start(self) -> None:
        for channel in self.channels.values():
            await channel.start()
        await self._beat()
        for name in self.channels:
            self._loops.append(
                asyncio.create_task(self._channel_loop(name), name=f"dispatch:{name}")
            )
        self._loops.append(asyncio.create_task(self._heartbeat_loop(), name="dispatch:heartbeat"))

    async def stop(self, grace: float | None = None) -> None:
        """Stop claiming; let in-flight deliveries finish within the grace period, then give
        back what is left so another worker takes it at once."""
        self._stopping.set()
        self.wakeup.notify()
        tasks = [t for group in self.inflight.values() for t in group]
        if tasks:
            _, pending = await asyncio.wait(
                tasks, timeout=self.cfg.shutdown_grace_seconds if grace is None else grace
            )
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        for loop in self._loops:
            loop.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        self._loops.clear()
        for channel in self.channels.values():
            await channel.close()

    async def _channel_loop(self, name: str) -> None:
        event = self.wakeup.subscribe()
        limit = self.channels[name].limits.concurrency
        sweep = self.cfg.sweep_interval_seconds
        while not self._stopping.is_set():
            event.clear()
            try:
                claimed = await self.run_round(name)
                free = limit - len(self.inflight[name])
                if claimed and free > 0:
                    continue
                if free <= 0:
                    await asyncio.wait(
                        list(self.inflight[name]), return_when=asyncio.FIRST_COMPLETED
                    )
                    continue
                due = await self.outbox.next_due(name)
            except Exception:  # the database may be briefly unavailable; never die silently
                log.exception("dispatch loop for %s failed; retrying", name)
                await asyncio.sleep(1)
                continue
            timeout = sweep
            if due is not None:
                timeout = max(0.0, min(sweep, (due - datetime.now(UTC)).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout=timeout + 0.01)

    async def run_round(self, name: str) -> int:
        """Mark overdue deliveries missed and start the due ones of one channel; returns how
        many were claimed."""
        free = self.channels[name].limits.concurrency - len(self.inflight[name])
        if free <= 0 or self._stopping.is_set():
            return 0
        await self.outbox.mark_missed(name)
        ids = await self.outbox.claim(name, min(free, self.cfg.batch_size))
        for delivery_id in ids:
            task = asyncio.create_task(self._process(name, delivery_id))
            self.inflight[name].add(task)
            task.add_done_callback(self.inflight[name].discard)
        return len(ids)

    async def run_until_idle(self, max_seconds: float = 30) -> int:
        """Process everything due now, then return (for the CLI's one-shot run and tests)."""
        for channel in self.channels.values():
            await channel.start()
        deadline = asyncio.get_running_loop().time() + max_seconds
        before = self.processed
        try:
            while asyncio.get_running_loop().time() < deadline:
                claimed = 0
                for name in self.channels:
                    claimed += await self.run_round(name)
                tasks = [t for group in self.inflight.values() for t in group]
                if tasks:
                    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                elif not claimed:
                    break
        finally:
            for channel in self.channels.values():
                await channel.close()
        return self.processed - before

    # -- one delivery --------------------------------------------------------------------
    async def _process(self, name: str, delivery_id: int) -> None:
        channel = self.channels[name]
        renewer = asyncio.create_task(self._renew(delivery_id))
        try:
            delivery = await Delivery.get(id=delivery_id)
            await self._run(channel, delivery, DeliveryJob(self.outbox, delivery))
        except LeaseLost:
            log.warning("delivery %s: lease lost to another worker", delivery_id)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.outbox.release(delivery_id))
            raise
        except Exception:
            log.exception("delivery %s: unexpected failure", delivery_id)
        finally:
            renewer.cancel()
            self.processed += 1
            self.consumed_at = datetime.now(UTC)

    async def _renew(self, delivery_id: int) -> None:
        with contextlib.suppress(LeaseLost):
            while True:
                await asyncio.sleep(self.cfg.lease_seconds / 3)
                await self.outbox.renew(delivery_id)

    async def _run(self, channel: Channel, delivery: Delivery, job: DeliveryJob) -> None:
        try:
            if delivery.action == DeliveryAction.RETRACT.value:
                await self._retract(channel, delivery, job)
            else:
                await self._publish(channel, delivery, job)
        except RateLimited as exc:
            delay = (
                exc.retry_after
                if exc.retry_after is not None
                else self.backoff.delay(delivery.attempts)
            )
            await self._retry_or_die(delivery, delay, exc)
        except AuthError as exc:
            if not job.checkpoint.get("auth_retried"):
                await job.save(auth_retried=True)
                await self.outbox.retry(delivery, 0, str(exc), exc.kind)
            else:
                await self.outbox.finish(delivery, D.DEAD, error=str(exc), error_class=exc.kind)
        except OutcomeUnknown as exc:
            if channel.limits.can_lookup:
                await self._retry_or_die(delivery, self.backoff.delay(delivery.attempts), exc)
            else:
                await self.outbox.finish(
                    delivery, D.UNCONFIRMED, error=str(exc), error_class=exc.kind
                )
        except TransientError as exc:
            await self._retry_or_die(delivery, self.backoff.delay(delivery.attempts), exc)
        except PermanentError as exc:
            await self.outbox.finish(delivery, D.DEAD, error=str(exc), error_class=exc.kind)
        except (LeaseLost, asyncio.CancelledError):
            raise
        except Exception as exc:
            log.exception("delivery %s: channel %s raised", delivery.id, channel.name)
            error = ChannelError(f"内部错误：{type(exc).__name__}: {exc}")
            await self._retry_or_die(delivery, self.backoff.delay(delivery.attempts), error)

    async def _retry_or_die(self, delivery: Delivery, delay: float, exc: ChannelError) -> None:
        if delivery.attempts >= self.cfg.max_attempts:
            await self.outbox.finish(
                delivery,
                D.DEAD,
                error=f"已重试 {delivery.attempts} 次仍失败：{exc}",
                error_class=exc.kind,
            )
        else:
            await self.outbox.retry(delivery, delay, str(exc), exc.kind)

    async def _publish(self, channel: Channel, delivery: Delivery, job: DeliveryJob) -> None:
        item = await Item.get(id=delivery.item_id)
        nothing_sent = not job.checkpoint
        if nothing_sent and (
            item.status == ItemStatus.RETRACTED.value or item.version > delivery.item_version
        ):
            await self.outbox.finish(
                delivery, D.CANCELLED, error="稿件已撤稿或已修改为新版本，此版本不再发布。"
            )
            return
        version = await ItemVersion.get(item_id=item.id, version=delivery.item_version)
        snap = version.snapshot
        findings = review(snap, review_context(self.config, [channel.name]))
        blocking = [f for f in findings if f.blocks]
        if blocking:
            await self._record_dispatch_findings(item.id, delivery.item_version, blocking)
            raise PermanentError("发布前复核未通过：" + "；".join(f.message for f in blocking))
        content = self.renderer.render(snap, channel.name, version.approved_at)
        await self.limiters[channel.name].acquire()
        result = await channel.publish(content, job)
        await self.outbox.finish(
            delivery, D.DONE, remote_id=result.remote_id, remote_url=result.remote_url
        )

    async def _record_dispatch_findings(self, item_id: int, version: int, findings: list) -> None:
        async with in_transaction() as conn:
            await (
                Finding.filter(item_id=item_id, item_version=version, stage="dispatch")
                .using_db(conn)
                .delete()
            )
            for f in findings:
                await Finding.create(
                    using_db=conn,
                    item_id=item_id,
                    item_version=version,
                    stage="dispatch",
                    rule=f.rule,
                    severity=f.severity,
                    field=f.field,
                    message=f.message,
                    suggestion=f.suggestion,
                )

    async def _retract(self, channel: Channel, delivery: Delivery, job: DeliveryJob) -> None:
        base = Delivery.filter(
            item_id=delivery.item_id,
            channel=channel.name,
            action=DeliveryAction.PUBLISH.value,
        )
        if await base.filter(status=D.RUNNING.value).exists():
            # A publish is still in flight on this channel: retract after it has finished.
            await self.outbox.retry(delivery, 2.0, "等待发布完成后撤稿", "waiting")
            return
        done = await base.filter(status=D.DONE.value).order_by("-item_version").first()
        if done is None:
            await self.outbox.finish(delivery, D.DONE, details={"note": "该渠道未曾发布，无需撤稿"})
            return
        await self.limiters[channel.name].acquire()
        await channel.retract(Published(done.remote_id, done.remote_url), job)
        await self.outbox.finish(delivery, D.DONE, remote_id=done.remote_id)

    # -- heartbeat -----------------------------------------------------------------------
    async def _beat(self) -> None:
        now = datetime.now(UTC)
        backlog = await self.outbox.count_backlog()
        await WorkerHeartbeat.update_or_create(
            worker_id=self.owner,
            defaults={
                "role": "worker",
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "started_at": self._started,
                "beat_at": now,
                "consumed_at": self.consumed_at,
                "backlog": backlog,
            },
        )

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.heartbeat_seconds)
            try:
                await self._beat()
            except Exception:
                log.exception("heartbeat failed")
