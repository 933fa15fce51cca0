"""The inbox side of a worker process: the reply sender, the scheduler with the periodic jobs
(scheduler/jobs.py) and, with channels.wechat.callback.relay_in_workers, the relay that hands
the WeChat messages the web processes stored to the inbox; started and stopped together by
bot/runner.py."""

from __future__ import annotations

import logging

import aiohttp
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.config import Config, ConfigError
from bot.inbox.ingest import Inbox
from bot.inbox.replies import ReplySender
from bot.outbox.claim import lease_owner
from bot.wechat.relay import MessageRelay
from channels.base import Channel
from scheduler.alerts import Alerter
from scheduler.jobs import JobContext, build_scheduler, job_specs, stop_scheduler

log = logging.getLogger(__name__)


class InboxWorker:
    def __init__(
        self,
        config: Config,
        channels: dict[str, Channel],
        owner: str | None = None,
    ):
        self.config = config
        wechat = config.channels.wechat
        self.relay_wechat = wechat.enabled and wechat.callback.relay_in_workers
        self.relay: MessageRelay | None = None
        self.channels = channels
        self.owner = owner or lease_owner()
        self.inbox = Inbox(config)
        self.replies = ReplySender(config, channels, owner=f"{self.owner}:replies")
        self._session: aiohttp.ClientSession | None = None
        self._scheduler: AsyncIOScheduler | None = None
        self._ctx: JobContext | None = None

    async def start(self) -> None:
        """Build the knowledge base, then start sending replies and running the jobs. The
        channels must already be started (the dispatcher starts them)."""
        self._session = aiohttp.ClientSession()
        documents = await self.inbox.refresh_knowledge()
        await self.inbox.refresh_model()
        ctx = JobContext(
            self.config,
            self.inbox,
            self.channels,
            Alerter(self.config, self._session),
            self.owner,
            self._session,
        )
        self._ctx = ctx
        self._scheduler = build_scheduler(ctx, job_specs(self.config))
        self._scheduler.start()
        self.replies.start()
        if self.relay_wechat:
            try:
                key = self.config.author_key()
            except ConfigError as exc:  # the web process's callback answers 503 for it too
                log.error("wechat messages not relayed to the inbox: %s", exc)
            else:
                self.relay = MessageRelay(
                    self.config, self.inbox, key, beside_callback=False, owner=f"{self.owner}:relay"
                )
                await self.relay.start()
        log.info("inbox worker %s started (knowledge base: %d documents)", self.owner, documents)

    async def stop(self, grace: float | None = None) -> None:
        """Stop the relay, the jobs (runs in progress get `grace` seconds, by default the
        dispatcher's shutdown grace period) and the reply sender."""
        if self.relay is not None:
            await self.relay.stop()
            self.relay = None
        if self._scheduler is not None and self._ctx is not None:
            if grace is None:
                grace = self.config.dispatcher.shutdown_grace_seconds
            await stop_scheduler(self._scheduler, self._ctx, grace)
            self._scheduler = None
        await self.replies.stop()
        if self._session is not None:
            await self._session.close()
            self._session = None
