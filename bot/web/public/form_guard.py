"""Abuse guards of the public website form (bot/web/public/feedback.py): the signed double-submit
CSRF token, a per-client sliding-window rate limit, and the client address behind trusted
reverse proxies.

The public is not logged in, so there is no session to tie a CSRF token to. The token is an
HMAC over a random nonce and its issue time; the same token goes into an HttpOnly,
SameSite=Strict cookie and a hidden form field. A forged cross-site POST can carry neither the
cookie (SameSite) nor read the field (same-origin policy), and an attacker who sets a cookie
through some other hole still cannot mint a valid signature without the server key.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections import OrderedDict, deque
from dataclasses import dataclass

from aiohttp import web

from bot.config import Config, ConfigError
from bot.errors import Refusal

CSRF_COOKIE = "gk_form_csrf"
CSRF_FIELD = "csrf_token"
# Reused while it has more than this share of its life left, so two tabs opened a little
# apart do not invalidate each other's token.
_REUSE_SHARE = 0.5

log = logging.getLogger(__name__)


class CsrfError(Refusal):
    """The form's anti-forgery token is missing, forged, mismatched or expired (message in
    Chinese, shown to the writer)."""

    status_code = 403
    code = "csrf_failed"


def form_key(config: Config) -> bytes:
    """The key that signs form tokens: its own secret when configured, else one derived from
    the author key (a different purpose, so a separate HMAC label keeps them apart)."""
    form = config.inbox.form
    if form.csrf_key_env:
        value = config.secret(form.csrf_key_env)
        if value:
            return value.encode()
    return hmac.new(config.author_key(), b"gongkai:form-csrf", hashlib.sha256).digest()


@dataclass(frozen=True)
class CsrfSigner:
    key: bytes
    max_age_seconds: int

    def _mac(self, payload: str) -> str:
        return hmac.new(self.key, payload.encode(), hashlib.sha256).hexdigest()

    def issue(self, now: float | None = None) -> str:
        stamp = int(time.time() if now is None else now)
        payload = f"{secrets.token_urlsafe(16)}.{stamp}"
        return f"{payload}.{self._mac(payload)}"

    def age(self, token: str, now: float | None = None) -> float | None:
        """Seconds since the token was issued, or None when it is not one of ours."""
        nonce, _, rest = token.partition(".")
        stamp, _, mac = rest.partition(".")
        if not nonce or not stamp.isdigit() or len(stamp) > 12 or not mac:
            return None
        if not hmac.compare_digest(mac, self._mac(f"{nonce}.{stamp}")):
            return None
        return (time.time() if now is None else now) - int(stamp)

    def verify(self, cookie: str | None, field: str | None, now: float | None = None) -> None:
        """Raise CsrfError unless the cookie and the field hold the same valid, fresh token."""
        if not cookie or not field:
            raise CsrfError("表单安全校验信息缺失，请刷新留言页面后重新提交（需允许本站 Cookie）。")
        if not hmac.compare_digest(cookie.encode(), field.encode()):
            raise CsrfError("表单安全校验未通过，请刷新留言页面后重新提交。")
        age = self.age(field, now)
        if age is None:
            raise CsrfError("表单安全校验未通过，请刷新留言页面后重新提交。")
        # A token from the future (clock moved back, or forged time) is refused too.
        if age > self.max_age_seconds or age < -60:
            hours = self.max_age_seconds / 3600
            raise CsrfError(f"表单已超过 {hours:g} 小时未提交而失效，请刷新留言页面后重新填写。")

    def current(self, cookie: str | None, now: float | None = None) -> str:
        """The client's token when it is still young enough to reuse, else a new one."""
        if cookie:
            age = self.age(cookie, now)
            if age is not None and 0 <= age < self.max_age_seconds * _REUSE_SHARE:
                return cookie
        return self.issue(now)

    def set_cookie(self, response: web.StreamResponse, token: str, secure: bool) -> None:
        response.set_cookie(
            CSRF_COOKIE,
            token,
            max_age=self.max_age_seconds,
            path="/feedback",
            httponly=True,
            samesite="Strict",
            secure=secure,
        )


class SlidingWindow:
    """At most `limit` events per key in any `window` seconds. Kept in the app object (one per
    process: several processes each allow `limit`), bounded to `max_keys` keys, the least
    recently seen dropped first."""

    def __init__(self, limit: int, window: float, max_keys: int) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._events: OrderedDict[str, deque[float]] = OrderedDict()

    def hit(self, key: str, now: float | None = None) -> float | None:
        """Count one event for key; None when allowed, else seconds until the next is."""
        at = time.monotonic() if now is None else now
        events = self._events.get(key)
        if events is None:
            events = self._events[key] = deque()
            while len(self._events) > self.max_keys:
                self._events.popitem(last=False)
        else:
            self._events.move_to_end(key)
        while events and events[0] <= at - self.window:
            events.popleft()
        if len(events) >= self.limit:
            return max(0.0, events[0] + self.window - at)
        events.append(at)
        return None


@dataclass
class FormGuard:
    """The form's guards for this app (one per process, kept in the app object)."""

    signer: CsrfSigner | None  # None: keys not configured, the form is closed
    submits: SlidingWindow
    lookups: SlidingWindow
    secure_cookie: bool

    @classmethod
    def from_config(cls, config: Config) -> FormGuard:
        form = config.inbox.form
        signer = None
        if form.enabled:
            try:
                signer = CsrfSigner(form_key(config), form.csrf_max_age_seconds)
                config.author_key()  # author references need it too: check before the first post
            except ConfigError as exc:
                log.error("feedback form closed: %s", exc)
                signer = None
        return cls(
            signer=signer,
            submits=SlidingWindow(
                form.submit_limit, form.submit_window_seconds, form.rate_limit_max_clients
            ),
            lookups=SlidingWindow(
                form.lookup_limit, form.lookup_window_seconds, form.rate_limit_max_clients
            ),
            secure_cookie=config.app.public_base_url.startswith("https://"),
        )
