"""The dispatcher: claims due deliveries per channel, runs them through their channel, and
records the outcome. One loop per channel with its own concurrency and rate limit, so a slow
channel never holds up another. It sleeps until the next due time or a wake-up, with a sweep
interval as the longest sleep; a worker heartbeat tells /healthz it is consuming.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from tortoise.transactions import in_transaction

from bot.config import Config
from bot.items import prereview
from bot.items.linkcheck import LinkChecker, retracted_items
from bot.items.render import Renderer
from bot.logs import log_context
from bot.metrics import Metrics
from bot.models import (
    Delivery,
    DeliveryAction,
    DeliveryStatus,
    Finding,
    ItemStatus,
)
from bot.outbox.channel_set import build_limiters
from bot.outbox.claim import lease_owner
from bot.outbox.store import Backoff, LeaseLost, Loaded, Outbox, Outcome
from bot.outbox.wakeup import Wakeup
from bot.outbox.writer import OutcomeWriter
from channels.base import (
    AuthError,
    Channel,
    ChannelError,
    OutcomeUnknown,
    PermanentError,
    Published,
    RateLimited,
    StillProcessing,
    TransientError,
)
from moderation.findings import FindingData

log = logging.getLogger(__name__)
D = DeliveryStatus
# How long a shutdown waits for the channel loops to see it (one may be retrying a failed
# round after a one-second pause) before cancelling them.
LOOP_EXIT_SECONDS = 5.0


def idempotency_key(d: Delivery) -> str:
    return f"gongkai-{d.item_id}-v{d.item_version}-{d.channel}-{d.action}"


class DeliveryJob:
    """What a channel sees of a delivery: its key and a checkpoint it can save."""

    def __init__(self, outbox: Outbox, delivery: Delivery) -> None:
        self.delivery_id = delivery.id
        self.idempotency_key = idempotency_key(delivery)
        self.attempt = delivery.attempts
        self.checkpoint: dict[str, Any] = dict(delivery.checkpoint or {})
        self._outbox = outbox

    async def save(self, **updates: Any) -> None:
        self.checkpoint.update(updates)
        await self._outbox.save_checkpoint(self.delivery_id, self.checkpoint)


def _log_outcome(outcome: Outcome) -> None:
    """One line per attempt (the log context names the delivery): dead letters as warnings,
    retries at info, the rest at debug (a busy worker finishes thousands a second)."""
    status = outcome.status
    if status == D.DEAD:
        log.warning("delivery dead (%s): %s", outcome.error_class, outcome.error)
    elif status == D.PENDING:
        log.info("delivery will be retried (%s): %s", outcome.error_class, outcome.error)
    else:
        log.debug("delivery %s", status.value)


class Dispatcher:
    def __init__(
        self,
        config: Config,
        channels: dict[str, Channel],
        wakeup: Wakeup,
        owner: str | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.config = config
        # Share the process's Metrics (the one /metrics renders); a private one otherwise.
        self.metrics = metrics or Metrics(config)
        self.cfg = config.dispatcher
        self.channels = channels
        self.wakeup = wakeup
        self.owner = owner or lease_owner()
        self.outbox = Outbox(
            self.owner, self.cfg.lease_seconds, timedelta(minutes=self.cfg.missed_after_minutes)
        )
        self.backoff = Backoff(self.cfg.backoff_base_seconds, self.cfg.backoff_max_seconds)
        self.renderer = Renderer(config)
        self.writer = OutcomeWriter(self.outbox)
        # In this process, or shared through Redis when [redis] is configured.
        self.limiters = build_limiters(config, channels)
        self.inflight: dict[str, set[asyncio.Task[None]]] = {n: set() for n in channels}
        self._loops: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._started = datetime.now(UTC)
        self.consumed_at: datetime | None = None
        self.processed = 0
        self._held: set[int] = set()  # ids of deliveries being worked on here
        # Claimed here and not yet attempted to the end: what a shutdown gives back
        self._claimed: set[int] = set()
        self._session: aiohttp.ClientSession | None = None
        self.links: LinkChecker | None = None  # the pre-dispatch link check
        self._missed_checked: dict[str, float] = {}  # channel → monotonic time of the check

    # -- running -------------------------------------------------------------------------
    async def _open(self) -> None:
        await prereview.warm_up(self.config)
        for channel in self.channels.values():
            await channel.start()
        if self.config.review.check_links and self._session is None:
            self._session = aiohttp.ClientSession()
            self.links = LinkChecker.from_config(
                self._session, self.config, retracted_lookup=retracted_items
            )

    async def _close(self) -> None:
        for channel in self.channels.values():
            await channel.close()
        for limiter in self.limiters.values():
            await limiter.aclose()
        if self._session is not None:
            await self._session.close()
            self._session, self.links = None, None

    async def start(self) -> None:
        await self._open()
        await self.beat()
        self.writer.start()
        for name in self.channels:
            self._loops.append(
                asyncio.create_task(self._channel_loop(name), name=f"dispatch:{name}")
            )
        self._loops.append(asyncio.create_task(self._heartbeat_loop(), name="dispatch:heartbeat"))
        self._loops.append(asyncio.create_task(self._renew_loop(), name="dispatch:leases"))

    def stop_claiming(self) -> None:
        """Claim nothing more (the first thing a shutdown does); in-flight work goes on."""
        self._stopping.set()
        self.wakeup.notify()

    async def stop(self, grace: float | None = None) -> None:
        """Stop claiming; let in-flight deliveries finish within the grace period, then give
        back what is left so another worker takes it at once."""
        self.stop_claiming()
        await self._wind_down(self.cfg.shutdown_grace_seconds if grace is None else grace)

    async def _wind_down(self, grace: float) -> None:
        """The end of a run (stop() or run_until_idle()): in-flight attempts get `grace`
        seconds and are then cancelled, the outcomes are written, the deliveries claimed
        here and never attempted are given back, and the channels are closed."""
        await self._settle_inflight(grace)
        # The channel loops see the stop at their next turn; one may be in the middle of a
        # claim, and cancelling it there could leave rows claimed with nobody working on them.
        channel_loops = self._loops[: len(self.channels)]
        stuck: set[asyncio.Task[None]] = set()
        if channel_loops:
            _, stuck = await asyncio.wait(channel_loops, timeout=LOOP_EXIT_SECONDS)
        for loop in [*stuck, *self._loops[len(self.channels) :]]:
            loop.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        self._loops.clear()
        await self._settle_inflight(0)  # tasks a stuck loop started (none, normally)
        await self.writer.stop()  # the outcomes of finished attempts are written
        # Claimed here and never attempted to the end: nobody works on them now. (An attempt
        # whose outcome could not be written is not among them: it may have reached the
        # remote, so its lease is let expire instead.)
        try:
            if given := await self.outbox.release(sorted(self._claimed)):
                log.warning("gave back %d deliveries claimed during the shutdown", given)
        except Exception:  # their leases expire and another worker takes them then
            log.exception("could not give back the deliveries held at shutdown")
        self._claimed.clear()
        await self._close()

    async def _settle_inflight(self, grace: float) -> None:
        tasks = [t for group in self.inflight.values() for t in group]
        if not tasks:
            return
        pending: set[asyncio.Task[None]] = set(tasks)
        if grace > 0:
            _, pending = await asyncio.wait(tasks, timeout=grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

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
        # Once a sweep is often enough: the claim itself never takes a stale publish.
        now = time.monotonic()
        if now - self._missed_checked.get(name, -math.inf) >= self.cfg.sweep_interval_seconds:
            await self.outbox.mark_missed(name)
            self._missed_checked[name] = now
        deliveries = await self.outbox.claim(name, min(free, self.cfg.batch_size))
        if not deliveries:
            return 0
        self._claimed.update(d.id for d in deliveries)
        loaded = await self.outbox.load(deliveries)
        if self._stopping.is_set():  # stop() began while we claimed: give them back now
            ids = [d.id for d in deliveries]
            await self.outbox.release(ids)
            self._claimed.difference_update(ids)
            return 0
        channel = self.channels[name]
        for delivery in deliveries:
            task = asyncio.create_task(self._process(channel, delivery, loaded))
            self.inflight[name].add(task)
            task.add_done_callback(self.inflight[name].discard)
        return len(deliveries)

    async def run_until_idle(self, max_seconds: float = 30) -> int:
        """Process everything due now, then return (for the CLI's one-shot run and tests).
        At the deadline, what is still in flight gets the shutdown grace period, as in stop()."""
        await self._open()
        self.writer.start()
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
            self.stop_claiming()
            await self._wind_down(self.cfg.shutdown_grace_seconds)
            self._stopping.clear()  # it may run again
        return self.processed - before

    # -- one delivery --------------------------------------------------------------------
    async def _process(self, channel: Channel, delivery: Delivery, loaded: Loaded) -> None:
        # Every log line of this attempt (channel code included) names the delivery and item.
        with log_context(
            item_id=delivery.item_id,
            delivery_id=delivery.id,
            channel=channel.name,
            action=delivery.action,
        ):
            await self._process_logged(channel, delivery, loaded)

    async def _process_logged(self, channel: Channel, delivery: Delivery, loaded: Loaded) -> None:
        submitted = retry_release = False
        started = time.perf_counter()
        self._held.add(delivery.id)
        try:
            outcome = await self._attempt(channel, delivery, loaded)
            submitted = True
            await self.writer.submit(outcome)
            self.metrics.delivery_finished(
                channel.name,
                delivery.action,
                outcome.status.value,
                outcome.error_class,
                delivery.due_at,
                time.perf_counter() - started,
            )
            _log_outcome(outcome)
        except LeaseLost:
            log.warning("delivery %s: lease lost to another worker", delivery.id)
        except asyncio.CancelledError:
            if not submitted:  # give it back so another worker takes it at once
                try:
                    # The attempt counts: it may have reached the remote before the cancel,
                    # and the next one must look that up first.
                    await asyncio.shield(self.outbox.release([delivery.id], untried=False))
                except Exception:  # the end of the shutdown tries once more
                    log.warning("delivery %s: not given back yet", delivery.id, exc_info=True)
                    retry_release = True
            raise
        except Exception:
            log.exception("delivery %s: unexpected failure", delivery.id)
        finally:
            self._held.discard(delivery.id)
            if not retry_release:  # attempted, given back, or its lease is let expire
                self._claimed.discard(delivery.id)
            self.processed += 1
            self.consumed_at = datetime.now(UTC)

    async def _attempt(self, channel: Channel, delivery: Delivery, loaded: Loaded) -> Outcome:
        """Run one attempt through the channel; the outcome is written by the batch writer."""
        job = DeliveryJob(self.outbox, delivery)
        try:
            if delivery.action == DeliveryAction.RETRACT.value:
                return await self._retract(channel, delivery, job)
            return await self._publish(channel, delivery, job, loaded)
        except StillProcessing as exc:  # waiting on the remote side is not a failed attempt
            hint = exc.retry_after
            return self._retry(delivery, hint if hint is not None else 60, str(exc), exc.kind)
        except RateLimited as exc:
            hint = exc.retry_after
            delay = hint if hint is not None else self.backoff.delay(delivery.attempts)
            return self._retry_or_die(delivery, delay, exc)
        except AuthError as exc:
            if job.checkpoint.get("auth_retried"):
                return Outcome(delivery, D.DEAD, str(exc), exc.kind)
            await job.save(auth_retried=True)  # credentials refreshed: one more try, at once
            return self._retry(delivery, 0, str(exc), exc.kind)
        except OutcomeUnknown as exc:
            if channel.limits.can_lookup:  # the next attempt looks the result up first
                return self._retry_or_die(delivery, self.backoff.delay(delivery.attempts), exc)
            return Outcome(delivery, D.UNCONFIRMED, str(exc), exc.kind)
        except TransientError as exc:
            return self._retry_or_die(delivery, self.backoff.delay(delivery.attempts), exc)
        except PermanentError as exc:
            return Outcome(delivery, D.DEAD, str(exc), exc.kind)
        except (LeaseLost, asyncio.CancelledError):
            raise
        except Exception as exc:
            log.exception("delivery %s: channel %s raised", delivery.id, channel.name)
            error = ChannelError(f"内部错误：{type(exc).__name__}: {exc}")
            return self._retry_or_die(delivery, self.backoff.delay(delivery.attempts), error)

    @staticmethod
    def _retry(delivery: Delivery, delay: float, error: str, error_class: str) -> Outcome:
        at = datetime.now(UTC) + timedelta(seconds=delay)
        return Outcome(delivery, D.PENDING, error, error_class, retry_at=at)

    def _retry_or_die(self, delivery: Delivery, delay: float, exc: ChannelError) -> Outcome:
        if delivery.attempts >= self.cfg.max_attempts:
            error = f"已重试 {delivery.attempts} 次仍失败：{exc}"
            return Outcome(delivery, D.DEAD, error, exc.kind)
        return self._retry(delivery, delay, str(exc), exc.kind)

    async def _publish(
        self, channel: Channel, delivery: Delivery, job: DeliveryJob, loaded: Loaded
    ) -> Outcome:
        item = loaded.items[delivery.item_id]
        if not job.checkpoint and (
            item.status == ItemStatus.RETRACTED.value or item.version > delivery.item_version
        ):
            reason = "稿件已撤稿或已修改为新版本，此版本不再发布。"
            return Outcome(delivery, D.CANCELLED, reason)
        version = loaded.versions[(delivery.item_id, delivery.item_version)]
        snap = version.snapshot
        findings = await prereview.run(snap, self.config, [channel.name], check_links=self.links)
        blocking = [f for f in findings if f.blocks]
        held = [f for f in findings if f.severity == "block" and f.overridable]
        if held:  # a block a reviewer may override: only one already overridden lets it go
            overridden = set(
                await Finding.filter(
                    item_id=delivery.item_id,
                    item_version=delivery.item_version,
                    overridden_at__not_isnull=True,
                ).values_list("rule", "field")
            )
            blocking += [f for f in held if (f.rule, f.field) not in overridden]
        if blocking:
            await self._record_dispatch_findings(delivery.item_id, delivery.item_version, blocking)
            raise PermanentError("发布前复核未通过：" + "；".join(f.message for f in blocking))
        content = self.renderer.render(snap, channel.name, version.approved_at)
        await self.limiters[channel.name].acquire()
        result = await channel.publish(content, job)
        return Outcome(delivery, D.DONE, remote_id=result.remote_id, remote_url=result.remote_url)

    async def _record_dispatch_findings(
        self, item_id: int, version: int, findings: list[FindingData]
    ) -> None:
        async with in_transaction() as conn:
            await prereview.save_findings(conn, item_id, version, "dispatch", findings)

    async def _retract(self, channel: Channel, delivery: Delivery, job: DeliveryJob) -> Outcome:
        base = Delivery.filter(
            item_id=delivery.item_id,
            channel=channel.name,
            action=DeliveryAction.PUBLISH.value,
        )
        if await base.filter(status=D.RUNNING.value).exists():
            # A publish is still in flight on this channel: retract after it has finished.
            return self._retry(delivery, 2.0, "等待发布完成后撤稿", "waiting")
        done = await base.filter(status=D.DONE.value).order_by("-item_version").first()
        if done is None:
            return Outcome(delivery, D.DONE, details={"note": "该渠道未曾发布，无需撤稿"})
        await self.limiters[channel.name].acquire()
        await channel.retract(Published(done.remote_id, done.remote_url), job)
        return Outcome(delivery, D.DONE, remote_id=done.remote_id)

    # -- heartbeat -----------------------------------------------------------------------
    async def beat(self) -> None:
        """Write this worker's heartbeat now (the loop writes one every heartbeat_seconds)."""
        await self.outbox.beat(self._started, self.consumed_at)

    async def _renew_loop(self) -> None:
        """Keep the leases of deliveries in flight here (one statement for all of them)."""
        while True:
            await asyncio.sleep(self.cfg.lease_seconds / 3)
            try:
                await self.outbox.renew(sorted(self._held))
            except Exception:
                log.exception("lease renewal failed")

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.heartbeat_seconds)
            try:
                await self.beat()
            except Exception:
                log.exception("heartbeat failed")
