"""Import of 12345 hotline work orders (工单) from the CSV or XLSX export of the hotline system.

Columns are found by their header name, in any order: 工单编号, 受理时间 and 诉求内容 are
required; 诉求类型 (the operator's classification), 承办单位 (the office it was routed to) and
来电号码 (turned into an opaque author reference, never stored) are used when present. Every
row is checked first: a bad row is reported with its line number and field and nothing of it
is written; the good rows are imported through the inbox (so triage, masking and due times
apply) and deduplicated on 工单编号, so importing the same file again creates nothing. The
诉求类型 of each new work order is kept as a label the category model learns from.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.progress import Progress
from tortoise.transactions import in_transaction

from bot import audit
from bot.config import Config
from bot.errors import Refusal
from bot.inbox import learning, sheet
from bot.inbox.ingest import Inbox, Ingested
from bot.inbox.sheet import RowError
from channels.base import IncomingComment, opaque_author
from moderation.deadlines import WorkCalendar, deadline_days
from moderation.triage import CATEGORIES, UNSURE, TriageResult

CHANNEL = "hotline"
REQUIRED = {"工单编号": "remote_id", "受理时间": "received_at", "诉求内容": "text"}
OPTIONAL = {"诉求类型": "category", "承办单位": "office", "来电号码": "phone"}
# The hotline's own types that are named differently from ours
TYPE_ALIASES = {"举报": "投诉", "意见": "建议", "感谢": "表扬", "信访": "信访类"}


class HotlineFileError(Refusal):
    """The file as a whole cannot be read (format, encoding, missing columns)."""

    status_code = 422
    code = "invalid_hotline_file"


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    duplicates: int = 0
    errors: list[RowError] = field(default_factory=list)


@dataclass(frozen=True)
class _Order:
    line: int
    comment: IncomingComment
    category: str
    office: str


def read_orders(path: Path, config: Config) -> tuple[list[_Order], list[RowError], int]:
    """Parse and check every row; (good orders, errors, data rows read)."""
    zone = ZoneInfo(config.app.timezone)
    key = config.author_key()
    rows = sheet.rows(path, HotlineFileError)
    header = sheet.header(rows)
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise HotlineFileError(
            f"{path.name}：缺少必需的列：{'、'.join(missing)}（表头应含 {'、'.join(REQUIRED)}）。"
        )
    orders: list[_Order] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    count = 0
    for line, cells in rows:
        if not any(sheet.text(c) for c in cells):
            continue
        count += 1

        def cell(name: str, cells: list[Any] = cells) -> Any:
            index = header.get(name)
            return cells[index] if index is not None and index < len(cells) else None

        number, content = sheet.text(cell("工单编号")), sheet.text(cell("诉求内容"))
        if not number:
            errors.append(RowError(line, "工单编号", "不能为空"))
            continue
        if len(number) > 200:
            errors.append(RowError(line, "工单编号", "过长（最多 200 个字符）"))
            continue
        if number in seen:
            errors.append(RowError(line, "工单编号", f"与第 {seen[number]} 行重复：{number}"))
            continue
        if not content:
            errors.append(RowError(line, "诉求内容", "不能为空"))
            continue
        try:
            received = sheet.moment(cell("受理时间"), zone)
        except ValueError as exc:
            errors.append(RowError(line, "受理时间", str(exc)))
            continue
        kind = sheet.text(cell("诉求类型"))
        category = TYPE_ALIASES.get(kind, kind)
        if kind and category not in CATEGORIES:
            errors.append(
                RowError(line, "诉求类型", f"「{kind}」无法识别，可选：{'、'.join(CATEGORIES)}")
            )
            continue
        phone = sheet.text(cell("来电号码"))
        seen[number] = line
        orders.append(
            _Order(
                line,
                IncomingComment(
                    channel=CHANNEL,
                    remote_id=f"12345:{number}",
                    text=content,
                    received_at=received,
                    kind="hotline",
                    author_ref=opaque_author(key, CHANNEL, phone) if phone else "",
                    reply_ref={"work_order": number},
                ),
                category,
                sheet.text(cell("承办单位")),
            )
        )
    return orders, errors, count


async def _label(done: list[Ingested], by_id: dict[str, _Order], actor: str) -> None:
    """The operator's 诉求类型 of each new work order is a label the category model learns
    from (bot/inbox/learning.py), recorded as given by the person who imports the file."""
    labelled = [
        (d.comment, by_id[d.comment.remote_id].category)
        for d in done
        if d.created and by_id[d.comment.remote_id].category
    ]
    if not labelled:
        return
    await learning.new_labels(
        [(c.id, c.masked_text, category) for c, category in labelled], learning.HOTLINE, actor
    )


async def import_hotline(
    path: Path, inbox: Inbox, actor: str, progress: bool = False
) -> ImportResult:
    """Import a work-order file; the result lists the rows refused, with line and field."""
    orders, errors, count = read_orders(path, inbox.config)
    result = ImportResult(rows=count, errors=errors)
    by_id = {o.comment.remote_id: o for o in orders}

    deadlines = inbox.config.inbox.deadlines
    calendar = WorkCalendar.from_config(deadlines)

    def adjust(incoming: IncomingComment, triaged: TriageResult) -> TriageResult:
        # The operator's classification and routing are a person's judgement: they win, and
        # the reply clock follows the category they chose.
        order = by_id[incoming.remote_id]
        out = replace(triaged, office=order.office or triaged.office)
        if not order.category:
            return out
        # Their category is no guess: no 待确认, and no clock kept for the model's doubts.
        unsure = UNSURE in out.flags
        out = replace(out, flags=tuple(f for f in out.flags if f != UNSURE))
        if (order.category == triaged.category and not unsure) or triaged.status == "spam":
            return out
        days = deadline_days(deadlines, order.category, CHANNEL, triaged.simple)
        if days is None:
            return replace(out, category=order.category, status="petition", due_at=None)
        due, known = calendar.due_at(incoming.received_at, days)
        return replace(
            out, category=order.category, status="open", due_at=due, calendar_known=known
        )

    step = inbox.config.inbox.ingest_batch
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task(f"导入 {path.name}", total=len(orders))
        for start in range(0, len(orders), step):
            chunk = [o.comment for o in orders[start : start + step]]
            done = await inbox.ingest_many(chunk, adjust)
            await _label(done, by_id, actor)
            result.created += sum(1 for d in done if d.created)
            result.duplicates += sum(1 for d in done if not d.created)
            bar.advance(task, len(chunk))
    async with in_transaction() as conn:
        await audit.record(
            conn,
            actor,
            "hotline.import",
            "import",
            path.name[:64],
            {
                "rows": result.rows,
                "created": result.created,
                "duplicates": result.duplicates,
                "errors": [str(e) for e in errors[:100]],
            },
        )
    return result
