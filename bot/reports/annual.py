"""The statistics of the annual report on government information disclosure (政府信息公开工作
年度报告, format of 国办公开办函〔2021〕30号) that Gongkai can give from what it stored:
items published by kind, column and channel per month; normative documents (policies) issued,
repealed and in force; enforcement decisions published and how many within their deadline;
the 多元化解读率; comments received and answered on time; the 办事事项 the public raised most
and the 专项回应 tasks opened and met on time.

A month is a month in the configured time zone (Asia/Shanghai): an item published at
2026-01-31 17:00 UTC counts in February. Rendering (Markdown, CSV, SVG) is
bot/reports/annual_files.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.functions import Min

from bot.config import Config, ReviewConfig
from bot.inbox.metrics import InboxMetrics, inbox_metrics
from bot.matters.figures import YearFigures, year_figures
from bot.models import (
    KIND_LABELS,
    AuditEvent,
    Delivery,
    DeliveryAction,
    DeliveryStatus,
    Item,
    ItemStatus,
    Kind,
)
from bot.reports.stats import DiversifiedRate, interpretation_rate
from bot.timeutil import aware
from moderation.rules.enforcement import SHORT_DEADLINE
from moderation.workdays import add_workdays

__all__ = ["AnnualReport", "EnforcementCount", "PolicyCounts", "annual_report", "year_bounds"]

MONTHS = 12
# Enforcement decision types of the official table (第二十条第（五）（六）项), then the rest.
OFFICIAL_ENFORCEMENT = ("行政许可", "行政处罚", "行政强制")
OTHER_CATEGORY = "其他"
RETRACTED = ItemStatus.RETRACTED.value


def year_bounds(year: int, tz: str) -> tuple[datetime, datetime]:
    """[1 January 00:00, next 1 January 00:00) of `year` in zone `tz`, as UTC datetimes."""
    zone = ZoneInfo(tz)
    start = datetime(year, 1, 1, tzinfo=zone).astimezone(UTC)
    return start, datetime(year + 1, 1, 1, tzinfo=zone).astimezone(UTC)


def _months() -> list[int]:
    return [0] * MONTHS


@dataclass
class PolicyCounts:
    """行政规范性文件 (items of kind policy)."""

    issued: int = 0  # 本年制发: published in the year, not retracted
    repealed: int = 0  # 本年废止: set to repealed during the year (and still so at year end)
    expired: int = 0  # 本年失效: set to expired during the year (and still so at year end)
    valid: int = 0  # at year end: validity "" (有效)
    amended: int = 0  # at year end: amended (已修订), still in force as amended

    @property
    def in_force(self) -> int:
        """现行有效件数 at year end: valid plus amended."""
        return self.valid + self.amended


@dataclass
class EnforcementCount:
    """Enforcement decisions of one category published in the year."""

    published: int = 0
    within: int = 0  # published on or before the deadline day (Shanghai date)
    late: int = 0
    undated: int = 0  # decision_date missing or unreadable: not judged
    calendar_unknown: int = 0  # judged without the State Council's 调休 for some year

    @property
    def judged(self) -> int:
        return self.within + self.late

    @property
    def within_rate(self) -> float | None:
        return self.within / self.judged if self.judged else None


@dataclass
class AnnualReport:
    year: int
    timezone: str
    generated_at: datetime
    kind_labels: dict[str, str]
    column_labels: dict[str, str]
    by_kind: dict[str, list[int]] = field(default_factory=dict)  # kind → 12 monthly counts
    by_column: dict[str, list[int]] = field(default_factory=dict)
    by_channel: dict[str, list[int]] = field(default_factory=dict)  # first done, per channel
    retracted: int = 0  # published in the year, since retracted: left out of the counts
    policies: PolicyCounts = field(default_factory=PolicyCounts)
    enforcement: dict[str, EnforcementCount] = field(default_factory=dict)
    enforcement_days: dict[str, int] = field(default_factory=dict)  # category → working days
    interpretation: DiversifiedRate | None = None
    inbox: InboxMetrics | None = None
    matters: YearFigures | None = None  # 集中诉求 and 专项回应 (bot/matters/)

    @property
    def published_total(self) -> int:
        return sum(sum(v) for v in self.by_kind.values())

    def monthly_totals(self) -> list[int]:
        return [sum(v[m] for v in self.by_kind.values()) for m in range(MONTHS)]


def _parse_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = "".join(str(value or "").split())[:10]
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _category(value: Any) -> str:
    text = "".join(str(value or "").split())
    return text or OTHER_CATEGORY


async def _items(report: AnnualReport, start: datetime, end: datetime, config: Config) -> None:
    zone = ZoneInfo(report.timezone)
    rows = await Item.filter(published_at__gte=start, published_at__lt=end).values(
        "id", "kind", "column", "status", "enforcement", "published_at"
    )
    review = config.review
    for kind in Kind:
        report.by_kind[kind.value] = _months()
    for key in config.columns:
        report.by_column[key] = _months()
    for category in OFFICIAL_ENFORCEMENT:
        report.enforcement[category] = EnforcementCount()
    for row in rows:
        if row["status"] == RETRACTED:
            report.retracted += 1
            continue
        local = row["published_at"].astimezone(zone)
        month = local.month - 1
        report.by_kind.setdefault(row["kind"], _months())[month] += 1
        report.by_column.setdefault(row["column"], _months())[month] += 1
        if row["kind"] == Kind.POLICY.value:
            report.policies.issued += 1
        if row["kind"] == Kind.ENFORCEMENT.value:
            _count_enforcement(report, row["enforcement"] or {}, local.date(), review)


def _count_enforcement(
    report: AnnualReport, data: dict[str, Any], published: date, review: ReviewConfig
) -> None:
    category = _category(data.get("category"))
    days = (
        review.permit_penalty_days if category in SHORT_DEADLINE else review.other_enforcement_days
    )
    report.enforcement_days[category] = days
    count = report.enforcement.setdefault(category, EnforcementCount())
    count.published += 1
    decided = _parse_date(data.get("decision_date"))
    if decided is None:
        count.undated += 1
        return
    deadline, known = add_workdays(decided, days)
    if not known:
        count.calendar_unknown += 1
    if published <= deadline:
        count.within += 1
    else:
        count.late += 1


async def _channels(report: AnnualReport, start: datetime, end: datetime, config: Config) -> None:
    """Items per channel by the month each first reached it (publish delivery done)."""
    zone = ZoneInfo(report.timezone)
    for name in config.channels.enabled_names():
        report.by_channel[name] = _months()
    rows = (
        await Delivery.filter(
            action=DeliveryAction.PUBLISH.value,
            status=DeliveryStatus.DONE.value,
            finished_at__lt=end,
        )
        .annotate(first=Min("finished_at"))
        .group_by("channel", "item_id")
        .values("channel", "item_id", "first")
    )
    firsts = [(r["channel"], r["item_id"], aware(r["first"])) for r in rows if r["first"]]
    firsts = [f for f in firsts if f[2] >= start]
    retracted = set(
        await Item.filter(id__in=sorted({f[1] for f in firsts}), status=RETRACTED).values_list(
            "id", flat=True
        )
    )
    for channel, item_id, first in firsts:
        if item_id not in retracted:
            report.by_channel.setdefault(channel, _months())[first.astimezone(zone).month - 1] += 1


async def _policies(report: AnnualReport, start: datetime, end: datetime) -> None:
    """Validity at year end, rebuilt from the audit log (item.validity events), so a report
    made later still shows the year as it ended."""
    policies = await (
        Item.filter(kind=Kind.POLICY.value, published_at__lt=end)
        .exclude(status=RETRACTED)
        .values_list("id", flat=True)
    )
    ids = {str(i) for i in policies}
    events = await (
        AuditEvent.filter(action="item.validity", target_type="item", at__lt=end)
        .order_by("id")
        .values("target_id", "at", "details")
    )
    last: dict[str, tuple[str, datetime]] = {}
    for event in events:
        if event["target_id"] in ids:
            last[event["target_id"]] = (str(event["details"].get("validity", "")), event["at"])
    counts = report.policies
    for item_id in ids:
        validity, at = last.get(item_id, ("", start))
        changed_in_year = item_id in last and at >= start
        if validity == "":
            counts.valid += 1
        elif validity == "amended":
            counts.amended += 1
        elif validity == "repealed" and changed_in_year:
            counts.repealed += 1
        elif validity == "expired" and changed_in_year:
            counts.expired += 1


async def annual_report(config: Config, year: int, now: datetime | None = None) -> AnnualReport:
    """Every figure of the report for `year` (a year in config.app.timezone)."""
    now = now or datetime.now(UTC)
    tz = config.app.timezone
    start, end = year_bounds(year, tz)
    report = AnnualReport(
        year=year,
        timezone=tz,
        generated_at=now,
        kind_labels={k.value: label for k, label in KIND_LABELS.items()},
        column_labels={key: column.name for key, column in config.columns.items()},
    )
    await _items(report, start, end, config)
    await _channels(report, start, end, config)
    await _policies(report, start, end)
    report.interpretation = await interpretation_rate(date(year, 1, 1), date(year, 12, 31), tz)
    report.inbox = await inbox_metrics(config, start, end, now=now)
    report.matters = await year_figures(config, start, end, now)
    for category in OFFICIAL_ENFORCEMENT:
        report.enforcement_days.setdefault(
            category,
            config.review.permit_penalty_days
            if category in SHORT_DEADLINE
            else config.review.other_enforcement_days,
        )
    return report
