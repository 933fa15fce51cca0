"""The 随申办 open platform contract in one place: endpoint paths, header and JSON field names,
the request-signing recipe, and the table of the platform's error codes.

No public specification exists, so everything the real platform may name differently is here
(defaults) and in config ([channels.suishenban] paths, headers, fields, error_codes,
sign_template), looked up by a logical name. The adapter (channels/suishenban/channel.py), the
callback
(bot/web/callbacks/suishenban.py) and the simulator (channels/sandbox/suishenban.py) all speak
through a Contract, so plugging in the real contract changes config, not code.

Signing: signature = HMAC-SHA256(secret, canonical) in hex (or base64), where canonical is
sign_template filled in; by default
    METHOD \\n PATH (with its raw query string) \\n timestamp \\n nonce \\n sha256(body) hex
sent with the headers X-App-Id, X-Timestamp (Unix seconds), X-Nonce and X-Signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

# method and default path of each endpoint; {name} parts are filled in (URL-quoted)
ENDPOINTS: dict[str, tuple[str, str]] = {
    "token": ("POST", "/auth/token"),
    "push": ("POST", "/open/v1/cards"),
    "lookup": ("GET", "/open/v1/cards/by-key/{key}"),
    "withdraw": ("POST", "/open/v1/cards/{card_id}/withdraw"),
    "feedback": ("GET", "/open/v1/feedback"),
    "reply": ("POST", "/open/v1/feedback/{feedback_id}/reply"),
}
PATH_ARGS = {"lookup": {"key"}, "withdraw": {"card_id"}, "reply": {"feedback_id"}}

HEADERS: dict[str, str] = {
    "app_id": "X-App-Id",
    "timestamp": "X-Timestamp",
    "nonce": "X-Nonce",
    "signature": "X-Signature",
    "idempotency_key": "X-Idempotency-Key",
    "authorization": "Authorization",
}

# logical name -> name on the wire (JSON keys and query parameters)
FIELDS: dict[str, str] = {
    # every answer: {"code": 0, "message": "ok", "data": {...}}; errors may name a "field"
    "code": "code",
    "message": "message",
    "data": "data",
    "error_field": "field",
    "retry_after": "retry_after",
    # POST /auth/token
    "app_id": "app_id",
    "grant_type": "grant_type",
    "access_token": "access_token",
    "expires_in": "expires_in",
    # a card
    "title": "title",
    "summary": "summary",
    "cover_url": "cover_url",
    "link_url": "link_url",
    "tag": "tag",
    "kind": "kind",
    "out_id": "out_id",
    "audience": "audience",
    "audience_type": "type",
    "audience_tags": "tags",
    "card_id": "card_id",
    "card_url": "url",
    "reason": "reason",
    # feedback (polled: GET feedback?cursor=&limit=, and pushed to the callback)
    "cursor": "cursor",
    "limit": "limit",
    "items": "items",
    "next_cursor": "next_cursor",
    "has_more": "has_more",
    "feedback_id": "feedback_id",
    "feedback_card_id": "card_id",
    "user_id": "user_id",
    "content": "content",
    "rating": "rating",
    "feedback_type": "type",
    "created_at": "created_at",
    "reply_content": "content",
    "reply_id": "reply_id",
    # callback body: {"event": "feedback.created", "data": {feedback}}
    "event": "event",
    "event_data": "data",
    "feedback_event": "feedback.created",
}

# platform code -> (what it means to us, HTTP status the platform answers with, Chinese text)
ERROR_CODES: dict[int, tuple[str, int, str]] = {
    40001: ("auth", 401, "签名无效"),
    40002: ("auth", 401, "时间戳超出允许范围（请检查服务器时钟）"),
    40003: ("transient", 401, "请求随机数重复"),
    40004: ("permanent", 400, "参数无效"),
    40101: ("token_expired", 401, "访问令牌无效或已过期"),
    40102: ("auth", 401, "应用凭据无效"),
    40301: ("auth", 403, "无权限"),
    40401: ("not_found", 404, "对象不存在"),
    40901: ("permanent", 409, "幂等键已用于不同内容"),
    42901: ("rate_limited", 429, "调用频率超限"),
    50001: ("transient", 500, "平台内部错误"),
    50301: ("transient", 503, "平台繁忙"),
}
ERROR_KINDS = ("transient", "rate_limited", "auth", "token_expired", "permanent", "not_found")
SIGN_PLACEHOLDERS = {"method", "path", "timestamp", "nonce", "body_sha256", "app_id"}
REQUIRED_PLACEHOLDERS = {"path", "timestamp", "nonce", "body_sha256"}
DEFAULT_SIGN_TEMPLATE = "{method}\n{path}\n{timestamp}\n{nonce}\n{body_sha256}"


class ContractError(ValueError):
    """A contract override that cannot work; the message names the config key (like the
    other configuration errors, in English: it is read by whoever deploys)."""


class SignatureRejected(Exception):
    """A signed request that fails verification: code is the platform's error code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class ReplayGuard:
    """Nonces seen within the skew window (one process's memory, bounded): a nonce seen again
    before it expires is a replay. Entries are dropped when their window has passed."""

    window_seconds: float
    max_size: int = 100_000
    _seen: OrderedDict[str, float] = field(default_factory=OrderedDict)

    def check_and_remember(self, nonce: str, now: float) -> bool:
        """True if the nonce is fresh (and is now remembered); False for a replay."""
        while self._seen and next(iter(self._seen.values())) <= now:
            self._seen.popitem(last=False)
        if nonce in self._seen:
            return False
        if len(self._seen) >= self.max_size:
            # Full of live nonces: forgetting the oldest would reopen it to replays, but the
            # timestamp check still bounds that window, and the inbox deduplicates anyway.
            self._seen.popitem(last=False)
        # A timestamp may be up to the window ahead of our clock and is accepted until the
        # window after it: twice the window from now covers every moment it could be replayed.
        self._seen[nonce] = now + 2 * self.window_seconds
        return True

    def forget(self, nonce: str) -> None:
        """Let a nonce in again (the request it came with was not processed)."""
        self._seen.pop(nonce, None)

    def __len__(self) -> int:
        return len(self._seen)


@dataclass(frozen=True)
class Contract:
    """The names and recipe in force: the defaults above with config's overrides applied."""

    paths: dict[str, str] = field(default_factory=lambda: {k: p for k, (_, p) in ENDPOINTS.items()})
    headers: dict[str, str] = field(default_factory=lambda: dict(HEADERS))
    fields: dict[str, str] = field(default_factory=lambda: dict(FIELDS))
    error_kinds: dict[int, str] = field(
        default_factory=lambda: {c: kind for c, (kind, _, _) in ERROR_CODES.items()}
    )
    sign_template: str = DEFAULT_SIGN_TEMPLATE
    signature_encoding: str = "hex"
    token_prefix: str = "Bearer "

    @classmethod
    def build(
        cls,
        *,
        paths: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        fields: dict[str, str] | None = None,
        error_codes: dict[str, str] | None = None,
        sign_template: str = DEFAULT_SIGN_TEMPLATE,
        signature_encoding: str = "hex",
        token_prefix: str = "Bearer ",
    ) -> Contract:
        """The contract with overrides; ContractError names the first bad key."""
        base = cls()
        for section, given, known in (
            ("paths", paths or {}, base.paths),
            ("headers", headers or {}, base.headers),
            ("fields", fields or {}, base.fields),
        ):
            for key, value in given.items():
                if key not in known:
                    raise ContractError(
                        f"channels.suishenban.{section}.{key}: unknown name; "
                        f"known: {', '.join(known)}"
                    )
                if not value:
                    raise ContractError(f"channels.suishenban.{section}.{key}: must not be empty")
        merged_paths = {**base.paths, **(paths or {})}
        for name, path in merged_paths.items():
            args = {f for _, f, _, _ in string.Formatter().parse(path) if f}
            if not path.startswith("/") or args != PATH_ARGS.get(name, set()):
                wanted = ", ".join("{" + a + "}" for a in sorted(PATH_ARGS.get(name, ()))) or "none"
                raise ContractError(
                    f"channels.suishenban.paths.{name} = {path!r}: expected a path starting "
                    f"with / whose placeholders are: {wanted}"
                )
        kinds = dict(base.error_kinds)
        for code, kind in (error_codes or {}).items():
            if not code.lstrip("-").isdigit() or kind not in ERROR_KINDS:
                raise ContractError(
                    f"channels.suishenban.error_codes.{code}: expected an integer code = "
                    f"{' | '.join(ERROR_KINDS)}"
                )
            kinds[int(code)] = kind
        try:
            used = {f for _, f, _, _ in string.Formatter().parse(sign_template) if f is not None}
        except ValueError as exc:
            raise ContractError(
                f"channels.suishenban.sign_template: not a valid template ({exc})"
            ) from exc
        if not used <= SIGN_PLACEHOLDERS or not REQUIRED_PLACEHOLDERS <= used:
            raise ContractError(
                "channels.suishenban.sign_template: may use only "
                + ", ".join("{" + p + "}" for p in sorted(SIGN_PLACEHOLDERS))
                + " and must contain {path}, {timestamp}, {nonce} and {body_sha256}"
            )
        if signature_encoding not in ("hex", "base64"):
            raise ContractError("channels.suishenban.signature_encoding: expected hex or base64")
        return cls(
            paths=merged_paths,
            headers={**base.headers, **(headers or {})},
            fields={**base.fields, **(fields or {})},
            error_kinds=kinds,
            sign_template=sign_template,
            signature_encoding=signature_encoding,
            token_prefix=token_prefix,
        )

    # -- names ---------------------------------------------------------------------------
    def f(self, name: str) -> str:
        """The wire name of a logical field."""
        return self.fields[name]

    def h(self, name: str) -> str:
        """The wire name of a logical header."""
        return self.headers[name]

    def method(self, endpoint: str) -> str:
        return ENDPOINTS[endpoint][0]

    def path(self, endpoint: str, **args: str) -> str:
        """The endpoint's path with its {parts} filled in, URL-quoted."""
        return self.paths[endpoint].format(**{k: quote(str(v), safe="") for k, v in args.items()})

    def error_kind(self, code: int) -> str | None:
        return self.error_kinds.get(code)

    # -- signing -------------------------------------------------------------------------
    def canonical(
        self, method: str, path: str, timestamp: str, nonce: str, body: bytes, app_id: str
    ) -> str:
        return self.sign_template.format(
            method=method.upper(),
            path=path,
            timestamp=timestamp,
            nonce=nonce,
            body_sha256=hashlib.sha256(body).hexdigest(),
            app_id=app_id,
        )

    def signature(
        self,
        secret: str,
        method: str,
        path: str,
        timestamp: str,
        nonce: str,
        body: bytes,
        app_id: str,
    ) -> str:
        text = self.canonical(method, path, timestamp, nonce, body, app_id)
        digest = hmac.new(secret.encode(), text.encode(), hashlib.sha256).digest()
        if self.signature_encoding == "base64":
            return base64.b64encode(digest).decode()
        return digest.hex()

    def signed_headers(
        self,
        secret: str,
        app_id: str,
        method: str,
        path: str,
        body: bytes,
        *,
        now: float | None = None,
        nonce: str | None = None,
    ) -> dict[str, str]:
        """The signing headers of one request (path with its raw query string)."""
        timestamp = str(int(time.time() if now is None else now))
        nonce = nonce or secrets.token_hex(16)
        return {
            self.h("app_id"): app_id,
            self.h("timestamp"): timestamp,
            self.h("nonce"): nonce,
            self.h("signature"): self.signature(
                secret, method, path, timestamp, nonce, body, app_id
            ),
        }

    def verify(
        self,
        secret: str,
        app_id: str,
        headers: Any,
        method: str,
        path: str,
        body: bytes,
        *,
        max_skew: float,
        guard: ReplayGuard | None,
        now: float | None = None,
    ) -> str:
        """Check a signed request (headers: a mapping); returns its nonce, or raises
        SignatureRejected with the platform's code (40001 signature, 40002 time, 40003 replay).
        The nonce is remembered only once the signature and time have passed."""
        now = time.time() if now is None else now
        given_app = headers.get(self.h("app_id"), "")
        timestamp = headers.get(self.h("timestamp"), "")
        nonce = headers.get(self.h("nonce"), "")
        given = headers.get(self.h("signature"), "")
        if not (given_app and timestamp and nonce and given):
            raise SignatureRejected(40001, "缺少签名请求头")
        if not hmac.compare_digest(given_app.encode(), app_id.encode()):
            raise SignatureRejected(40001, "应用标识不符")
        expected = self.signature(secret, method, path, timestamp, nonce, body, app_id)
        if not hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace")):
            raise SignatureRejected(40001, "签名无效")
        # Seconds since 1970 in at most 12 ASCII digits: checked before any arithmetic (a
        # longer one would overflow a float, and non-ASCII digits are no timestamp).
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            raise SignatureRejected(40002, "时间戳无效")
        skew = abs(now - int(timestamp))
        if skew > max_skew:
            raise SignatureRejected(40002, "时间戳超出允许范围")
        if guard is not None and not guard.check_and_remember(nonce, now):
            raise SignatureRejected(40003, "请求随机数重复（重放）")
        return nonce


def error_status(code: int) -> int:
    """The HTTP status the platform answers an error code with (400 when not in the table)."""
    return ERROR_CODES.get(code, ("", 400, ""))[1]


def error_text(code: int) -> str:
    return ERROR_CODES.get(code, ("", 0, "未知错误"))[2]
