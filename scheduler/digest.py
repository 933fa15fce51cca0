"""The daily digest to staff: one plain-text message in Chinese (the alert robot and the log)
with yesterday's publications per channel, dead deliveries, comments received / overdue / due
today, the broken links of the last nightly re-check, freshness warnings, and the head of the
audit chain — the copy of the head hash kept outside the database that makes deleting the
newest audit rows detectable (docs/architecture.md, "Known limits").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.functions import Count

from bot.config import Config
from bot.models import (
    AuditEvent,
    Comment,
    CommentStatus,
    Delivery,
    DeliveryAction,
    DeliveryStatus,
    JobSlot,
)
from bot.reports.freshness import assess, stale_lines
from bot.reports.labels import channel_label
from scheduler.alerts import Alerter

RECHECK_JOB = "links.recheck"
LIST_LINES = 5  # the robot takes about 2,000 bytes: lists are cut short, counts never
WEEKDAYS = "一二三四五六日"


@dataclass
class Digest:
    day: date
    published: dict[str, int] = field(default_factory=dict)  # channel -> deliveries done
    dead: int = 0
    received: int = 0
    overdue: int = 0
    due_today: int = 0
    recheck_day: str = ""  # "" when no re-check has finished yet
    broken: list[dict[str, Any]] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    audit_id: int | None = None
    audit_hash: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "published": self.published,
            "dead": self.dead,
            "received": self.received,
            "overdue": self.overdue,
            "due_today": self.due_today,
            "recheck_day": self.recheck_day,
            "broken": len(self.broken),
            "stale": self.stale,
            "audit_id": self.audit_id,
            "audit_hash": self.audit_hash,
        }

    def text(self) -> str:
        yesterday = self.day - timedelta(days=1)
        lines = [f"【每日简报】{self.day.isoformat()}（周{WEEKDAYS[self.day.weekday()]}）"]
        if self.published:
            parts = "、".join(
                f"{channel_label(c)} {n} 条" for c, n in sorted(self.published.items())
            )
            total = sum(self.published.values())
            lines.append(f"一、昨日（{yesterday:%m-%d}）发布：{parts}，共 {total} 条。")
        else:
            lines.append(f"一、昨日（{yesterday:%m-%d}）无发布。")
        lines.append(
            f"二、发布失败待处理：{self.dead} 条。" if self.dead else "二、无发布失败待处理。"
        )
        lines.append(
            f"三、留言：昨日收到 {self.received} 条；已超期未答复 {self.overdue} 条；"
            f"今日到期 {self.due_today} 条。"
        )
        if not self.recheck_day:
            lines.append("四、错链断链：尚无复查结果。")
        elif not self.broken:
            lines.append(f"四、错链断链：{self.recheck_day} 复查未发现问题。")
        else:
            lines.append(f"四、错链断链：{self.recheck_day} 复查发现 {len(self.broken)} 个问题：")
            shown = self.broken[:LIST_LINES]
            lines += [f"  #{b['item_id']}《{b['title']}》{b['url']}" for b in shown]
            if len(self.broken) > LIST_LINES:
                lines.append(f"  ……另有 {len(self.broken) - LIST_LINES} 个，详见复查报告。")
        if self.stale:
            lines.append("五、更新提醒：")
            lines += [f"  {s}" for s in self.stale[:LIST_LINES]]
            if len(self.stale) > LIST_LINES:
                lines.append(f"  ……另有 {len(self.stale) - LIST_LINES} 项。")
        else:
            lines.append("五、各渠道和栏目更新正常。")
        if self.audit_id is None:
            lines.append("六、审计日志为空。")
        else:
            lines.append(f"六、审计日志链头：#{self.audit_id} {self.audit_hash}（请留存备查）")
        return "\n".join(lines)


async def build_digest(config: Config, now: datetime) -> Digest:
    tz = ZoneInfo(config.app.timezone)
    today = now.astimezone(tz).date()
    start = datetime.combine(today, time(), tz).astimezone(UTC)
    since, until = start - timedelta(days=1), start + timedelta(days=1)
    digest = Digest(today)
    rows = (
        await Delivery.filter(
            action=DeliveryAction.PUBLISH.value,
            status=DeliveryStatus.DONE.value,
            finished_at__gte=since,
            finished_at__lt=start,
        )
        .annotate(n=Count("id"))
        .group_by("channel")
        .values("channel", "n")
    )
    digest.published = {str(r["channel"]): int(r["n"]) for r in rows}
    digest.dead = await Delivery.filter(status=DeliveryStatus.DEAD.value).count()
    digest.received = (
        await Comment.filter(received_at__gte=since, received_at__lt=start)
        .exclude(status=CommentStatus.SPAM.value)
        .count()
    )
    open_ = CommentStatus.OPEN.value
    digest.overdue = await Comment.filter(status=open_, due_at__lt=now).count()
    digest.due_today = await Comment.filter(status=open_, due_at__gte=now, due_at__lt=until).count()
    last = (
        await JobSlot.filter(job=RECHECK_JOB, finished_at__isnull=False)
        .order_by("-started_at")
        .first()
    )
    if last is not None and "broken" in last.result:
        digest.recheck_day = str(last.result.get("day") or last.slot)
        digest.broken = list(last.result["broken"])
    digest.stale = stale_lines(await assess(config, today))
    head = await AuditEvent.all().order_by("-id").first()
    if head is not None:
        digest.audit_id, digest.audit_hash = head.id, head.hash
    return digest


async def send_digest(
    config: Config, alerter: Alerter, now: datetime | None = None
) -> dict[str, Any]:
    digest = await build_digest(config, now or datetime.now(UTC))
    text = digest.text()
    delivered = await alerter.send(text)
    return {**digest.as_dict(), "sent_to_robot": delivered, "text": text}
