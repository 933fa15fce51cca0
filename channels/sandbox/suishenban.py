"""A local 随申办 open platform for tests and the sandbox. It speaks the contract of
channels/suishenban/contract.py (paths, names, signing, error codes and their JSON), refuses
bad signatures, skewed timestamps and replayed nonces, issues access tokens, keeps a ledger
(cards exactly once per idempotency key, withdrawals, replies), injects faults on demand
(random error rate, given codes for the next calls, latency, the answer dropped after the work
is done), and produces feedback from simulated users, optionally pushed to the bot's webhook
signed as the platform would.

Run alone: python -m channels.sandbox.suishenban --port 8093 \
    --callback-url http://127.0.0.1:8080/suishenban/callback
Operator endpoints: GET /_sim/ledger, POST /_sim/faults, POST /_sim/feedback,
POST /_sim/expire-tokens. GET /cards/{card_id} (a push's url) shows the card as a user opens it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from channels.sandbox import serve
from channels.sandbox.pages import card_page, gone_page
from channels.suishenban.contract import (
    Contract,
    ReplayGuard,
    SignatureRejected,
    error_status,
    error_text,
)


@dataclass
class Ledger:
    """What the simulated platform holds; tests count on it for exactly-once checks."""

    cards: dict[str, dict[str, Any]] = field(default_factory=dict)  # card_id: card
    by_key: dict[str, str] = field(default_factory=dict)  # idempotency key: card_id
    push_requests: int = 0  # accepted pushes, repeats of a key included
    withdrawals: list[str] = field(default_factory=list)
    replies: dict[str, dict[str, Any]] = field(default_factory=dict)  # reply_id: reply
    reply_by_key: dict[str, str] = field(default_factory=dict)
    feedback: list[dict[str, Any]] = field(default_factory=list)  # wire records, in order
    tokens_issued: int = 0
    injected: int = 0  # faults injected (error codes answered, answers dropped)
    calls: Counter[str] = field(default_factory=Counter)  # endpoint: requests received
    rejected: list[tuple[str, int]] = field(default_factory=list)  # (endpoint, code)
    callbacks: list[dict[str, Any]] = field(default_factory=list)  # pushes to the bot
    # The last API requests as received (endpoint, method, path, headers, body): what the
    # platform would see on the wire, for signature checks
    requests: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=1000))


@dataclass
class Faults:
    """Failures to inject (endpoints by the contract's names: token, push, lookup, ...)."""

    error_rate: float = 0.0  # share of calls answered 50001 at random
    codes: dict[str, list[int]] = field(default_factory=dict)  # next answers' error codes
    latency_ms: float = 0.0
    drop: dict[str, int] = field(default_factory=dict)  # next N calls: done, answer dropped
    retry_after: float = 1.0  # the Retry-After of an injected 42901


class _Refused(Exception):
    def __init__(self, code: int, message: str = "", field: str = "") -> None:
        super().__init__(message or error_text(code))
        self.code, self.field = code, field


Work = Callable[[web.Request, dict[str, Any]], Awaitable[dict[str, Any]]]


class SuishenbanSimulator:
    def __init__(
        self,
        app_id: str = "ssb-sandbox",
        app_secret: str = "sandbox-secret",
        *,
        contract: Contract | None = None,
        token_ttl: int = 7200,
        max_skew: float = 300,
        callback_url: str = "",
        callback_secret: str | None = None,
        title_max: int = 64,
        reply_max_chars: int = 1000,
        prefix: str = "",
        seed: int | None = None,
    ) -> None:
        self.app_id, self.app_secret = app_id, app_secret
        self.contract = contract or Contract()
        self.token_ttl, self.max_skew = token_ttl, max_skew
        self.callback_url = callback_url
        self.callback_secret = callback_secret or app_secret
        self.title_max, self.reply_max_chars = title_max, reply_max_chars
        self.ledger = Ledger()
        self.faults = Faults()
        self.tokens: dict[str, float] = {}  # token: expiry (time.time())
        self.guard = ReplayGuard(max_skew)
        self.random = random.Random(seed)
        self.app = web.Application(client_max_size=1024 * 1024)
        routes: dict[str, Work] = {
            "token": self._token,
            "push": self._push,
            "lookup": self._lookup,
            "withdraw": self._withdraw,
            "feedback": self._feedback,
            "reply": self._reply,
        }
        for endpoint, work in routes.items():
            self.app.router.add_route(
                self.contract.method(endpoint),
                prefix.rstrip("/") + self.contract.paths[endpoint],  # the API under a root path
                self._handler(endpoint, work),
            )
        self.app.router.add_get("/cards/{card_id}", self._card_page)
        self.app.router.add_get("/_sim/ledger", self._ledger_view)
        self.app.router.add_post("/_sim/faults", self._set_faults)
        self.app.router.add_post("/_sim/feedback", self._new_feedback)
        self.app.router.add_post("/_sim/expire-tokens", self._expire_view)

    # -- the common path of every API call -----------------------------------------------
    def _error(self, code: int, message: str = "", where: str = "") -> web.Response:
        f = self.contract.f
        body: dict[str, Any] = {f("code"): code, f("message"): message or error_text(code)}
        if where:
            body[f("error_field")] = where
        headers = {}
        if code == 42901:
            headers["Retry-After"] = f"{self.faults.retry_after:g}"
            body[f("retry_after")] = self.faults.retry_after
        return web.json_response(body, status=error_status(code), headers=headers)

    def _handler(self, endpoint: str, work: Work) -> Callable[[web.Request], Awaitable[Any]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            ledger, faults, f = self.ledger, self.faults, self.contract.f
            ledger.calls[endpoint] += 1
            if faults.latency_ms:
                await asyncio.sleep(faults.latency_ms / 1000)
            body = await request.read()
            ledger.requests.append(
                {
                    "endpoint": endpoint,
                    "method": request.method,
                    "path": request.raw_path,
                    "headers": dict(request.headers),
                    "body": body,
                }
            )
            try:
                self.contract.verify(
                    self.app_secret,
                    self.app_id,
                    request.headers,
                    request.method,
                    request.raw_path,
                    body,
                    max_skew=self.max_skew,
                    guard=self.guard,
                )
            except SignatureRejected as exc:
                ledger.rejected.append((endpoint, exc.code))
                return self._error(exc.code, str(exc))
            if endpoint != "token" and not self._token_ok(request):
                return self._error(40101)
            queued = faults.codes.get(endpoint)
            if queued:
                ledger.injected += 1
                return self._error(queued.pop(0))
            if faults.error_rate and self.random.random() < faults.error_rate:
                ledger.injected += 1
                return self._error(50001)
            try:
                data = json.loads(body) if body else {}
                if not isinstance(data, dict):
                    raise ValueError(data)
            except ValueError:
                return self._error(40004, "请求体不是 JSON 对象", "body")
            try:
                result = await work(request, data)
            except _Refused as exc:
                return self._error(exc.code, str(exc), exc.field)
            if faults.drop.get(endpoint, 0) > 0:
                # The work is done; the answer never reaches the caller.
                faults.drop[endpoint] -= 1
                ledger.injected += 1
                if request.transport is not None:
                    request.transport.close()
                raise asyncio.CancelledError
            return web.json_response({f("code"): 0, f("message"): "ok", f("data"): result})

        return handle

    def _token_ok(self, request: web.Request) -> bool:
        given = request.headers.get(self.contract.h("authorization"), "")
        prefix = self.contract.token_prefix
        token = given[len(prefix) :] if given.startswith(prefix) else ""
        return self.tokens.get(token, 0) > time.time()

    def expire_tokens(self) -> None:
        """Every issued token stops working at once (the next call gets 40101)."""
        self.tokens.clear()

    # -- endpoints -----------------------------------------------------------------------
    async def _token(self, request: web.Request, data: dict[str, Any]) -> dict[str, Any]:
        f = self.contract.f
        if data.get(f("app_id")) != self.app_id:
            raise _Refused(40102, "应用凭据无效", f("app_id"))
        if data.get(f("grant_type")) != "client_credential":
            raise _Refused(40004, "grant_type 应为 client_credential", f("grant_type"))
        token = "tok-" + secrets.token_hex(16)
        self.tokens[token] = time.time() + self.token_ttl
        self.ledger.tokens_issued += 1
        return {f("access_token"): token, f("expires_in"): self.token_ttl}

    def _card_view(self, card: dict[str, Any]) -> dict[str, Any]:
        f = self.contract.f
        return {f("card_id"): card["card_id"], f("card_url"): card["url"], "status": card["status"]}

    async def _push(self, request: web.Request, data: dict[str, Any]) -> dict[str, Any]:
        f, header = self.contract.f, self.contract.h("idempotency_key")
        key = request.headers.get(header, "")
        if not key:
            raise _Refused(40004, "缺少幂等键", header)
        if key in self.ledger.by_key:  # a retried push: the same card, not a second one
            self.ledger.push_requests += 1
            return self._card_view(self.ledger.cards[self.ledger.by_key[key]])
        title = data.get(f("title"))
        if not isinstance(title, str) or not title.strip() or len(title) > self.title_max:
            raise _Refused(40004, f"标题为空或超过 {self.title_max} 字", f("title"))
        link = data.get(f("link_url"))
        if not isinstance(link, str) or not link.startswith(("http://", "https://")):
            raise _Refused(40004, "链接应为 http(s) 地址", f("link_url"))
        audience = data.get(f("audience"))
        kind = audience.get(f("audience_type")) if isinstance(audience, dict) else None
        tags = audience.get(f("audience_tags")) if isinstance(audience, dict) else None
        if kind not in ("all", "tags") or (
            kind == "tags" and not (isinstance(tags, list) and tags)
        ):
            raise _Refused(40004, "推送对象无效", f("audience"))
        self.ledger.push_requests += 1
        card_id = f"card-{len(self.ledger.cards) + 1}"
        card = {
            "card_id": card_id,
            "key": key,
            "url": f"{request.scheme}://{request.host}/cards/{card_id}",
            "status": "active",
            "pushed_at": time.time(),
            **{k: data.get(f(k)) for k in ("title", "summary", "cover_url", "link_url", "tag")},
            "kind": data.get(f("kind")),
            "out_id": data.get(f("out_id")),
            "audience": audience,
        }
        self.ledger.cards[card_id] = card
        self.ledger.by_key[key] = card_id
        return self._card_view(card)

    async def _lookup(self, request: web.Request, data: dict[str, Any]) -> dict[str, Any]:
        card_id = self.ledger.by_key.get(request.match_info["key"])
        if card_id is None:
            raise _Refused(40401, "没有以该幂等键推送的卡片")
        return self._card_view(self.ledger.cards[card_id])

    async def _withdraw(self, request: web.Request, data: dict[str, Any]) -> dict[str, Any]:
        card = self.ledger.cards.get(request.match_info["card_id"])
        if card is None:
            raise _Refused(40401, "卡片不存在")
        if card["status"] == "active":  # withdrawing twice is done once
            card["status"] = "withdrawn"
            self.ledger.withdrawals.append(card["card_id"])
        return self._card_view(card)

    async def _feedback(self, request: web.Request, data: dict[str, Any]) -> dict[str, Any]:
        f = self.contract.f
        try:
            after = int(request.query.get(f("cursor"), "0") or 0)
            limit = int(request.query.get(f("limit"), "50"))
        except ValueError as exc:
            raise _Refused(40004, "分页参数无效", f("cursor")) from exc
        if not 1 <= limit <= 500:
            raise _Refused(40004, "limit 应在 1 至 500 之间", f("limit"))
        newer = [r for r in self.ledger.feedback if r["_seq"] > after]
        page = newer[:limit]
        last = page[-1]["_seq"] if page else after
        return {
            f("items"): [{k: v for k, v in r.items() if k != "_seq"} for r in page],
            f("next_cursor"): str(last),
            f("has_more"): len(newer) > limit,
        }

    async def _reply(self, request: web.Request, data: dict[str, Any]) -> dict[str, Any]:
        f, header = self.contract.f, self.contract.h("idempotency_key")
        feedback_id = request.match_info["feedback_id"]
        if not any(r[f("feedback_id")] == feedback_id for r in self.ledger.feedback):
            raise _Refused(40401, "留言不存在或已关闭")
        key = request.headers.get(header, "")
        if key and key in self.ledger.reply_by_key:
            return {f("reply_id"): self.ledger.reply_by_key[key]}
        content = data.get(f("reply_content"))
        if not isinstance(content, str) or not content.strip():
            raise _Refused(40004, "答复内容为空", f("reply_content"))
        if len(content) > self.reply_max_chars:
            raise _Refused(40004, f"答复超过 {self.reply_max_chars} 字", f("reply_content"))
        reply_id = f"reply-{len(self.ledger.replies) + 1}"
        self.ledger.replies[reply_id] = {
            "reply_id": reply_id,
            "feedback_id": feedback_id,
            "content": content,
            "key": key,
        }
        if key:
            self.ledger.reply_by_key[key] = reply_id
        return {f("reply_id"): reply_id}

    # -- simulated users -----------------------------------------------------------------
    def add_feedback(
        self,
        card_id: str,
        user_id: str,
        content: str,
        rating: int | None = None,
        created_at: int | None = None,
    ) -> dict[str, Any]:
        """A user writes feedback on a card; returns the record as the platform sends it."""
        f = self.contract.f
        seq = len(self.ledger.feedback) + 1
        record: dict[str, Any] = {
            f("feedback_id"): f"fb-{seq}",
            f("feedback_card_id"): card_id,
            f("user_id"): user_id,
            f("content"): content,
            f("feedback_type"): "rating" if rating is not None else "comment",
            f("created_at"): int(time.time()) if created_at is None else created_at,
        }
        if rating is not None:
            record[f("rating")] = rating
        self.ledger.feedback.append({**record, "_seq": seq})
        return record

    def callback_request(
        self, record: dict[str, Any], url: str = "", *, now: float | None = None
    ) -> tuple[str, bytes, dict[str, str]]:
        """The URL, body and headers of the signed push of one feedback record."""
        f = self.contract.f
        target = URL(url or self.callback_url)
        body = json.dumps(
            {f("event"): f("feedback_event"), f("event_data"): record}, ensure_ascii=False
        ).encode()
        headers = self.contract.signed_headers(
            self.callback_secret, self.app_id, "POST", target.raw_path_qs, body, now=now
        )
        headers["Content-Type"] = "application/json; charset=utf-8"
        return str(target), body, headers

    async def push_feedback(self, record: dict[str, Any], url: str = "") -> int:
        """POST one feedback record to the bot's webhook, signed; returns the HTTP status."""
        target, body, headers = self.callback_request(record, url)
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
            session.post(target, data=body, headers=headers) as resp,
        ):
            await resp.read()
            status = resp.status
        self.ledger.callbacks.append(
            {"feedback_id": record[self.contract.f("feedback_id")], "status": status}
        )
        return status

    # -- what users see ------------------------------------------------------------------
    async def _card_page(self, request: web.Request) -> web.Response:
        # docs/channels/suishenban.md "Endpoints" (push → data `card_id, url`): url is where a
        # user opens the card, the address the console's 查看 link follows. A withdrawn card is
        # gone ("withdraw … 40401 if already gone"): 410, as the app no longer shows it.
        card = self.ledger.cards.get(request.match_info["card_id"])
        if card is None:
            raise web.HTTPNotFound(text="卡片不存在", content_type="text/plain")
        if card["status"] != "active":
            return gone_page("随申办", "该消息已被发布者撤回")
        return card_page(card)

    # -- operator endpoints --------------------------------------------------------------
    async def _ledger_view(self, request: web.Request) -> web.Response:
        view = {k: v for k, v in asdict(self.ledger).items() if k != "requests"}
        view["calls"] = dict(self.ledger.calls)
        return web.json_response(view)

    async def _set_faults(self, request: web.Request) -> web.Response:
        data = await request.json()
        faults = self.faults
        faults.error_rate = float(data.get("error_rate", faults.error_rate))
        faults.latency_ms = float(data.get("latency_ms", faults.latency_ms))
        for endpoint, codes in (data.get("codes") or {}).items():
            faults.codes.setdefault(endpoint, []).extend(int(c) for c in codes)
        for endpoint, count in (data.get("drop") or {}).items():
            faults.drop[endpoint] = int(count)
        return web.json_response(asdict(faults))

    async def _new_feedback(self, request: web.Request) -> web.Response:
        data = await request.json()
        record = self.add_feedback(
            str(data["card_id"]),
            str(data.get("user_id", "sim-user")),
            str(data.get("content", "")),
            data.get("rating"),
        )
        status: int | str | None = None
        if data.get("push", True) and self.callback_url:
            try:
                status = await self.push_feedback(record)
            except (aiohttp.ClientError, TimeoutError) as exc:  # the bot is down: say so
                status = f"{type(exc).__name__}: {exc}"
        return web.json_response({"feedback": record, "callback_status": status})

    async def _expire_view(self, request: web.Request) -> web.Response:
        self.expire_tokens()
        return web.json_response({"expired": True})


async def start_simulator(
    host: str = "127.0.0.1", port: int = 0, **opts: Any
) -> tuple[web.AppRunner, SuishenbanSimulator]:
    """The simulator served on host:port (0: any free port; see simulator_url)."""
    sim = SuishenbanSimulator(**opts)
    return await serve(sim.app, host, port), sim


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8093)
    parser.add_argument("--app-id", default="ssb-sandbox")
    parser.add_argument("--app-secret", default="sandbox-secret")
    parser.add_argument("--callback-url", default="")
    args = parser.parse_args()
    sim = SuishenbanSimulator(args.app_id, args.app_secret, callback_url=args.callback_url)
    web.run_app(sim.app, host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
