"""WeChat callback messages and events without the web: parse WeChat's XML safely, turn a
message or event into its ChannelEvent row (stored once per key, so WeChat's retries are
stored once), hand messages to the inbox in the background, and count followers by day.

The ChannelEvent row is the durable record written before WeChat gets its answer: a message row
with handled_at null has not reached the inbox yet, whatever happened to the process since.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from xml.parsers import expat
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from bot import db
from bot.models import ChannelEvent, Comment, CommentNote
from bot.outbox.store import sql
from channels.base import IncomingComment, opaque_author

if TYPE_CHECKING:
    from moderation.knowledge import KbHit

log = logging.getLogger(__name__)

CHANNEL = "wechat"
MESSAGE = "message"  # ChannelEvent.kind of a follower's message (the inbox takes it)
PUBLISH_FINISHED = "PUBLISHJOBFINISH"
MASS_SEND_FINISHED = "MASSSENDJOBFINISH"
SUBSCRIBE = "subscribe"
UNSUBSCRIBE = "unsubscribe"
# Events another part of Gongkai consumes (the WeChat channel reads them): left unhandled here.
CONSUMED_ELSEWHERE = frozenset({PUBLISH_FINISHED, MASS_SEND_FINISHED})
# Kinds this module knows; anything else is stored, answered "success" and logged at INFO.
KNOWN_KINDS = frozenset(
    {MESSAGE, PUBLISH_FINISHED, MASS_SEND_FINISHED, SUBSCRIBE, UNSUBSCRIBE}
    | {"SCAN", "CLICK", "VIEW", "LOCATION", "TEMPLATESENDJOBFINISH", "view_miniprogram"}
)
AUTO_REPLY_AUTHOR = "system:wechat-auto-reply"
AUTO_REPLY_FLAG = "auto_replied"
EVENT_TABLE = ChannelEvent._meta.db_table
# Rows per INSERT of the writer (6 parameters a row, far below any database's limit)
MAX_BATCH = 500
# WeChat's deepest structure is xml/PublishEventInfo/article_detail/item/article_url.
MAX_DEPTH = 6
# The payload's JSON, compact and readable (one encoder: json.dumps with options makes one a call)
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class XmlRejected(ValueError):
    """A callback body that is not a WeChat message: malformed, a DTD or entities, too deep,
    or missing a field WeChat always sends. The message (Chinese) names what is wrong."""


class InboxPort(Protocol):
    """What the callback needs of bot.inbox.ingest.Inbox."""

    async def ingest_many(self, batch: Sequence[IncomingComment]) -> list[Any]: ...

    def suggest(self, text: str) -> KbHit | None: ...

    async def refresh_knowledge(self) -> int: ...


def parse_xml(body: bytes | str) -> dict[str, Any]:
    """The children of WeChat's <xml> root as a dict (nested elements as dicts, repeated tags
    as lists), read with expat directly in one pass.

    A DOCTYPE is refused the moment it starts, before any declaration in it is read: no
    entity, no external reference, no DTD is ever processed (what defusedxml's forbid_dtd
    does, without its pure-Python parser class, which cost more than the rest of a callback).
    Undeclared entities are expat's own error; nesting deeper than MAX_DEPTH is refused."""
    return _WechatXml().parse(body)


class _WechatXml:
    """One parse: a stack of (tag, children, text parts) for the open elements."""

    def __init__(self) -> None:
        self.stack: list[tuple[str, dict[str, Any], list[str]]] = []
        self.root: dict[str, Any] | None = None
        parser = expat.ParserCreate()
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        parser.StartDoctypeDeclHandler = self._refuse_dtd
        parser.EntityDeclHandler = self._refuse_dtd
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._text
        parser.buffer_text = True
        self.parser = parser

    def parse(self, body: bytes | str) -> dict[str, Any]:
        try:
            self.parser.Parse(body, True)
        except expat.ExpatError as exc:
            raise XmlRejected(f"XML 格式错误：{exc}") from exc
        except (ValueError, LookupError) as exc:  # an encoding expat cannot read
            raise XmlRejected(f"XML 编码无法识别：{exc}") from exc
        finally:
            # The parser's handlers are this object's methods: let go of it, or the two make
            # a cycle that only the garbage collector frees (two per callback; freeing them
            # came to about 8 % of a callback's CPU time).
            del self.parser
        assert self.root is not None  # expat refuses a document without a root element
        return self.root

    @staticmethod
    def _refuse_dtd(*_: Any) -> None:
        raise XmlRejected("XML 含有不允许的文档类型声明或实体")

    def _start(self, tag: str, _attributes: dict[str, str]) -> None:
        if not self.stack and tag != "xml":
            raise XmlRejected(f"XML 根元素应为 <xml>，收到 <{tag}>")
        if len(self.stack) >= MAX_DEPTH:
            raise XmlRejected(f"XML 嵌套过深（超过 {MAX_DEPTH} 层）")
        self.stack.append((tag, {}, []))

    def _text(self, data: str) -> None:
        if self.stack:
            self.stack[-1][2].append(data)

    def _end(self, _tag: str) -> None:
        tag, children, text = self.stack.pop()
        if not self.stack:
            self.root = children
            return
        value: Any = children if children else "".join(text)
        siblings = self.stack[-1][1]
        if tag not in siblings:
            siblings[tag] = value
        elif isinstance(siblings[tag], list):
            siblings[tag].append(value)
        else:
            siblings[tag] = [siblings[tag], value]


@dataclass(frozen=True)
class Received:
    """One callback as it will be stored: the ChannelEvent key, kind, time and payload."""

    key: str
    kind: str
    at: datetime
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def is_message(self) -> bool:
        return self.kind == MESSAGE

    @property
    def needs_background(self) -> bool:
        return self.is_message


def _text(fields: Mapping[str, Any], name: str, required: bool = False) -> str:
    value = fields.get(name, "")
    if isinstance(value, list):  # repeated: WeChat never does that for the fields we read
        value = value[0]
    if not isinstance(value, str):
        raise XmlRejected(f"字段 {name} 应为文本")
    if required and not value.strip():
        raise XmlRejected(f"缺少字段 {name}")
    return value


def _int(value: Any, name: str) -> int:
    try:
        return int(str(value).strip() or "0")
    except ValueError as exc:
        raise XmlRejected(f"字段 {name} 应为整数，收到 {str(value)[:40]!r}") from exc


def _as_list(value: Any) -> list[Any]:
    if value in (None, ""):
        return []
    return value if isinstance(value, list) else [value]


def message_text(msg_type: str, fields: Mapping[str, Any]) -> str:
    """What the inbox shows for a follower's message of any type."""
    if msg_type == "text":
        return _text(fields, "Content")
    if msg_type == "image":
        return f"[图片] {_text(fields, 'PicUrl')}".strip()
    if msg_type == "voice":
        return f"[语音] {_text(fields, 'Recognition')}".strip()
    if msg_type in ("video", "shortvideo"):
        return "[视频]"
    if msg_type == "location":
        return f"[位置] {_text(fields, 'Label')}".strip()
    if msg_type == "link":
        return f"[链接] {_text(fields, 'Title')} {_text(fields, 'Url')}".strip()
    return f"[{msg_type}]"


def classify(fields: Mapping[str, Any]) -> Received:
    """The ChannelEvent a callback becomes; XmlRejected when WeChat's own fields are missing."""
    msg_type = _text(fields, "MsgType", required=True).strip()
    openid = _text(fields, "FromUserName", required=True).strip()
    created = _int(_text(fields, "CreateTime", required=True), "CreateTime")
    try:
        at = datetime.fromtimestamp(created, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise XmlRejected(f"字段 CreateTime 超出范围：{created}") from exc
    leaves = {k: v for k, v in fields.items() if isinstance(v, str)}
    if msg_type != "event":
        msg_id = _text(fields, "MsgId").strip()
        payload = {
            "msg_type": msg_type,
            "openid": openid,
            "create_time": created,
            "msg_id": msg_id,
            "text": message_text(msg_type, fields),
            "fields": leaves,
        }
        # Every message type carries MsgId; the fallback only keeps a malformed one unique.
        key = f"msg:{msg_id}" if msg_id else f"msg:{openid}:{created}"
        return Received(key, MESSAGE, at, payload)
    event = _text(fields, "Event", required=True).strip()
    if event == PUBLISH_FINISHED:
        return Received(*_publish_finished(fields, at))
    if event == MASS_SEND_FINISHED:
        return Received(*_mass_send_finished(fields, at))
    return Received(f"{event}:{openid}:{created}", event, at, leaves)


def _publish_finished(fields: Mapping[str, Any], at: datetime) -> tuple[str, str, datetime, dict]:
    info = fields.get("PublishEventInfo")
    if not isinstance(info, dict):
        raise XmlRejected("PUBLISHJOBFINISH 事件缺少 PublishEventInfo")
    publish_id = _text(info, "publish_id", required=True).strip()
    detail = info.get("article_detail")
    items = _as_list(detail.get("item")) if isinstance(detail, dict) else []
    urls = [i.get("article_url", "") for i in items if isinstance(i, dict)]
    payload = {
        "publish_id": publish_id,
        "publish_status": _int(info.get("publish_status", "0"), "publish_status"),
        "article_id": _text(info, "article_id").strip(),
        "article_urls": [u for u in urls if isinstance(u, str) and u],
        "fail_idx": [_int(i, "fail_idx") for i in _as_list(info.get("fail_idx"))],
    }
    return f"publish:{publish_id}", PUBLISH_FINISHED, at, payload


def _mass_send_finished(fields: Mapping[str, Any], at: datetime) -> tuple[str, str, datetime, dict]:
    # WeChat spells it MsgID in this event (MsgId elsewhere); accept both.
    msg_id = (_text(fields, "MsgID") or _text(fields, "MsgId")).strip()
    if not msg_id:
        raise XmlRejected("MASSSENDJOBFINISH 事件缺少 MsgID")
    payload = {
        "msg_id": msg_id,
        "status": _text(fields, "Status").strip(),
        "total_count": _int(fields.get("TotalCount", "0"), "TotalCount"),
        "sent_count": _int(fields.get("SentCount", "0"), "SentCount"),
        "error_count": _int(fields.get("ErrorCount", "0"), "ErrorCount"),
    }
    return f"masssend:{msg_id}", MASS_SEND_FINISHED, at, payload


@dataclass(frozen=True)
class Stored:
    """A callback's row: its id, what is stored in it, and whether this request stored it."""

    id: int
    payload: dict[str, Any]
    created: bool


class EventWriter:
    """Stores callbacks with group commit: the rows that arrive while one INSERT runs go
    together into the next one, so a burst costs a few statements, not one per request; an
    idle writer stores a row at once. Each caller gets its answer only once its row is
    committed."""

    def __init__(self) -> None:
        self._pending: list[tuple[Received, str, asyncio.Future[Stored]]] = []
        self._task: asyncio.Task[None] | None = None

    async def store(self, received: Received, auto_reply: str = "") -> Stored:
        future: asyncio.Future[Stored] = asyncio.get_running_loop().create_future()
        self._pending.append((received, auto_reply, future))
        if self._task is None:
            self._task = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch = self._pending[:MAX_BATCH]
                del self._pending[:MAX_BATCH]
                try:
                    results = await store_many([(r, a) for r, a, _ in batch])
                except Exception as exc:  # each request answers 500: WeChat sends it again
                    for *_, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (*_, future), result in zip(batch, results, strict=True):
                    if not future.done():  # a caller that went away still got its row
                        future.set_result(result)
        finally:
            self._task = None


async def store(received: Received, auto_reply: str = "") -> Stored:
    """Insert one row once; created=False when WeChat already sent it."""
    return (await store_many([(received, auto_reply)]))[0]


async def store_many(batch: Sequence[tuple[Received, str]]) -> list[Stored]:
    """One INSERT … ON CONFLICT DO NOTHING RETURNING for the batch: the rows that come back
    are new, the others were stored before (WeChat's retries) and are read back."""
    now = datetime.now(UTC)
    first: dict[str, tuple[Received, dict[str, Any]]] = {}
    for received, auto_reply in batch:
        payload = dict(received.payload)
        if auto_reply:
            payload["auto_reply"] = auto_reply
        first.setdefault(received.key[:255], (received, payload))
    params: list[Any] = []
    for key, (received, payload) in first.items():
        # Nothing runs later for plain events (counted by query): handled when stored.
        done = not received.needs_background and received.kind not in CONSUMED_ELSEWHERE
        payload_json = _JSON.encode(payload)
        params += [
            CHANNEL,
            key,
            received.kind[:64],
            payload_json,
            received.at,
            now if done else None,
        ]
    values = ", ".join("(?, ?, ?, ?, ?, ?)" for _ in first)
    returned = await db.connection().execute_query_dict(
        sql(
            f"INSERT INTO {EVENT_TABLE} (channel, key, kind, payload, at, handled_at) "
            f"VALUES {values} ON CONFLICT (channel, key) DO NOTHING RETURNING id, key"
        ),
        params,
    )
    ids = {str(r["key"]): int(r["id"]) for r in returned}
    old: dict[str, ChannelEvent] = {}
    if len(ids) < len(first):
        rows = await ChannelEvent.filter(
            channel=CHANNEL, key__in=[k for k in first if k not in ids]
        )
        old = {row.key: row for row in rows}
    out: list[Stored] = []
    seen: set[str] = set()
    for received, _ in batch:
        key = received.key[:255]
        if key in ids:
            out.append(Stored(ids[key], first[key][1], key not in seen))
        else:
            out.append(Stored(old[key].id, old[key].payload, False))
        seen.add(key)
    return out


def incoming_comment(payload: Mapping[str, Any], author_key: bytes) -> IncomingComment:
    """The inbox's view of a stored message row."""
    openid = str(payload["openid"])
    at = datetime.fromtimestamp(int(payload["create_time"]), UTC)
    msg_id = str(payload.get("msg_id") or "")
    return IncomingComment(
        channel=CHANNEL,
        remote_id=f"msg:{msg_id}" if msg_id else f"msg:{openid}:{payload['create_time']}",
        kind="message",
        author_ref=opaque_author(author_key, CHANNEL, openid),
        text=str(payload.get("text", "")),
        received_at=at,
        reply_ref={"type": "custom", "openid": openid, "at": at.isoformat()},
    )


async def process_messages(
    rows: Sequence[ChannelEvent], inbox: InboxPort, author_key: bytes
) -> list[Comment]:
    """The background step for a batch of message rows: into the inbox in one call (triage
    runs there), each auto-reply noted on its comment, the rows marked handled. Safe to run
    twice (after a crash, or two processes recovering the same rows): ingest deduplicates,
    an auto-reply note is written once."""
    if not rows:
        return []
    ingested = await inbox.ingest_many([incoming_comment(r.payload, author_key) for r in rows])
    comments: list[Comment] = [i.comment for i in ingested]
    answered = {
        c.id: str(r.payload["auto_reply"])
        for r, c in zip(rows, comments, strict=True)
        if r.payload.get("auto_reply")
    }
    now = datetime.now(UTC)
    async with in_transaction():
        if answered:
            noted = set(
                await CommentNote.filter(
                    comment_id__in=list(answered), author=AUTO_REPLY_AUTHOR
                ).values_list("comment_id", flat=True)
            )
            # Read again in the transaction: a moderator may have changed the flags since.
            fresh = await Comment.filter(id__in=[i for i in answered if i not in noted])
            if fresh:
                await CommentNote.bulk_create(
                    [
                        CommentNote(
                            comment_id=c.id,
                            author=AUTO_REPLY_AUTHOR,
                            text=f"自动回复：{answered[c.id]}",
                            created_at=now,
                        )
                        for c in fresh
                    ]
                )
            unflagged = [c for c in fresh if AUTO_REPLY_FLAG not in c.flags]
            for comment in unflagged:
                comment.flags = [*comment.flags, AUTO_REPLY_FLAG]
                comment.updated_at = now
            if unflagged:
                await Comment.bulk_update(unflagged, fields=["flags", "updated_at"])
        await ChannelEvent.filter(id__in=[r.id for r in rows], handled_at=None).update(
            handled_at=now
        )
    return comments


async def unhandled_messages(
    older_than: datetime | None, limit: int, after: int = 0
) -> list[ChannelEvent]:
    """Message rows not yet in the inbox (a crash, a full queue), oldest first, from id after."""
    query = ChannelEvent.filter(channel=CHANNEL, kind=MESSAGE, handled_at=None, id__gt=after)
    if older_than is not None:
        query = query.filter(at__lte=older_than)
    return await query.order_by("id").limit(limit)


@dataclass(frozen=True)
class FollowerDay:
    day: date
    subscribed: int
    unsubscribed: int

    @property
    def net(self) -> int:
        return self.subscribed - self.unsubscribed


async def follower_counts(first: date, last: date, tz: str = "Asia/Shanghai") -> list[FollowerDay]:
    """New and lost followers per local day from first to last (both included), for the
    dashboard; days without events are listed with zeros."""
    zone = ZoneInfo(tz)
    start = datetime.combine(first, time(), zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(), zone).astimezone(UTC)
    rows = await ChannelEvent.filter(
        channel=CHANNEL, kind__in=[SUBSCRIBE, UNSUBSCRIBE], at__gte=start, at__lt=end
    ).values_list("kind", "at")
    counts: dict[date, list[int]] = {}
    day = first
    while day <= last:
        counts[day] = [0, 0]
        day += timedelta(days=1)
    for kind, at in rows:
        local = at.astimezone(zone).date()
        if local in counts:
            counts[local][0 if kind == SUBSCRIBE else 1] += 1
    return [FollowerDay(d, s, u) for d, (s, u) in counts.items()]
