"""Logging setup: text or JSON lines ([log] in config.toml), and the ids a line is about.

Code that works on one delivery, item or comment wraps the work in `log_context(...)`; every
log record emitted inside (by any module, in that asyncio task and the tasks it starts) then
carries those ids: as fields of the JSON object, or as `[delivery_id=7 item_id=3]` after the
message in text. The ids live in a ContextVar, so concurrent deliveries never mix them up.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import IO, Any

from aiohttp.http_exceptions import HttpProcessingError

from bot.config import LogConfig

__all__ = ["ContextFilter", "JsonFormatter", "TextFormatter", "configure", "log_context"]

# The fields a line may be about, in the order they are shown.
CONTEXT_FIELDS = ("item_id", "delivery_id", "comment_id", "channel", "action")
_EMPTY: Mapping[str, Any] = MappingProxyType({})
_context: ContextVar[Mapping[str, Any]] = ContextVar("gongkai_log_context", default=_EMPTY)
# LogRecord attributes that are not extra fields passed with `extra=`.
_RECORD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime", "ctx"}
)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add ids (item_id=…, delivery_id=…, comment_id=…) to every log line inside the block.
    Nested blocks add to the outer ones; None values are left out."""
    merged = dict(_context.get())
    merged.update({k: v for k, v in fields.items() if v is not None})
    token = _context.set(MappingProxyType(merged))
    try:
        yield
    finally:
        _context.reset(token)


def current_context() -> Mapping[str, Any]:
    """The ids set by the enclosing log_context blocks."""
    return _context.get()


class ContextFilter(logging.Filter):
    """Copies the current log_context onto each record as `record.ctx` (a dict)."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = dict(_context.get())
        # ids passed explicitly with extra={"delivery_id": …} count too
        for name in CONTEXT_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                ctx.setdefault(name, value)
        record.ctx = ctx
        return True


def _ordered(ctx: Mapping[str, Any]) -> list[tuple[str, Any]]:
    known = [(k, ctx[k]) for k in CONTEXT_FIELDS if k in ctx]
    return known + sorted((k, v) for k, v in ctx.items() if k not in CONTEXT_FIELDS)


class TextFormatter(logging.Formatter):
    """`2026-01-01 09:00:00,000 INFO bot.outbox.dispatcher: message [delivery_id=7 item_id=3]`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ctx: Mapping[str, Any] = getattr(record, "ctx", None) or {}
        if not ctx:
            return text
        tail = " ".join(f"{k}={v}" for k, v in _ordered(ctx))
        first, sep, rest = text.partition("\n")  # keep a traceback below the ids
        return f"{first} [{tail}]{sep}{rest}"


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, the context ids,
    extra fields given with `extra=`, and the traceback as `exc_info` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        ctx: Mapping[str, Any] = getattr(record, "ctx", None) or {}
        out.update(_ordered(ctx))
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRS and key not in out and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class PrefixFilter(logging.Filter):
    """Starts every record's message with a fixed mark (sandbox mode: "[SANDBOX] "), once."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "_gk_prefixed", False):
            record.msg = self.prefix + str(record.msg)
            # underscore: the JSON formatter leaves such attributes out of its fields
            setattr(record, "_gk_prefixed", True)  # noqa: B010
        return True


class MalformedRequestFilter(logging.Filter):
    """aiohttp logs a request it cannot parse (a NUL in a header, a broken request line) with
    a traceback at ERROR, though it answers 400 and nothing on our side failed: anyone could
    fill the log with them. Such a record becomes one WARNING line without the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if record.name == "aiohttp.server" and isinstance(exc, HttpProcessingError):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg = "malformed request refused with 400: %s"
            record.args = (str(exc).replace("\n", " ")[:300],)
            record.exc_info = record.exc_text = None
        return True


def configure(
    config: LogConfig, stream: IO[str] | None = None, prefix: str = ""
) -> logging.Handler:
    """Route the root logger to one handler with the configured format and level (replacing
    the handlers set before, e.g. by the CLI), every message starting with `prefix`; returns
    that handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(MalformedRequestFilter())
    handler.addFilter(ContextFilter())
    if prefix:
        handler.addFilter(PrefixFilter(prefix))
    handler.setFormatter(JsonFormatter() if config.format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(config.level)
    # Connection open/close notices are noise at INFO.
    logging.getLogger("tortoise").setLevel(max(logging.WARNING, root.level))
    return handler
