"""Figures the disclosure rules are judged by, computed from what Gongkai stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from bot.models import Item, ItemStatus, Kind
from moderation.interpretation_stats import diversified_rate

DIVERSIFIED_TARGET = 0.6  # 多元化解读率不低于60% (the source document)


@dataclass(frozen=True)
class DiversifiedRate:
    start: date
    end: date  # inclusive
    interpretations: int
    diversified: int
    rate: float | None  # None when no interpretation was published in the period

    @property
    def meets_target(self) -> bool | None:
        return None if self.rate is None else self.rate >= DIVERSIFIED_TARGET


async def interpretation_rate(start: date, end: date, tz: str) -> DiversifiedRate:
    """多元化解读率 of the interpretations first published between start and end (local dates,
    inclusive), retracted ones excluded."""
    zone = ZoneInfo(tz)
    # Compared in UTC: SQLite compares stored times as text, which is only right in one zone.
    since = datetime.combine(start, time.min, zone).astimezone(UTC)
    until = datetime.combine(end, time.max, zone).astimezone(UTC)
    rows = (
        await Item.filter(
            kind=Kind.INTERPRETATION.value,
            published_at__gte=since,
            published_at__lte=until,
        )
        .exclude(status=ItemStatus.RETRACTED.value)
        .values_list("interpretation_forms", flat=True)
    )
    forms = [list(f or []) for f in rows]
    rate = diversified_rate(forms)
    diversified = round(rate * len(forms)) if rate is not None else 0
    return DiversifiedRate(start, end, len(forms), diversified, rate)
