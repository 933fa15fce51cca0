"""Reply deadlines: remind before a comment's due time and escalate when it is overdue, each
once, audited; and warn ahead of years whose official holiday calendar is not known yet.

Escalation levels (all in working days, configurable under [inbox]):
  1 — the due time has passed;
  2 — `escalate_level2_workdays` more working days after the due time;
  3 — `escalate_level3_workdays` working days after the comment came in, well before the
      three-month limit the national inspection (政务公开第三方评估) counts as never answered.
Each change is a compare-and-set on (reminded_at IS NULL) or (escalation_level = old), so two
runs at once still remind and escalate once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from bot import audit
from bot.config import Config
from bot.models import Comment, CommentStatus
from moderation.deadlines import WorkCalendar
from scheduler.alerts import Alerter

ACTOR = "system:sla"
OPEN = CommentStatus.OPEN.value
LEVEL_LABELS = {1: "已超期", 2: "超期未办（二级督办）", 3: "长期未办（三级督办）"}


@dataclass
class SlaReport:
    workday: bool = True
    reminded: list[int] = field(default_factory=list)
    escalated: dict[int, int] = field(default_factory=dict)  # comment id -> new level

    def as_dict(self) -> dict[str, Any]:
        return {
            "workday": self.workday,
            "reminded": self.reminded,
            "escalated": {str(k): v for k, v in self.escalated.items()},
        }


def target_level(calendar: WorkCalendar, config: Config, comment: Comment, now: datetime) -> int:
    if comment.due_at is None or now < comment.due_at:
        return 0
    level = 1
    second, _ = calendar.due_at(comment.due_at, config.inbox.escalate_level2_workdays)
    if now >= second:
        level = 2
    third, _ = calendar.due_at(comment.received_at, config.inbox.escalate_level3_workdays)
    if now >= third:
        level = 3
    return level


async def sla_sweep(config: Config, alerter: Alerter, now: datetime | None = None) -> SlaReport:
    """Remind and escalate what is due; runs on working days only (Asia/Shanghai date)."""
    now = now or datetime.now(UTC)
    calendar = WorkCalendar.from_config(config.inbox.deadlines)
    report = SlaReport()
    today = now.astimezone(ZoneInfo(config.app.timezone)).date()
    report.workday, _ = calendar.is_workday(today)
    if not report.workday:
        return report
    await _remind(config, now, report)
    await _escalate(config, calendar, now, report)
    lines = []
    if report.reminded:
        lines.append(
            f"【留言答复提醒】{len(report.reminded)} 条留言将在 "
            f"{config.inbox.remind_hours_before:g} 小时内到期："
            + "、".join(f"#{i}" for i in report.reminded[:50])
        )
    for level in (3, 2, 1):
        ids = [i for i, lvl in report.escalated.items() if lvl == level]
        if ids:
            lines.append(
                f"【督办{level}级·{LEVEL_LABELS[level]}】{len(ids)} 条留言："
                + "、".join(f"#{i}" for i in ids[:50])
            )
    if lines:
        await alerter.send("\n".join(lines))
    return report


async def _remind(config: Config, now: datetime, report: SlaReport) -> None:
    horizon = now + timedelta(hours=config.inbox.remind_hours_before)
    rows = await Comment.filter(
        status=OPEN, reminded_at=None, due_at__gt=now, due_at__lte=horizon
    ).values("id")
    ids = [int(r["id"]) for r in rows]
    if not ids:
        return
    async with in_transaction() as conn:
        events = []
        for comment_id in ids:
            count = (
                await Comment.filter(id=comment_id, status=OPEN, reminded_at=None)
                .using_db(conn)
                .update(reminded_at=now)
            )
            if count == 1:
                report.reminded.append(comment_id)
                events.append(audit.Event(ACTOR, "comment.remind", "comment", comment_id))
        await audit.record_many(conn, events)


async def _escalate(
    config: Config, calendar: WorkCalendar, now: datetime, report: SlaReport
) -> None:
    overdue = await Comment.filter(status=OPEN, due_at__lte=now, escalation_level__lt=3).only(
        "id", "due_at", "received_at", "escalation_level"
    )
    changes = [
        (c, level)
        for c in overdue
        if (level := target_level(calendar, config, c, now)) > c.escalation_level
    ]
    if not changes:
        return
    async with in_transaction() as conn:
        events = []
        for comment, level in changes:
            count = (
                await Comment.filter(
                    id=comment.id, status=OPEN, escalation_level=comment.escalation_level
                )
                .using_db(conn)
                .update(escalation_level=level, escalated_at=now)
            )
            if count == 1:
                report.escalated[comment.id] = level
                events.append(
                    audit.Event(
                        ACTOR,
                        "comment.escalate",
                        "comment",
                        comment.id,
                        {"level": level, "from": comment.escalation_level, "auto": True},
                    )
                )
        await audit.record_many(conn, events)


async def calendar_check(
    config: Config, alerter: Alerter, now: datetime | None = None
) -> list[int]:
    """Years within `inbox.calendar_warn_days` whose official calendar is unknown: due times
    in them count the statutory holidays of the 办法 but no 调休 days, so say so well before
    they matter."""
    now = now or datetime.now(UTC)
    calendar = WorkCalendar.from_config(config.inbox.deadlines)
    today = now.astimezone(ZoneInfo(config.app.timezone)).date()
    years = calendar.unknown_years_ahead(today, config.inbox.calendar_warn_days)
    if years:
        await alerter.send(
            f"【节假日安排未知】{'、'.join(str(y) for y in years)} 年的法定节假日安排尚未录入，"
            "答复期限暂按周一至周五并扣除放假办法规定的法定节假日计算，未计调休。"
            "请在国务院办公厅公布后更新节假日日历。"
        )
    return years
