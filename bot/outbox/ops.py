"""Staff actions on single deliveries: retry a delivery that died, was missed or whose outcome
is unconfirmed, and cancel one that has not gone out. Each is a compare-and-set on the status
(bot/outbox/store.py writes the row) in one transaction with its audit event and the item's
status settled again, like the dispatcher's own writes."""

from __future__ import annotations

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from bot import audit
from bot.actors import Actor
from bot.items.lifecycle import LifecycleError
from bot.models import (
    DELIVERY_STATUS_LABELS,
    Delivery,
    DeliveryAction,
    DeliveryStatus,
    Item,
    ItemStatus,
    Role,
)
from bot.outbox import store
from bot.outbox.settle import settle_items

D = DeliveryStatus
RETRYABLE = frozenset({D.DEAD.value, D.MISSED.value, D.UNCONFIRMED.value})
CANCELLABLE = frozenset({D.PENDING.value, *RETRYABLE})


class DeliveryNotFound(LifecycleError):
    status_code = 404

    def __init__(self, delivery_id: int) -> None:
        super().__init__(f"投递 #{delivery_id} 不存在。")


class DeliveryStateError(LifecycleError):
    """The delivery is not in a state that allows the action (message names the state)."""


def _label(status: str) -> str:
    return (
        DELIVERY_STATUS_LABELS.get(D(status), status) if status in D._value2member_map_ else status
    )


async def _delivery(conn: BaseDBAsyncClient, delivery_id: int) -> Delivery:
    d = await Delivery.filter(id=delivery_id).using_db(conn).first()
    if d is None:
        raise DeliveryNotFound(delivery_id)
    return d


async def retry(delivery_id: int, actor: Actor) -> Delivery:
    """Send again from its checkpoint: a fresh series of attempts, due now. A publish of an
    old version, or of a retracted item, is refused (it would put stale content out)."""
    actor.require(Role.REVIEWER, doing="重试投递")
    async with in_transaction() as conn:
        d = await _delivery(conn, delivery_id)
        if d.status not in RETRYABLE:
            raise DeliveryStateError(
                f"投递 #{d.id} 当前状态为「{_label(d.status)}」，"
                "只有失败、已错过或结果待确认的投递可以重试。"
            )
        item = await Item.filter(id=d.item_id).using_db(conn).get()
        if d.action == DeliveryAction.PUBLISH.value and (
            item.status == ItemStatus.RETRACTED.value or item.version != d.item_version
        ):
            raise DeliveryStateError(
                f"投递 #{d.id} 发布的是第 {d.item_version} 版，稿件已撤稿或已有新版本，不能重试。"
            )
        if not await store.reopen(conn, d):
            raise DeliveryStateError(f"投递 #{d.id} 的状态刚刚被其他操作改变，请刷新后重试。")
        events = [
            audit.Event(
                actor.name,
                "delivery.retry",
                "delivery",
                d.id,
                {
                    "item_id": d.item_id,
                    "channel": d.channel,
                    "from": d.status,
                    "error": d.last_error,
                },
            )
        ]
        events += await settle_items(conn, {d.item_id})
        await audit.record_many(conn, events)
        await store.notify(conn)
    return await Delivery.get(id=delivery_id)


async def cancel(delivery_id: int, actor: Actor, reason: str = "") -> Delivery:
    """Cancel a delivery that has not gone out (pending), or close a failed one for good."""
    actor.require(Role.REVIEWER, doing="取消投递")
    async with in_transaction() as conn:
        d = await _delivery(conn, delivery_id)
        if d.status not in CANCELLABLE:
            raise DeliveryStateError(
                f"投递 #{d.id} 当前状态为「{_label(d.status)}」，不能取消"
                "（发送中的投递须等其结束；已完成的请用撤稿）。"
            )
        if not await store.close(conn, d):
            raise DeliveryStateError(f"投递 #{d.id} 的状态刚刚被其他操作改变，请刷新后重试。")
        events = [
            audit.Event(
                actor.name,
                "delivery.cancel",
                "delivery",
                d.id,
                {"item_id": d.item_id, "channel": d.channel, "from": d.status, "reason": reason},
            )
        ]
        events += await settle_items(conn, {d.item_id})
        await audit.record_many(conn, events)
    return await Delivery.get(id=delivery_id)
