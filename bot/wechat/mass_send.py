"""The daily WeChat 群发: the day's published items flagged `notify` go to every follower as one
multi-article message (at most 8 articles, ranked by priority, then publication time) at the
configured time (Asia/Shanghai), never more often than the account's quota allows.

The MassSend row, unique on (channel, day), is the guard: it is created once per day, claimed by
one process (compare-and-set on its status), checkpointed after the draft, and marked sent; a
second send the same day is refused here, not by WeChat. WeChat's clientmsgid makes a retried
sendall return the first send's msg_id instead of sending again (45065); a retry within a minute
of the last is refused (45066) and tried again at least 60 s later with the same clientmsgid
[S25]. The send's msg_data_id and each item's place in it are kept in the row's checkpoint:
they address the comments of the 群发 copy (docs/channels/wechat.md Q1).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from bot import audit
from bot.config import Config
from bot.items.render import Renderer
from bot.models import (
    ChannelEvent,
    Delivery,
    DeliveryAction,
    DeliveryStatus,
    Item,
    ItemStatus,
    ItemVersion,
    MassSend,
)
from bot.outbox.channel_set import build_wechat
from channels.base import ChannelError, PermanentError, RateLimited
from channels.wechat.channel import MassSent, WechatChannel
from channels.wechat.errors import MASS_RETRY_SECONDS

log = logging.getLogger(__name__)
CHANNEL = "wechat"
ACTOR = "system:mass_send"
STALE_CLAIM = timedelta(minutes=10)  # a "sending" row untouched this long was left by a crash


@dataclass(frozen=True)
class PlannedArticle:
    item_id: int
    title: str
    priority: int
    published_at: datetime
    article_id: str


@dataclass(frozen=True)
class MassSendPlan:
    """What the day's mass send holds (in order) and what did not fit, for the console."""

    day: date
    send_at: datetime  # UTC
    status: str  # none | planned | sending | sent | failed
    articles: list[PlannedArticle]
    left_out: list[PlannedArticle]
    msg_id: str = ""
    error: str = ""
    result: dict[str, Any] = field(default_factory=dict)  # MASSSENDJOBFINISH payload


@dataclass(frozen=True)
class SendOutcome:
    day: date
    status: str  # sent | already_sent | nothing | quota | busy | failed | retry | waiting
    item_ids: list[int] = field(default_factory=list)
    left_out: list[int] = field(default_factory=list)
    msg_id: str = ""
    error: str = ""


class _Scratch:
    """A Job over a copy of a publish delivery's checkpoint: the article is rebuilt from what
    was uploaded then; nothing is written back."""

    def __init__(self, delivery: Delivery) -> None:
        self.delivery_id = delivery.id
        self.idempotency_key = f"mass-{delivery.id}"
        self.checkpoint: dict[str, Any] = dict(delivery.checkpoint or {})
        self.attempt = delivery.attempts

    async def save(self, **updates: Any) -> None:
        self.checkpoint.update(updates)


class MassSender:
    def __init__(self, config: Config, channel: WechatChannel | None = None) -> None:
        self.config = config
        self.cfg = config.channels.wechat
        self.channel = channel
        self.tz = ZoneInfo("Asia/Shanghai")
        self.renderer = Renderer(config)

    def send_at(self, day: date) -> datetime:
        hour, minute = (int(p) for p in self.cfg.mass_send_time.split(":"))
        return datetime.combine(day, time(hour, minute), self.tz).astimezone(UTC)

    async def _candidates(self, day: date) -> list[tuple[PlannedArticle, Delivery]]:
        start = datetime.combine(day, time(0), self.tz).astimezone(UTC)
        done = await Delivery.filter(
            channel=CHANNEL,
            action=DeliveryAction.PUBLISH.value,
            status=DeliveryStatus.DONE.value,
            finished_at__gte=start,
            finished_at__lt=start + timedelta(days=1),
        ).order_by("-item_version")
        latest: dict[int, Delivery] = {}
        for d in done:
            latest.setdefault(d.item_id, d)
        items = await Item.filter(id__in=list(latest), notify=True).exclude(
            status=ItemStatus.RETRACTED.value
        )
        out = []
        for item in items:
            d = latest[item.id]
            assert d.finished_at is not None
            planned = PlannedArticle(item.id, item.title, item.priority, d.finished_at, d.remote_id)
            out.append((planned, d))
        out.sort(key=lambda pair: (-pair[0].priority, pair[0].published_at, pair[0].item_id))
        return out

    async def plan_for(self, day: date) -> MassSendPlan:
        """The day's mass send: planned from today's notify items, or as recorded once sent."""
        candidates = [p for p, _ in await self._candidates(day)]
        row = await MassSend.filter(channel=CHANNEL, day=day).first()
        size = self.cfg.mass_send_max_articles
        if row is None:
            return MassSendPlan(
                day, self.send_at(day), "none", candidates[:size], candidates[size:]
            )
        chosen = set(row.item_ids)
        by_id = {p.item_id: p for p in candidates}
        articles = [by_id[i] for i in row.item_ids if i in by_id]
        result: dict[str, Any] = {}
        if row.msg_id:
            event = await ChannelEvent.filter(channel=CHANNEL, key=f"masssend:{row.msg_id}").first()
            result = dict(event.payload) if event else {}
        return MassSendPlan(
            day,
            self.send_at(day),
            row.status,
            articles,
            [p for p in candidates if p.item_id not in chosen],
            row.msg_id,
            row.last_error,
            result,
        )

    async def _month_quota_left(self, day: date) -> bool:
        if self.cfg.account_type == "subscription":
            return True  # one a day: the (channel, day) row is the guard
        first = day.replace(day=1)
        sent = await MassSend.filter(
            channel=CHANNEL, day__gte=first, day__lte=day, status__in=["sent", "sending"]
        ).count()
        return sent < 4

    async def send_due(self, now: datetime) -> SendOutcome | None:
        """Send today's mass send if its time has come and it has not gone yet; None before
        the time. Safe to call from every process, as often as wanted."""
        day = now.astimezone(self.tz).date()
        if now < self.send_at(day):
            return None
        row = await MassSend.filter(channel=CHANNEL, day=day).first()
        if row is None:
            plan = await self.plan_for(day)
            if not plan.articles:
                return SendOutcome(day, "nothing")
            if not await self._month_quota_left(day):
                return SendOutcome(day, "quota", error="本月群发次数已用完（服务号每月4次）。")
            ids = [p.item_id for p in plan.articles]
            try:
                row = await MassSend.create(channel=CHANNEL, day=day, item_ids=ids, planned_at=now)
            except IntegrityError:
                row = await MassSend.get(channel=CHANNEL, day=day)
        if row.status == "sent":
            return SendOutcome(day, "already_sent", row.item_ids, msg_id=row.msg_id)
        if row.status == "failed":
            return SendOutcome(day, "failed", row.item_ids, error=row.last_error)
        retry_at = (row.checkpoint or {}).get("retry_at")
        if row.status == "planned" and retry_at and now < datetime.fromisoformat(retry_at):
            return SendOutcome(day, "waiting", row.item_ids, error=row.last_error)
        claimed = (
            await MassSend.filter(id=row.id)
            .filter(Q(status="planned") | Q(status="sending", updated_at__lt=now - STALE_CLAIM))
            .update(status="sending", updated_at=now)
        )
        if claimed != 1:
            return SendOutcome(day, "busy", row.item_ids)
        return await self._send(row, now)

    async def _send(self, row: MassSend, now: datetime) -> SendOutcome:
        channel = self.channel or build_wechat(self.config)
        own = self.channel is None
        if own:
            await channel.start()
        left_out = [p.item_id for p in (await self.plan_for(row.day)).left_out]
        checkpoint = dict(row.checkpoint or {})
        try:
            media_id = checkpoint.get("media_id")
            if not media_id:
                articles, placed = await self._articles(channel, row)
                tag = articles[0]["content_source_url"]
                found = await channel.find_draft(tag) if checkpoint.get("draft_sent") else None
                if found is None:
                    checkpoint["draft_sent"] = True
                    await MassSend.filter(id=row.id).update(checkpoint=checkpoint)
                    found = await channel.add_draft(articles)
                media_id = found
                # The items in the order of the draft's articles: item n is index n of the 群发.
                checkpoint.update(media_id=media_id, article_items=placed)
                await MassSend.filter(id=row.id).update(checkpoint=checkpoint)
            sent = await channel.send_to_all(
                media_id, f"gongkai-mass-{row.day.isoformat()}", self.cfg.mass_send_ignore_reprint
            )
        except PermanentError as exc:
            await MassSend.filter(id=row.id).update(status="failed", last_error=str(exc))
            log.error("ALERT wechat mass send of %s failed: %s", row.day, exc)
            return SendOutcome(row.day, "failed", row.item_ids, left_out, error=str(exc))
        except ChannelError as exc:  # transient, rate-limited, unknown: a later tick retries
            if isinstance(exc, RateLimited):
                # 45066 (and quotas): not before the wait WeChat asks for, at least a minute
                # when it names none [S25].
                wait = exc.retry_after if exc.retry_after is not None else MASS_RETRY_SECONDS
                checkpoint["retry_at"] = (now + timedelta(seconds=wait)).isoformat()
            await MassSend.filter(id=row.id).update(
                status="planned", last_error=str(exc), checkpoint=checkpoint
            )
            return SendOutcome(row.day, "retry", row.item_ids, left_out, error=str(exc))
        finally:
            if own:
                await channel.close()
        return await self._sent(row, checkpoint, sent, left_out)

    async def _sent(
        self, row: MassSend, checkpoint: dict[str, Any], sent: MassSent, left_out: list[int]
    ) -> SendOutcome:
        checkpoint.pop("retry_at", None)
        if sent.msg_data_id is not None:
            checkpoint["msg_data_id"] = sent.msg_data_id
        else:  # e.g. a 45065 answer, which names only the msg_id [S25]
            log.warning(
                "wechat mass send of %s (msg_id %s): no msg_data_id, so the comments of the "
                "群发 copy cannot be polled",
                row.day,
                sent.msg_id,
            )
        async with in_transaction() as conn:
            await (
                MassSend.filter(id=row.id)
                .using_db(conn)
                .update(
                    status="sent",
                    msg_id=sent.msg_id,
                    sent_at=datetime.now(UTC),
                    last_error="",
                    checkpoint=checkpoint,
                )
            )
            details = {"day": row.day.isoformat(), "items": row.item_ids, "msg_id": sent.msg_id}
            await audit.record(conn, ACTOR, "wechat.mass_send", "mass_send", row.id, details)
        return SendOutcome(row.day, "sent", row.item_ids, left_out, sent.msg_id)

    async def _articles(
        self, channel: WechatChannel, row: MassSend
    ) -> tuple[list[dict[str, Any]], list[int]]:
        """The draft's articles, and the ids of the items they are, in the same order."""
        out = []
        placed = []
        for item_id in row.item_ids:
            delivery = (
                await Delivery.filter(
                    item_id=item_id,
                    channel=CHANNEL,
                    action=DeliveryAction.PUBLISH.value,
                    status=DeliveryStatus.DONE.value,
                )
                .order_by("-item_version")
                .first()
            )
            if delivery is None:
                continue  # retracted or superseded since the plan was made
            version = await ItemVersion.get(item_id=item_id, version=delivery.item_version)
            content = self.renderer.render(version.snapshot, CHANNEL, version.approved_at)
            job = _Scratch(delivery)
            marker = str(job.checkpoint.get("marker") or content.url)
            tagged = f"{marker}{'&' if '?' in marker else '?'}mass={row.day.isoformat()}"
            out.append(await channel.article(content, job, tagged))
            placed.append(item_id)
        if not out:
            raise PermanentError("群发计划中的稿件均已撤稿或失效，今日不再群发。")
        return out, placed


async def run_mass_send(config: Config, now: datetime | None = None) -> SendOutcome | None:
    """The scheduler's entry point (call every few minutes): send today's 群发 when due."""
    if not config.channels.wechat.enabled:
        return None
    return await MassSender(config).send_due(now or datetime.now(UTC))
