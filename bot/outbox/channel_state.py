"""Database-backed state shared by every process, in the shapes channels ask for: the access
token store with its cross-process refresh lock (ChannelState: compare-and-set on the lock
columns), channel events written by the callback (ChannelEvent), and the articles a channel
published (done deliveries), whose comments are polled.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q

from bot.models import ChannelEvent, ChannelState, Delivery, DeliveryAction, DeliveryStatus
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


class PublishedArticles:
    """The remote ids of a channel's done publish deliveries within the last `days`, not
    retracted since: the articles whose comments are polled."""

    def __init__(self, channel: str, days: int) -> None:
        self.channel = channel
        self.days = days

    async def __call__(self) -> list[str]:
        since = datetime.now(UTC) - timedelta(days=self.days)
        done = DeliveryStatus.DONE.value
        rows = await Delivery.filter(
            channel=self.channel,
            action=DeliveryAction.PUBLISH.value,
            status=done,
            finished_at__gte=since,
        ).values_list("remote_id", flat=True)
        retracted = set(
            await Delivery.filter(
                channel=self.channel, action=DeliveryAction.RETRACT.value, status=done
            ).values_list("remote_id", flat=True)
        )
        return [str(r) for r in dict.fromkeys(rows) if r and r not in retracted]
