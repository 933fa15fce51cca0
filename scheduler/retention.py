"""Data retention: an enforcement notice (行政执法公示) whose display period has passed is taken
down — retracted through the item lifecycle with the reason 公示期满, so every channel that can
removes it and the retraction is audited like any other.

Items carry no display-period field, so the period comes from configuration: days counted from
first publication, `scheduler.enforcement_display_days` unless the notice's 执法类别 has its own
entry in `scheduler.enforcement_display_days_by_category`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.actors import Actor
from bot.config import Config
from bot.items import lifecycle
from bot.models import Item, ItemStatus, Kind, Role
from bot.outbox.channel_set import retract_support
from scheduler.alerts import Alerter

log = logging.getLogger(__name__)
ACTOR = Actor("system:retention", None, frozenset({Role.REVIEWER.value}))
REASON = "公示期满"
# Retraction is allowed from these; a notice that never went out is not on display.
ONLINE = (ItemStatus.PUBLISHED.value, ItemStatus.PARTLY_PUBLISHED.value)


def display_days(config: Config, enforcement: dict[str, Any]) -> int:
    s = config.scheduler
    category = str((enforcement or {}).get("category") or "").strip()
    return s.enforcement_display_days_by_category.get(category, s.enforcement_display_days)


async def expired_notices(config: Config, now: datetime) -> list[Item]:
    """Enforcement notices online whose display period has ended by `now`."""
    s = config.scheduler
    shortest = min([s.enforcement_display_days, *s.enforcement_display_days_by_category.values()])
    candidates = await Item.filter(
        kind=Kind.ENFORCEMENT.value,
        status__in=list(ONLINE),
        published_at__lte=now - timedelta(days=shortest),
    ).order_by("id")
    return [
        item
        for item in candidates
        if item.published_at is not None
        and item.published_at + timedelta(days=display_days(config, item.enforcement)) <= now
    ]


async def retention_sweep(
    config: Config, alerter: Alerter, now: datetime | None = None
) -> dict[str, Any]:
    """Retract every expired notice; one that someone else moved meanwhile is left alone."""
    now = now or datetime.now(UTC)
    expired = await expired_notices(config, now)
    if not expired:
        return {"retracted": [], "cannot_retract": {}}
    support = retract_support(config)
    retracted: list[int] = []
    cannot: dict[str, list[str]] = {}
    for item in expired:
        try:
            outcome = await lifecycle.retract(item.id, ACTOR, REASON, support)
        except lifecycle.LifecycleError as exc:  # retracted or edited meanwhile
            log.warning("retention: item %s not retracted: %s", item.id, exc)
            continue
        retracted.append(item.id)
        if outcome.cannot_retract:
            cannot[str(item.id)] = outcome.cannot_retract
    if retracted:
        lines = [f"#{i.id}《{i.title}》" for i in expired if i.id in retracted]
        text = f"【公示期满撤下】{len(retracted)} 条行政执法公示已过公示期，已自动撤稿：\n"
        text += "\n".join(lines[:30])
        if cannot:
            text += "\n以下渠道不支持自动撤稿，请人工删除：" + "；".join(
                f"#{k}：{'、'.join(v)}" for k, v in cannot.items()
            )
        await alerter.send(text)
    return {"retracted": retracted, "cannot_retract": cannot}
