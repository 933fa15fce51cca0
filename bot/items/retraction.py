"""What a 撤稿 would do, read before it is done: the channels the item reached (with when it was
published there), which of them can retract it and which must be cleaned up by hand, and the
deliveries not yet sent that it cancels. The console's confirmation page says this;
bot/items/lifecycle.py: retract does it, from the same statuses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.actors import Actor
from bot.items.lifecycle import ALLOWED, REACHED, IllegalTransition, InvalidItem, ItemNotFound
from bot.models import Delivery, DeliveryAction, DeliveryStatus, Item, ItemStatus, Role


@dataclass(frozen=True)
class Reached:
    """A channel the item's publication reached, or may have reached."""

    channel: str
    status: str  # done | running | unconfirmed
    published_at: datetime | None  # when the newest publication there finished


@dataclass(frozen=True)
class RetractPlan:
    item: Item
    reached: list[Reached]
    retract_on: list[str]  # channels that will be asked to retract
    cannot_retract: list[str]  # reached channels that cannot retract: by hand
    cancelled: list[str]  # channels whose pending publication is cancelled


async def plan(
    item_id: int, actor: Actor, reason: str, can_retract: dict[str, bool]
) -> RetractPlan:
    """What lifecycle.retract would do now, with its refusals (role, reason, state), writing
    nothing."""
    actor.require(Role.REVIEWER)
    if not reason.strip():
        raise InvalidItem("撤稿须填写理由。", "reason")
    item = await Item.filter(id=item_id).first()
    if item is None:
        raise ItemNotFound(item_id)
    if ItemStatus(item.status) not in ALLOWED["retract"]:
        raise IllegalTransition("retract", item.status, ALLOWED["retract"])
    rows = await Delivery.filter(item_id=item.id, action=DeliveryAction.PUBLISH.value)
    shown: dict[str, Delivery] = {}
    for row in rows:
        if row.status in REACHED and _better(row, shown.get(row.channel)):
            shown[row.channel] = row
    reached = [
        Reached(d.channel, d.status, d.finished_at if d.status == DeliveryStatus.DONE else None)
        for _, d in sorted(shown.items())
    ]
    channels = [r.channel for r in reached]
    return RetractPlan(
        item=item,
        reached=reached,
        retract_on=[c for c in channels if can_retract.get(c, False)],
        cannot_retract=[c for c in channels if not can_retract.get(c, False)],
        cancelled=sorted({r.channel for r in rows if r.status == DeliveryStatus.PENDING}),
    )


def _better(row: Delivery, than: Delivery | None) -> bool:
    """Which of a channel's publications to name: the newest finished one, else one in flight."""
    if than is None:
        return True
    if row.status != DeliveryStatus.DONE or than.status != DeliveryStatus.DONE:
        return row.status == DeliveryStatus.DONE and than.status != DeliveryStatus.DONE
    return (row.finished_at or row.created_at) > (than.finished_at or than.created_at)
