"""Validated input shapes for items, shared by the item-file importer, the CLI and the JSON API.

Field errors are turned into Chinese messages that name the field (see field_errors()).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.models import Disclosure, Kind

# The limit itself is configurable ([channels.wechat] title_max) and checked at pre-review.
WECHAT_TITLE_HELP = (
    "微信标题：标题超过微信公众号的字数限制（默认 32 字）时填写，微信公众号使用它代替标题；"
    "空字符串表示使用标题"
)

KindField = Annotated[
    Kind, Field(description="policy | interpretation | enforcement | notice | consultation")
]


# Ids are 32-bit integers in PostgreSQL: anything larger names nothing (and would overflow).
MAX_ID = 2_147_483_647
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # no publication time lies before this
RelatedId = Annotated[StrictInt, Field(ge=1, le=MAX_ID)]
# 成文日期: a calendar date, written YYYY-MM-DD, of the People's Republic's documents
EARLIEST_WRITTEN, LATEST_WRITTEN = date(1949, 10, 1), date(2099, 12, 31)
_DATE_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}")
WrittenOn = Annotated[
    date,
    Field(
        ge=EARLIEST_WRITTEN,
        le=LATEST_WRITTEN,
        description="成文日期，格式 YYYY-MM-DD，例如 2026-03-01",
    ),
]
Topic = Annotated[
    str, Field(max_length=64, description="主题分类：配置 [disclosure] topics 中的一项；空表示未填")
]
Publisher = Annotated[
    str, Field(max_length=128, description="发布机构；新建时留空则取配置 [disclosure] publisher")
]
Priority = Annotated[StrictInt, Field(ge=-100, le=100)]


def utc_publish_time(value: datetime | None) -> datetime | None:
    """A publication time as aware UTC; a naive, unrepresentable or pre-2000 time is refused."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("发布时间必须带时区，例如 2026-12-01T09:00:00+08:00")
    try:
        aware = value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("发布时间超出可表示的范围") from exc
    if aware < EARLIEST:
        raise ValueError("发布时间应在 2000 年之后")
    return aware


def date_text(value: Any) -> Any:
    """成文日期 is a date written YYYY-MM-DD (or a TOML date): a number, a time of day or
    another spelling is refused rather than guessed at."""
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, str) and _DATE_TEXT.fullmatch(value.strip()):
        return value.strip()
    raise ValueError("成文日期应为日期，格式 YYYY-MM-DD（不带时间），例如 2026-03-01")


def time_text(value: Any) -> Any:
    """A time is written as text (ISO 8601 with a time zone) or given as a datetime: a number
    (seconds since 1970) is refused rather than read as a date."""
    if isinstance(value, bool | int | float):
        raise ValueError("应为带时区的日期时间文本，例如 2026-12-01T09:00:00+08:00")
    return value


class ItemFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, Field(min_length=1, max_length=500)]
    # 微信标题: what WeChat shows instead of a title over its limit (pre-review says when)
    wechat_title: Annotated[str, Field(max_length=500, description=WECHAT_TITLE_HELP)] = ""
    summary: Annotated[str, Field(max_length=2000)] = ""
    body: Annotated[str, Field(max_length=500_000)] = ""
    column: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    doc_number: Annotated[str, Field(max_length=128)] = ""
    office: Annotated[str, Field(max_length=128)] = ""
    disclosure: Disclosure = Disclosure.PROACTIVE
    withheld_basis: str = ""
    related_id: RelatedId | None = None
    interpretation_forms: list[str] = Field(default_factory=list)
    enforcement: dict[str, Any] = Field(default_factory=dict)
    publish_at: datetime | None = None
    channels: list[str] = Field(default_factory=list)
    # In the day's WeChat mass send (群发), ranked by priority (higher first)
    notify: StrictBool = False
    priority: Priority = 0
    # 主动公开目录 metadata: 成文日期, 主题分类 (checked against the configured list when the
    # item is saved), 发布机构 (empty: the configured one)
    written_on: WrittenOn | None = None
    topic: Topic = ""
    publisher: Publisher = ""

    @field_validator("written_on", mode="before")
    @classmethod
    def _date_written(cls, value: Any) -> Any:
        return date_text(value)

    @field_validator("topic", "publisher")
    @classmethod
    def _trimmed(cls, value: str) -> str:
        return value.strip()

    @field_validator("title")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("标题不能为空")
        return value.strip()

    @field_validator("wechat_title")
    @classmethod
    def _stripped(cls, value: str) -> str:
        return value.strip()

    @field_validator("publish_at", mode="before")
    @classmethod
    def _written(cls, value: Any) -> Any:
        return time_text(value)

    @field_validator("publish_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return utc_publish_time(value)


class ItemCreate(ItemFields):
    kind: KindField


# null in a patch clears the link to a policy, or the 成文日期
NULLABLE = frozenset({"related_id", "written_on"})


class ItemPatch(BaseModel):
    """A partial edit: only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    wechat_title: Annotated[str, Field(max_length=500, description=WECHAT_TITLE_HELP)] | None = None
    summary: Annotated[str, Field(max_length=2000)] | None = None
    body: Annotated[str, Field(max_length=500_000)] | None = None
    column: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    doc_number: Annotated[str, Field(max_length=128)] | None = None
    office: Annotated[str, Field(max_length=128)] | None = None
    disclosure: Disclosure | None = None
    withheld_basis: str | None = None
    related_id: RelatedId | None = None
    interpretation_forms: list[str] | None = None
    enforcement: dict[str, Any] | None = None
    channels: list[str] | None = None
    notify: StrictBool | None = None
    priority: Priority | None = None
    written_on: WrittenOn | None = None
    topic: Topic | None = None
    publisher: Publisher | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        """A field given as null is refused by name, except those null clears (related_id):
        leaving a field out is how a patch keeps it."""
        if isinstance(data, dict):
            for key, value in data.items():
                if value is None and key in cls.model_fields and key not in NULLABLE:
                    raise ValueError(f"字段 {key} 不能为 null：不修改请省略该字段")
        return data

    @field_validator("wechat_title", "topic", "publisher")
    @classmethod
    def _stripped(cls, value: str | None) -> str | None:
        return value.strip() if value is not None else None

    @field_validator("written_on", mode="before")
    @classmethod
    def _date_written(cls, value: Any) -> Any:
        return date_text(value)


class ReasonBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class ScheduleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    publish_at: datetime | None = Field(description="带时区的时间；null 表示立即发布")

    @field_validator("publish_at", mode="before")
    @classmethod
    def _written(cls, value: Any) -> Any:
        return time_text(value)

    @field_validator("publish_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return utc_publish_time(value)


_MESSAGES = {
    "missing": "缺少必填字段",
    "extra_forbidden": "未知字段",
    "string_too_short": "不能为空",
    "string_too_long": "过长",
    "enum": "取值无效",
    "int_parsing": "应为整数",
    "datetime_from_date_parsing": "应为日期时间",
    "datetime_parsing": "应为日期时间",
    "list_type": "应为列表",
    "dict_type": "应为表",
    "string_type": "应为文本",
    "greater_than_equal": "取值过小",
    "greater_than": "取值过小",
    "less_than_equal": "取值过大",
    "less_than": "取值过大",
    "int_type": "应为整数",
    "int_from_float": "应为整数",
    "bool_type": "应为布尔值（true / false）",
    "bool_parsing": "应为布尔值（true / false）",
    "too_long": "项目过多",
    "too_short": "项目过少",
    "model_type": "应为对象",
    "timezone_aware": "必须带时区",
    "datetime_type": "应为日期时间",
    "string_pattern_mismatch": "格式不正确",
    "date_parsing": "应为日期，格式 YYYY-MM-DD",
    "date_from_datetime_parsing": "应为日期，格式 YYYY-MM-DD",
    "date_from_datetime_inexact": "应为日期，不带时间",
    "date_type": "应为日期，格式 YYYY-MM-DD",
}


def field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """[{field, message, value}] with Chinese messages that name the field."""
    out = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "(body)"
        base = _MESSAGES.get(err["type"])
        if err["type"] == "value_error":
            message = str(err.get("ctx", {}).get("error", err["msg"]))
        elif base == "取值无效" and "expected" in err.get("ctx", {}):
            message = f"取值无效，可选：{err['ctx']['expected']}"
        elif _DATE_TEXT.fullmatch(str(err.get("ctx", {}).get("ge", ""))):
            message = f"日期应不早于 {err['ctx']['ge']}"
        elif _DATE_TEXT.fullmatch(str(err.get("ctx", {}).get("le", ""))):
            message = f"日期应不晚于 {err['ctx']['le']}"
        else:
            message = base or err["msg"]
        value = err.get("input") if err["type"] != "missing" else None
        out.append({"field": field, "message": message, "value": _shown(value)})
    return out


def _shown(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value if not isinstance(value, str) or len(value) <= 80 else value[:80] + "…"
    return type(value).__name__
