"""Import of 政务服务好差评 ratings from the CSV (UTF-8 or GBK) or XLSX export of the rating
system, modelled on the 12345 import (bot/inbox/hotline.py).

Columns are found by their header name, in any order: 事项名称, 评价等级 and 时间 are required;
评价内容, 渠道 and 评价编号 are used when present. Every row is checked first: a bad row is
reported with its line number and field and nothing of it is written; the good rows are
stored. 评价内容 is stored with personal data (phone, ID-card and bank-card numbers, e-mail
addresses) masked exactly as the inbox masks a comment, and the original is not kept. Each row
is keyed by its 评价编号 when the file has one, else by a hash of what it says (事项名称,
等级, masked 评价内容, 时间, 渠道); the key is unique, so importing the same file again adds
nothing. Each new rating is given its listed matter (bot/matters/matching.py).
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.progress import Progress
from tortoise.transactions import in_transaction

from bot import audit
from bot.actors import Actor
from bot.config import Config
from bot.db import sql
from bot.errors import Refusal
from bot.inbox import sheet
from bot.inbox.sheet import RowError
from bot.matters.matching import Matcher
from bot.models import Role, ServiceRating
from moderation.rules.privacy import mask_personal_data

REQUIRED = ("事项名称", "评价等级", "时间")
OPTIONAL = ("评价内容", "渠道", "评价编号")
# 政务服务好差评's five grades (GB/T 39735), best first; a file may give the number instead.
GRADES = {"非常满意": 5, "满意": 4, "基本满意": 3, "不满意": 2, "非常不满意": 1}
GRADE_LABELS = {grade: name for name, grade in GRADES.items()}
MAX_TEXT = 5000
MAX_SERVICE = 200
MAX_CHANNEL = 64
MAX_NUMBER = 120
EARLIEST_YEAR = 2000  # 政务服务好差评 began in 2019; an earlier time is a mistake
BATCH = 500
TABLE = ServiceRating._meta.db_table
COLUMNS = (
    "key",
    "service",
    "grade",
    "text",
    "channel",
    "rated_at",
    "matter",
    "match_method",
    "match_score",
    "imported_by",
    "imported_at",
)


class RatingFileError(Refusal):
    """The file as a whole cannot be read (format, encoding, missing columns)."""

    status_code = 422
    code = "invalid_rating_file"


@dataclass(frozen=True)
class Rating:
    """A checked row, as it will be stored."""

    line: int
    key: str
    service: str
    grade: int
    text: str  # masked
    channel: str
    rated_at: datetime


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    duplicates: int = 0
    matched: int = 0  # of the new ones, those given a listed matter
    errors: list[RowError] = field(default_factory=list)


def grade_of(written: str) -> int | None:
    """The grade a cell names (a name of GRADES, or 1 … 5); None if it names none."""
    # full-width digits (５) read as digits; spaces anywhere, and a trailing 星, do not count
    cleaned = unicodedata.normalize("NFKC", "".join(written.split())).removesuffix("星")
    if cleaned in GRADES:
        return GRADES[cleaned]
    return int(cleaned) if cleaned in ("1", "2", "3", "4", "5") else None


def _key(number: str, service: str, grade: int, text: str, at: datetime, channel: str) -> str:
    if number:
        return f"no:{number}"
    content = "\x1f".join(
        (service, str(grade), text, at.astimezone(UTC).isoformat(), channel)
    ).encode()
    return "sha256:" + hashlib.sha256(content).hexdigest()


def read_ratings(
    path: Path, config: Config, now: datetime | None = None
) -> tuple[list[Rating], list[RowError], int, int]:
    """Parse and check every row; (good ratings, errors, data rows read, rows that repeat an
    earlier row of the file word for word, left out)."""
    zone = ZoneInfo(config.app.timezone)
    latest = (now or datetime.now(UTC)) + timedelta(days=1)  # a clock a little ahead is fine
    domains = config.review.official_email_domains
    rows = sheet.rows(path, RatingFileError)
    header = sheet.header(rows)
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise RatingFileError(
            f"{path.name}：缺少必需的列：{'、'.join(missing)}"
            f"（表头应含 {'、'.join(REQUIRED)}，可另含 {'、'.join(OPTIONAL)}）。"
        )
    ratings: list[Rating] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    count = duplicates = 0
    for line, cells in rows:
        if not any(sheet.text(c) for c in cells):
            continue
        count += 1

        def cell(name: str, cells: list[Any] = cells) -> Any:
            index = header.get(name)
            return cells[index] if index is not None and index < len(cells) else None

        service = sheet.text(cell("事项名称"))
        written = sheet.text(cell("评价等级"))
        content = sheet.text(cell("评价内容"))
        channel = sheet.text(cell("渠道"))
        number = sheet.text(cell("评价编号"))
        if not service:
            errors.append(RowError(line, "事项名称", "不能为空"))
            continue
        if len(service) > MAX_SERVICE:
            errors.append(RowError(line, "事项名称", f"过长（最多 {MAX_SERVICE} 个字）"))
            continue
        grade = grade_of(written)
        if grade is None:
            shown = f"「{written}」无法识别" if written else "不能为空"
            errors.append(
                RowError(line, "评价等级", f"{shown}，可选：{'、'.join(GRADES)}，或 1 至 5")
            )
            continue
        try:
            rated_at = sheet.moment(cell("时间"), zone)
        except ValueError as exc:
            errors.append(RowError(line, "时间", str(exc)))
            continue
        if rated_at.year < EARLIEST_YEAR:  # (a year 1 would also not convert to UTC)
            errors.append(
                RowError(
                    line, "时间", f"「{sheet.text(cell('时间'))}」早于 {EARLIEST_YEAR} 年，请核对"
                )
            )
            continue
        if rated_at > latest:
            shown = rated_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
            errors.append(RowError(line, "时间", f"「{shown}」晚于今天，请核对"))
            continue
        if len(content) > MAX_TEXT:
            errors.append(
                RowError(line, "评价内容", f"过长（{len(content)} 字，最多 {MAX_TEXT} 字）")
            )
            continue
        if len(channel) > MAX_CHANNEL:
            errors.append(RowError(line, "渠道", f"过长（最多 {MAX_CHANNEL} 个字）"))
            continue
        if len(number) > MAX_NUMBER:
            errors.append(RowError(line, "评价编号", f"过长（最多 {MAX_NUMBER} 个字符）"))
            continue
        masked = mask_personal_data(content, rated_at.astimezone(zone).date(), domains)
        key = _key(number, service, grade, masked, rated_at, channel)
        if key in seen:
            if number:
                errors.append(RowError(line, "评价编号", f"与第 {seen[key]} 行重复：{number}"))
            else:  # the same rating exported twice: imported once, like a second import
                duplicates += 1
            continue
        seen[key] = line
        ratings.append(Rating(line, key, service, grade, masked, channel, rated_at.astimezone(UTC)))
    return ratings, errors, count, duplicates


async def _insert(rows: list[dict[str, Any]]) -> set[str]:
    """INSERT … ON CONFLICT (key) DO NOTHING RETURNING: the keys of the rows that were new."""
    names = ", ".join(COLUMNS)
    one = "(" + ", ".join("?" for _ in COLUMNS) + ")"
    async with in_transaction() as conn:
        returned = await conn.execute_query_dict(
            sql(
                f"INSERT INTO {TABLE} ({names}) VALUES {', '.join(one for _ in rows)} "
                "ON CONFLICT (key) DO NOTHING RETURNING key"
            ),
            [r[c] for r in rows for c in COLUMNS],
        )
    return {str(r["key"]) for r in returned}


async def import_ratings(
    path: Path, config: Config, actor: Actor, progress: bool = False, now: datetime | None = None
) -> ImportResult:
    """Import a rating file; the result lists the rows refused, with line and field."""
    actor.require(Role.MODERATOR, doing="导入好差评")
    now = now or datetime.now(UTC)
    ratings, errors, count, repeated = read_ratings(path, config, now)
    result = ImportResult(rows=count, duplicates=repeated, errors=errors)
    matcher = Matcher(config.matters, config.hot_matters.similarity)
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task(f"导入 {path.name}", total=len(ratings))
        for start in range(0, len(ratings), BATCH):
            chunk = ratings[start : start + BATCH]
            matches = matcher.match_many([r.text for r in chunk], [r.service for r in chunk])
            rows = [
                {
                    "key": r.key,
                    "service": r.service,
                    "grade": r.grade,
                    "text": r.text,
                    "channel": r.channel,
                    "rated_at": r.rated_at,
                    "matter": m.matter,
                    "match_method": m.method,
                    "match_score": m.score,
                    "imported_by": actor.name,
                    "imported_at": now,
                }
                for r, m in zip(chunk, matches, strict=True)
            ]
            created = await _insert(rows)
            result.created += len(created)
            result.duplicates += len(chunk) - len(created)
            result.matched += sum(1 for r in rows if r["key"] in created and r["matter"])
            bar.advance(task, len(chunk))
    async with in_transaction() as conn:
        await audit.record(
            conn,
            actor.name,
            "rating.import",
            "import",
            path.name[:64],
            {
                "rows": result.rows,
                "created": result.created,
                "duplicates": result.duplicates,
                "matched": result.matched,
                "errors": [str(e) for e in errors[:100]],
            },
        )
    return result
