"""Database-backed state shared by every process, in the shapes channels ask for: the access
token store with its cross-process refresh lock (ChannelState: compare-and-set on the lock
columns), channel events written by the callback (ChannelEvent), and the WeChat article copies
whose comments are polled (done publish deliveries and sent 群发, by their msg_data_ids), the
群发 copies a retraction deletes, and the article covers kept as WeChat material.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q

from bot.models import (
    ChannelEvent,
    ChannelState,
    Delivery,
    DeliveryAction,
    DeliveryStatus,
    MassSend,
)
from channels.wechat.channel import MassCopy
from channels.wechat.comments import CommentTarget, msg_data_id
from channels.wechat.token import StoredToken


class DbTokenStore:
    """channels.wechat.token.TokenStore on ChannelState rows (key "wechat.token")."""

    async def read(self, key: str) -> StoredToken | None:
        row = await ChannelState.filter(key=key).first()
        if row is None or not row.value.get("access_token") or row.expires_at is None:
            return None
        return StoredToken(str(row.value["access_token"]), row.expires_at)

    async def try_lock(self, key: str, owner: str, seconds: float) -> bool:
        return await hold_lease(key, owner, seconds)

    async def write(self, key: str, token: StoredToken, owner: str) -> None:
        # Written even when our lock has run out: a stable token stays valid, and the newest
        # write wins by version.
        await ChannelState.filter(key=key).update(
            value={"access_token": token.value},
            expires_at=token.expires_at,
            lock_owner="",
            lock_until=None,
            version=F("version") + 1,
            updated_at=datetime.now(UTC),
        )

    async def unlock(self, key: str, owner: str) -> None:
        await ChannelState.filter(key=key, lock_owner=owner).update(
            lock_owner="", lock_until=None, updated_at=datetime.now(UTC)
        )

    async def aclose(self) -> None:
        return None  # the database connections belong to the process


async def hold_lease(key: str, owner: str, seconds: float) -> bool:
    """Take or extend the lease named `key` for `seconds`: true while `owner` holds it (it was
    free, expired, or already ours), false while another holder's lease runs. For work one
    process at a time should do, such as the WeChat relay's polling."""
    now = datetime.now(UTC)
    try:
        await ChannelState.create(key=key, value={})
    except IntegrityError:
        pass  # the row exists: the compare-and-set below decides
    count = (
        await ChannelState.filter(key=key)
        .filter(
            Q(lock_owner="")
            | Q(lock_owner=owner)
            | Q(lock_until__isnull=True)
            | Q(lock_until__lt=now)
        )
        .update(
            lock_owner=owner,
            lock_until=now + timedelta(seconds=seconds),
            version=F("version") + 1,
            updated_at=now,
        )
    )
    return count == 1


async def release_lease(key: str, owner: str) -> None:
    await ChannelState.filter(key=key, lock_owner=owner).update(
        lock_owner="", lock_until=None, updated_at=datetime.now(UTC)
    )


class DbEvents:
    """channels.wechat.channel.EventSource on ChannelEvent rows of one channel."""

    def __init__(self, channel: str) -> None:
        self.channel = channel

    async def event(self, key: str) -> dict[str, Any] | None:
        row = await ChannelEvent.filter(channel=self.channel, key=key).first()
        return dict(row.payload) if row is not None else None


class WechatCommentTargets:
    """The WeChat article copies whose comments are polled (docs/channels/wechat.md Q1): the 发表
    copy of each publish delivery done within the last `days` and not retracted since, by the
    msg_data_id freepublish/submit returned (its checkpoint); and the 群发 copy of each item of
    the mass sends of those days, by the msg_data_id sendall returned and the item's 0-based
    place in the message (MassSend.checkpoint). A copy without a msg_data_id is not polled:
    comment/* take no article_id. A retracted item's copies are not polled: the retraction
    deleted them all (WechatChannel.retract)."""

    def __init__(self, channel: str, days: int) -> None:
        self.channel = channel
        self.days = days

    async def __call__(self) -> list[CommentTarget]:
        since = datetime.now(UTC) - timedelta(days=self.days)
        done = DeliveryStatus.DONE.value
        published = await (
            Delivery.filter(
                channel=self.channel,
                action=DeliveryAction.PUBLISH.value,
                status=done,
                finished_at__gte=since,
            )
            .order_by("id")
            .values("item_id", "remote_id", "checkpoint")
        )
        retracted: set[str] = {
            str(r)
            for r in await Delivery.filter(
                channel=self.channel, action=DeliveryAction.RETRACT.value, status=done
            ).values_list("remote_id", flat=True)
        }
        out: list[CommentTarget] = []
        for row in published:
            checkpoint = row["checkpoint"] or {}
            copy = msg_data_id(checkpoint.get("msg_data_id"))
            if copy is None or not row["remote_id"] or row["remote_id"] in retracted:
                continue
            index = int(checkpoint.get("msg_data_index") or 0)
            out.append(CommentTarget(copy, index, row["item_id"], str(row["remote_id"])))
        return out + await self._mass_copies(since, retracted)

    async def _mass_copies(self, since: datetime, retracted: set[str]) -> list[CommentTarget]:
        sends = await MassSend.filter(channel=self.channel, status="sent", day__gte=since.date())
        placed: list[tuple[int, int, int]] = []  # (msg_data_id, index, item_id)
        for send in sends:
            checkpoint = send.checkpoint or {}
            copy = msg_data_id(checkpoint.get("msg_data_id"))
            items = checkpoint.get("article_items") or []
            if copy is not None:
                placed += [(copy, index, int(item)) for index, item in enumerate(items)]
        if not placed:
            return []
        article_of = dict(
            await Delivery.filter(
                channel=self.channel,
                action=DeliveryAction.PUBLISH.value,
                status=DeliveryStatus.DONE.value,
                item_id__in=sorted({item for _, _, item in placed}),
            )
            .order_by("item_version")
            .values_list("item_id", "remote_id")
        )
        return [
            CommentTarget(copy, index, item, str(article_of.get(item) or ""), "mass")
            for copy, index, item in placed
            if article_of.get(item) not in retracted
        ]


class WechatMassCopies:
    """The 群发 articles that carried a published article (by its freepublish article_id): for
    each sent MassSend holding its item, the send's msg_id and the item's 1-based place
    (message/mass/delete's article_idx [S27]), as WechatChannel.retract deletes them."""

    def __init__(self, channel: str) -> None:
        self.channel = channel

    async def __call__(self, article_id: str) -> list[MassCopy]:
        items = set(
            await Delivery.filter(
                channel=self.channel, action=DeliveryAction.PUBLISH.value, remote_id=article_id
            ).values_list("item_id", flat=True)
        )
        if not article_id or not items:
            return []
        out = []
        sends = MassSend.filter(channel=self.channel, status="sent").order_by("day")
        for send in await sends:
            placed = [int(i) for i in (send.checkpoint or {}).get("article_items") or []]
            for index, item in enumerate(placed):
                if item in items and send.msg_id:
                    msg_id: int | str = int(send.msg_id) if send.msg_id.isdigit() else send.msg_id
                    label = f"群发（{send.day.isoformat()}，第 {index + 1} 篇）"
                    out.append(MassCopy(msg_id, index + 1, label))
        return out


COVER_KEY = "{channel}.cover.{digest}"


class DbCoverStore:
    """channels.wechat.covers.CoverStore on ChannelState rows ("wechat.cover.<sha256>": the
    media_id). A cover is in use while a publish delivery that is not cancelled names it as its
    thumb_media_id, unless that delivery's article was retracted (a RETRACT delivery done for
    its remote_id, or the one being retracted now). A 群发 copy uses its items' covers, and is
    deleted with them."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.prefix = COVER_KEY.format(channel=channel, digest="")

    async def find(self, digest: str) -> str | None:
        row = await ChannelState.filter(key=self.prefix + digest).first()
        return str(row.value["media_id"]) if row and row.value.get("media_id") else None

    async def keep(self, digest: str, media_id: str) -> str:
        try:
            await ChannelState.create(key=self.prefix + digest, value={"media_id": media_id})
        except IntegrityError:
            row = await ChannelState.get(key=self.prefix + digest)
            return str(row.value.get("media_id") or media_id)
        return media_id

    async def forget(self, media_id: str) -> None:
        for key, value in await self._kept():
            if value.get("media_id") == media_id:
                await ChannelState.filter(key=key).delete()

    async def unused(self, gone: str) -> list[str]:
        kept = [str(v["media_id"]) for _, v in await self._kept() if v.get("media_id")]
        if not kept:
            return []
        retracted = {
            str(r)
            for r in await Delivery.filter(
                channel=self.channel,
                action=DeliveryAction.RETRACT.value,
                status=DeliveryStatus.DONE.value,
            ).values_list("remote_id", flat=True)
        }
        retracted.add(gone)
        rows = (
            await Delivery.filter(channel=self.channel, action=DeliveryAction.PUBLISH.value)
            .exclude(status=DeliveryStatus.CANCELLED.value)
            .values_list("status", "remote_id", "checkpoint")
        )
        used = set()
        for status, remote_id, checkpoint in rows:
            if status == DeliveryStatus.DONE.value and remote_id in retracted:
                continue
            used.add((checkpoint or {}).get("thumb_media_id"))
        return [media_id for media_id in kept if media_id not in used]

    async def _kept(self) -> list[tuple[str, dict[str, Any]]]:
        rows = await ChannelState.filter(key__startswith=self.prefix).values_list("key", "value")
        return [(str(k), dict(v or {})) for k, v in rows]
