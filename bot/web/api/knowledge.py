"""GET /api/v1/knowledge: the knowledge export (bot/search/export.py) as JSON Lines for the
city's unified search and Q&A platform (一网通查, 一网通答) — its query parameters, the schema
of one line, and the answer, whose X-Next-Cursor header says where the next page starts.

Who may read it: a token made for the platform (`gongkai token add USER --name city --scope
knowledge`: that and nothing else), or any staff token that may read items — everything in
it is on the public site already."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.config import Config
from bot.models import SearchDocKind
from bot.search import export

NEXT_CURSOR = "X-Next-Cursor"
MEDIA_TYPE = "application/x-ndjson"
TIME_EXAMPLE = "2026-12-01T09:00:00+08:00"
_NUMBER = re.compile(r"[+-]?\d+(\.\d*)?")
# A "+" of an offset that arrived as a space: a query string written without %2B decodes so.
_SPACED_OFFSET = re.compile(r"(\d) (\d\d(:?\d\d)?)$")


class KnowledgeQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(
        default=export.DEFAULT_LIMIT,
        ge=1,
        le=export.MAX_LIMIT,
        description=f"每页条数，最多 {export.MAX_LIMIT}",
    )
    after: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description=f"翻页游标：上一页响应头 {NEXT_CURSOR} 的值，原样传回",
    )
    since: datetime | None = Field(
        default=None,
        description=f"只要此时刻及以后有变化的条目（含撤下的），带时区，例如 {TIME_EXAMPLE}",
    )

    @field_validator("after")
    @classmethod
    def _cursor(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                export.Cursor.decode(value)
            except export.BadCursor as exc:
                raise ValueError(
                    f"不是本接口给出的翻页游标，请原样使用上一页响应头 {NEXT_CURSOR} 的值"
                ) from exc
        return value

    @field_validator("since", mode="before")
    @classmethod
    def _time_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = _SPACED_OFFSET.sub(r"\1+\2", value.strip())
            if _NUMBER.fullmatch(value):
                raise ValueError(f"应为带时区的 ISO 8601 时间，例如 {TIME_EXAMPLE}")
        return value

    @field_validator("since")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"必须带时区，例如 {TIME_EXAMPLE}（查询字符串中的 + 请写作 %2B）")
        try:
            return value.astimezone(UTC)
        except OverflowError as exc:
            raise ValueError("时间超出可表示的范围") from exc


_TIME = {"type": "string", "format": "date-time", "description": "最后变化时间（UTC）"}
RECORD_SCHEMA: dict[str, Any] = {
    "description": (
        "响应体为 JSON Lines（application/x-ndjson），每行一个本对象：公开的条目，或已撤下"
        "条目的删除标记（removed 为 true，只有 key 与 updated_at）。按 updated_at 先后排列。"
    ),
    "oneOf": [
        {
            "type": "object",
            "required": ["key", "kind", "question", "answer", "url", "office", "updated_at"],
            "properties": {
                "key": {"type": "string", "description": "条目标识，如 item:12、qa:3、faq:2"},
                "kind": {
                    "type": "string",
                    "enum": [k.value for k in SearchDocKind],
                    "description": "item 公开信息、qa 网上咨询选登、faq 常见问题",
                },
                "question": {"type": "string", "description": "问题（公开信息为其标题）"},
                "answer": {
                    "type": "string",
                    "description": "答复（公开信息为其摘要，无摘要时为正文第一段）",
                },
                "url": {"type": "string", "description": "来源网址（门户网站上的完整地址）"},
                "office": {"type": "string", "description": "承办或发布机构"},
                "updated_at": _TIME,
                "removed": {"const": False},
            },
        },
        {
            "type": "object",
            "required": ["key", "removed", "updated_at"],
            "properties": {
                "key": {"type": "string"},
                "removed": {"const": True, "description": "已撤稿、已撤下选登或已停用的常见问题"},
                "updated_at": _TIME,
            },
        },
    ],
}
NEXT_CURSOR_TEXT = (
    "本页最后一条之后的位置（无条目且未给 after 时不返回）：作为 after 取下一页；"
    "条数少于 limit 即已取完，保存它，以后再用它取此后的变化"
)


async def answer(config: Config, query: KnowledgeQuery) -> web.Response:
    """A page of the export (the caller has checked who asks)."""
    found = await export.page(
        config.app.public_base_url,
        after=export.Cursor.decode(query.after) if query.after else None,
        since=query.since,
        limit=query.limit,
        settle=timedelta(seconds=config.search.knowledge_settle_seconds),
    )
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in found.records)
    headers = {NEXT_CURSOR: found.next.encode()} if found.next is not None else {}
    return web.Response(text=body, content_type=MEDIA_TYPE, charset="utf-8", headers=headers)
