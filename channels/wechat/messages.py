"""WeChat's callback message format, with no database: parse the XML WeChat pushes safely, and
classify a message or event into what is stored for it (its key, kind, time and payload).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from xml.parsers import expat

from channels.base import IncomingComment, opaque_author

CHANNEL = "wechat"
MESSAGE = "message"  # the kind of a follower's message (the inbox takes it)
PUBLISH_FINISHED = "PUBLISHJOBFINISH"
MASS_SEND_FINISHED = "MASSSENDJOBFINISH"
SUBSCRIBE = "subscribe"
UNSUBSCRIBE = "unsubscribe"
# Events another part of Gongkai consumes (the WeChat channel reads them), not the callback.
CONSUMED_ELSEWHERE = frozenset({PUBLISH_FINISHED, MASS_SEND_FINISHED})
# Kinds Gongkai knows; anything else is stored, answered "success" and logged at INFO.
KNOWN_KINDS = frozenset(
    {MESSAGE, PUBLISH_FINISHED, MASS_SEND_FINISHED, SUBSCRIBE, UNSUBSCRIBE}
    | {"SCAN", "CLICK", "VIEW", "LOCATION", "TEMPLATESENDJOBFINISH", "view_miniprogram"}
)
# WeChat's deepest structure is xml/PublishEventInfo/article_detail/item/article_url.
MAX_DEPTH = 6
# The integers WeChat sends (times in seconds, counts, statuses) are far shorter; within 18
# digits every one fits a 64-bit column and a datetime conversion fails cleanly (XmlRejected).
MAX_DIGITS = 18
INTEGER = re.compile(rf"-?[0-9]{{1,{MAX_DIGITS}}}")


class XmlRejected(ValueError):
    """A callback body that is not a WeChat message: malformed, a DTD or entities, too deep,
    or missing a field WeChat always sends. The message (Chinese) names what is wrong."""


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
    """One callback as it will be stored: its unique key, kind, time and payload."""

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
    """An integer field (CreateTime, counts, statuses): ASCII digits, at most MAX_DIGITS, checked
    before int() (which also takes "1_0", other scripts' digits and thousands of digits)."""
    text = str(value).strip() or "0"
    if not INTEGER.fullmatch(text):
        raise XmlRejected(f"字段 {name} 应为不超过 {MAX_DIGITS} 位的整数，收到 {text[:40]!r}")
    return int(text)


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


def incoming_comment(payload: Mapping[str, Any], author_key: bytes) -> IncomingComment:
    """The inbox's view of a follower's message, from the payload classify made for it."""
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
