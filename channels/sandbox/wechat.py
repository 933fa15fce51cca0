"""A local WeChat Official Account API for tests and the sandbox: stable_token, uploadimg,
add_material, draft/*, freepublish/*, message/mass/sendall, comment/list and reply/add,
message/custom/send, with WeChat's JSON shapes and errcodes, daily quotas on a clock tests can
move, fault injection, a ledger of what was published, and signed (safe mode: encrypted)
callbacks pushed to the bot like WeChat does, retried when the bot is slow.

Run alone: python -m channels.sandbox.wechat --port 8092 --callback-url http://127.0.0.1:8080/wechat/callback
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import random
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import xmltodict
from aiohttp import web
from wechatpy.crypto import WeChatCrypto

from channels.sandbox import serve

BEIJING = ZoneInfo("Asia/Shanghai")
TOKEN_TTL = 7200
JPEG, PNG = b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n"


@dataclass
class Ledger:
    """What the simulated account holds; tests count on it for exactly-once checks."""

    images: list[dict[str, Any]] = field(default_factory=list)
    materials: dict[str, dict[str, Any]] = field(default_factory=dict)
    drafts: dict[str, dict[str, Any]] = field(default_factory=dict)  # every draft ever added
    publications: dict[str, dict[str, Any]] = field(default_factory=dict)  # by publish_id
    articles: dict[str, dict[str, Any]] = field(default_factory=dict)  # by article_id
    deleted: list[tuple[str, int]] = field(default_factory=list)
    mass_sends: list[dict[str, Any]] = field(default_factory=list)
    custom_messages: list[dict[str, Any]] = field(default_factory=list)
    comments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # article_id: [...]
    calls: Counter[str] = field(default_factory=Counter)  # endpoint: requests answered
    token_fetches: int = 0
    force_refreshes: int = 0
    callbacks: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Faults:
    """Failures to inject, per endpoint (e.g. "draft/add")."""

    errcodes: dict[str, list[int]] = field(default_factory=dict)  # next answers' errcodes
    statuses: dict[str, list[int]] = field(default_factory=dict)  # next answers' HTTP statuses
    lose_answer: dict[str, int] = field(default_factory=dict)  # done, answer later than timeout
    latency: dict[str, float] = field(default_factory=dict)  # seconds, before processing
    error_rate: dict[str, tuple[float, int]] = field(default_factory=dict)  # (p, errcode)
    holds: dict[str, asyncio.Event] = field(default_factory=dict)
    held: Counter[str] = field(default_factory=Counter)  # requests waiting at a hold
    lost_answer_seconds: float = 30.0

    def fail(self, endpoint: str, *errcodes: int) -> None:
        self.errcodes.setdefault(endpoint, []).extend(errcodes)

    def http(self, endpoint: str, *statuses: int) -> None:
        self.statuses.setdefault(endpoint, []).extend(statuses)

    def hold(self, endpoint: str) -> asyncio.Event:
        """Requests to `endpoint` wait until the event is set; one whose client has gone by
        then is dropped unprocessed (it never reached WeChat)."""
        self.holds[endpoint] = asyncio.Event()
        return self.holds[endpoint]


@dataclass
class Quotas:
    """Daily limits (Beijing day) per endpoint; used[(day, endpoint)] counts calls."""

    daily: dict[str, int] = field(
        default_factory=lambda: {
            "freepublish/submit": 100,
            "freepublish/get": 100,
            "message/mass/sendall": 1,
            "stable_token.force": 20,
        }
    )
    used: Counter[tuple[date, str]] = field(default_factory=Counter)


@dataclass
class Callback:
    url: str = ""
    token: str = "sandbox-token"
    aes_key: str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters
    app_id: str = "wx-sandbox"
    mode: str = "safe"  # plain | compatible | safe
    tries: int = 3
    timeout: float = 5.0
    username: str = "gh_sandbox"


@dataclass
class CallbackResult:
    status: int  # last HTTP status, 0 when no answer came
    body: str
    attempts: int


class WechatSimulator:
    def __init__(
        self,
        app_id: str = "wx-sandbox",
        app_secret: str = "sandbox-secret",
        callback: Callback | None = None,
        publish_delay: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.app_id, self.app_secret = app_id, app_secret
        self.callback = callback or Callback(app_id=app_id)
        self.publish_delay = publish_delay
        self.next_publish_status: list[int] = []  # outcomes of the next publish jobs (0 = ok)
        self.ledger, self.faults, self.quotas = Ledger(), Faults(), Quotas()
        self.offset = 0.0  # seconds the simulated clock is ahead of the real one
        self.tokens: dict[str, float] = {}  # valid token: expiry (simulated epoch seconds)
        self.last_message: dict[str, float] = {}  # openid: time of the follower's last message
        self.comments_closed: set[str] = set()
        self._ids = itertools.count(1)
        self._random = random.Random(seed)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._session: aiohttp.ClientSession | None = None
        self.app = web.Application(client_max_size=20 * 1024 * 1024)
        self.app[SIMULATOR] = self
        self.app.router.add_post("/cgi-bin/{endpoint:.+}", self._handle)
        self.app.on_cleanup.append(self._cleanup)

    # -- clock and test controls ---------------------------------------------------------
    def now(self) -> float:
        return time.time() + self.offset

    def today(self) -> date:
        return datetime.fromtimestamp(self.now(), BEIJING).date()

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def next_day(self) -> None:
        """Move the clock to just after the next Beijing midnight (quotas reset)."""
        local = datetime.fromtimestamp(self.now(), BEIJING)
        midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=1, microsecond=0)
        self.advance((midnight - local).total_seconds())

    def invalidate_tokens(self) -> None:
        """Every issued token stops working (as after a force refresh elsewhere)."""
        self.tokens.clear()

    def add_comment(self, article_id: str, openid: str, content: str, index: int = 0) -> int:
        comments = self.ledger.comments.setdefault(f"{article_id}:{index}", [])
        comment: dict[str, Any] = {
            "user_comment_id": len(comments) + 1,
            "openid": openid,
            "create_time": int(self.now()),
            "content": content,
            "comment_type": 0,
        }
        comments.append(comment)
        return int(comment["user_comment_id"])

    def _id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}_{secrets.token_hex(4)}"

    # -- dispatch ------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        endpoint = request.match_info["endpoint"]
        if endpoint in self.faults.holds:
            self.faults.held[endpoint] += 1
            await self.faults.holds[endpoint].wait()
            if request.transport is None or request.transport.is_closing():
                return web.Response(status=499)  # the caller has gone: never processed
        if self.faults.latency.get(endpoint):
            await asyncio.sleep(self.faults.latency[endpoint])
        if self.faults.statuses.get(endpoint):
            return web.Response(status=self.faults.statuses[endpoint].pop(0), text="injected")
        handler = getattr(self, "_" + endpoint.replace("/", "_"), None)
        if handler is None:
            return _err(-1, f"unknown api {endpoint}")  # what WeChat says for bad paths
        if endpoint != "stable_token":
            refused = self._check_token(request.query.get("access_token", ""))
            if refused is not None:
                return refused
        if self.faults.errcodes.get(endpoint):
            return _err(self.faults.errcodes[endpoint].pop(0), "injected")
        rate = self.faults.error_rate.get(endpoint)
        if rate and self._random.random() < rate[0]:
            return _err(rate[1], "injected")
        answer = await handler(request)
        self.ledger.calls[endpoint] += 1
        if self.faults.lose_answer.get(endpoint):
            self.faults.lose_answer[endpoint] -= 1
            await asyncio.sleep(self.faults.lost_answer_seconds)  # done; the answer comes late
        return answer

    def _check_token(self, token: str) -> web.Response | None:
        if not token:
            return _err(41001, "access_token missing")
        expiry = self.tokens.get(token)
        if expiry is None:
            return _err(40001, "invalid credential, access_token is invalid or not latest")
        if expiry <= self.now():
            return _err(42001, "access_token expired")
        return None

    def _quota(self, name: str) -> bool:
        key = (self.today(), name)
        if self.quotas.used[key] >= self.quotas.daily.get(name, 1 << 30):
            return False
        self.quotas.used[key] += 1
        return True

    # -- endpoints -------------------------------------------------------------------------
    async def _stable_token(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("appid") != self.app_id:
            return _err(40013, "invalid appid")
        if body.get("secret") != self.app_secret:
            return _err(40125, "invalid appsecret")
        now = self.now()
        self.ledger.token_fetches += 1
        if body.get("force_refresh"):
            if not self._quota("stable_token.force"):
                return _err(45009, "reach max api daily quota limit")
            self.ledger.force_refreshes += 1
            self.tokens.clear()  # force refresh invalidates the previous token
        live = [(t, exp) for t, exp in self.tokens.items() if exp > now]
        # Normal mode returns the current token; within its last 5 minutes a new one is issued
        # and both work until the old one expires.
        if live and max(e for _, e in live) - now > 300:
            token, expiry = max(live, key=lambda pair: pair[1])
        else:
            token, expiry = secrets.token_urlsafe(24), now + TOKEN_TTL
            self.tokens[token] = expiry
        return web.json_response({"access_token": token, "expires_in": int(expiry - now)})

    async def _upload(self, request: web.Request) -> tuple[str, bytes] | web.Response:
        reader = await request.multipart()
        async for part in reader:
            if isinstance(part, aiohttp.BodyPartReader) and part.name == "media":
                name = part.filename or ""
                data = await part.read(decode=False)
                if not name:
                    return _err(41005, "media data missing")
                return name, bytes(data)
        return _err(41005, "media data missing")

    async def _media_uploadimg(self, request: web.Request) -> web.Response:
        got = await self._upload(request)
        if isinstance(got, web.Response):
            return got
        name, data = got
        if not data.startswith((JPEG, PNG)):
            return _err(40005, "invalid file type")
        if len(data) >= 1024 * 1024:
            return _err(40009, "invalid image size")
        url = f"http://mmbiz.qpic.cn/sandbox/{self._id('img')}/0?wx_fmt=png"
        self.ledger.images.append({"name": name, "size": len(data), "url": url})
        return web.json_response({"url": url})

    async def _material_add_material(self, request: web.Request) -> web.Response:
        kind = request.query.get("type", "")
        got = await self._upload(request)
        if isinstance(got, web.Response):
            return got
        name, data = got
        if kind not in ("image", "thumb"):
            return _err(40004, "invalid media type")
        if not data.startswith((JPEG, PNG)):
            return _err(40005, "invalid file type")
        if kind == "thumb" and len(data) > 64 * 1024:
            return _err(40012, "invalid thumb size")
        if len(data) > 10 * 1024 * 1024:
            return _err(40009, "invalid image size")
        media_id = self._id("mat")
        url = f"http://mmbiz.qpic.cn/sandbox/{media_id}/0"
        self.ledger.materials[media_id] = {"type": kind, "name": name, "size": len(data)}
        return web.json_response({"media_id": media_id, "url": url})

    async def _draft_add(self, request: web.Request) -> web.Response:
        articles = (await request.json()).get("articles") or []
        if not articles or len(articles) > 8:
            return _err(45008, "article size out of limit")
        for article in articles:
            if not article.get("title"):
                return _err(44003, "empty news data")
            if not article.get("content"):
                return _err(44004, "empty content")
            if article.get("thumb_media_id") not in self.ledger.materials:
                return _err(40007, "invalid media_id")
        media_id = self._id("draft")
        self.ledger.drafts[media_id] = {
            "articles": articles,
            "update_time": int(self.now()),
            "consumed": False,
        }
        return web.json_response({"media_id": media_id})

    async def _draft_batchget(self, request: web.Request) -> web.Response:
        body = await request.json()
        live = [(m, d) for m, d in self.ledger.drafts.items() if not d["consumed"]]
        live.sort(key=lambda pair: -pair[1]["update_time"])
        offset, count = int(body.get("offset", 0)), min(int(body.get("count", 20)), 20)
        page = live[offset : offset + count]
        items = [
            {
                "media_id": m,
                "content": {"news_item": _news(d["articles"], bool(body.get("no_content")))},
                "update_time": d["update_time"],
            }
            for m, d in page
        ]
        return web.json_response(
            {"total_count": len(live), "item_count": len(items), "item": items}
        )

    async def _freepublish_submit(self, request: web.Request) -> web.Response:
        media_id = (await request.json()).get("media_id", "")
        draft = self.ledger.drafts.get(media_id)
        if draft is None or draft["consumed"]:
            return _err(40007, "invalid media_id")
        if not self._quota("freepublish/submit"):
            return _err(45009, "reach max api daily quota limit")
        draft["consumed"] = True
        publish_id = str(next(self._ids) + 2_247_000_000)
        self.ledger.publications[publish_id] = {
            "media_id": media_id,
            "status": 1,
            "article_id": "",
            "articles": draft["articles"],
            "fail_idx": [],
        }
        task = asyncio.create_task(self._finish_publish(publish_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return web.json_response(
            {"errcode": 0, "errmsg": "ok", "publish_id": publish_id, "msg_data_id": publish_id}
        )

    async def _finish_publish(self, publish_id: str) -> None:
        if self.publish_delay:
            await asyncio.sleep(self.publish_delay)
        pub = self.ledger.publications[publish_id]
        status = self.next_publish_status.pop(0) if self.next_publish_status else 0
        pub["status"] = status
        info: dict[str, Any] = {"publish_id": publish_id, "publish_status": status}
        if status == 0:
            article_id = self._id("art")
            urls = [
                f"https://mp.weixin.qq.com/s/{article_id}_{i}" for i in range(len(pub["articles"]))
            ]
            pub.update(article_id=article_id, urls=urls)
            self.ledger.articles[article_id] = {
                "publish_id": publish_id,
                "articles": pub["articles"],
                "urls": urls,
                "deleted": False,
                "update_time": int(self.now()),
            }
            info["article_id"] = article_id
            info["article_detail"] = {
                "count": len(urls),
                "item": [{"idx": i + 1, "article_url": u} for i, u in enumerate(urls)],
            }
        else:
            pub["fail_idx"] = [1]
            info["fail_idx"] = [1]
        if self.callback.url:
            await self.push_event("PUBLISHJOBFINISH", {"PublishEventInfo": info})

    async def _freepublish_get(self, request: web.Request) -> web.Response:
        publish_id = str((await request.json()).get("publish_id", ""))
        pub = self.ledger.publications.get(publish_id)
        if pub is None:
            return _err(53600, "invalid publish_id")
        if not self._quota("freepublish/get"):
            return _err(45009, "reach max api daily quota limit")
        answer: dict[str, Any] = {
            "publish_id": publish_id,
            "publish_status": pub["status"],
            "fail_idx": pub["fail_idx"],
        }
        if pub["status"] == 0:
            answer["article_id"] = pub["article_id"]
            answer["article_detail"] = {
                "count": len(pub["urls"]),
                "item": [{"idx": i + 1, "article_url": u} for i, u in enumerate(pub["urls"])],
            }
        return web.json_response(answer)

    async def _freepublish_batchget(self, request: web.Request) -> web.Response:
        body = await request.json()
        live = [(a, r) for a, r in self.ledger.articles.items() if not r["deleted"]]
        live.sort(key=lambda pair: -pair[1]["update_time"])
        offset, count = int(body.get("offset", 0)), min(int(body.get("count", 20)), 20)
        items = []
        for article_id, rec in live[offset : offset + count]:
            news = _news(rec["articles"], bool(body.get("no_content")))
            for entry, url in zip(news, rec["urls"], strict=True):
                entry["url"] = url
            items.append(
                {
                    "article_id": article_id,
                    "content": {"news_item": news},
                    "update_time": rec["update_time"],
                }
            )
        return web.json_response(
            {"total_count": len(live), "item_count": len(items), "item": items}
        )

    async def _freepublish_delete(self, request: web.Request) -> web.Response:
        body = await request.json()
        rec = self.ledger.articles.get(str(body.get("article_id", "")))
        if rec is None or rec["deleted"]:
            return _err(53600, "invalid article_id")
        index = int(body.get("index", 0))
        if index == 0:
            rec["deleted"] = True
        self.ledger.deleted.append((str(body["article_id"]), index))
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def _message_mass_sendall(self, request: web.Request) -> web.Response:
        body = await request.json()
        client_id = str(body.get("clientmsgid", ""))
        for sent in self.ledger.mass_sends:
            if client_id and sent["clientmsgid"] == client_id:
                return _err(45065, "clientmsgid exist", msg_id=sent["msg_id"])
        media_id = (body.get("mpnews") or {}).get("media_id", "")
        draft = self.ledger.drafts.get(media_id)
        if body.get("msgtype") != "mpnews" or draft is None:
            return _err(40007, "invalid media_id")
        if not (body.get("filter") or {}).get("is_to_all"):
            return _err(40050, "invalid tag id")  # the bot always sends to all followers
        if not self._quota("message/mass/sendall"):
            return _err(45028, "has no masssend quota")
        msg_id = str(next(self._ids) + 1_000_000_000)
        self.ledger.mass_sends.append(
            {
                "msg_id": msg_id,
                "media_id": media_id,
                "clientmsgid": client_id,
                "titles": [a["title"] for a in draft["articles"]],
                "day": self.today().isoformat(),
            }
        )
        if self.callback.url:
            fields = {"MsgID": msg_id, "Status": "send success", "TotalCount": 100}
            fields.update(FilterCount=100, SentCount=100, ErrorCount=0)
            task = asyncio.create_task(self.push_event("MASSSENDJOBFINISH", fields))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return web.json_response(
            {
                "errcode": 0,
                "errmsg": "send job submission success",
                "msg_id": msg_id,
                "msg_data_id": msg_id,
            }
        )

    def _comments_of(self, body: dict[str, Any]) -> list[dict[str, Any]] | web.Response:
        article_id = str(body.get("msg_data_id", ""))
        if article_id not in self.ledger.articles or self.ledger.articles[article_id]["deleted"]:
            return _err(88001, "msg_data is not exists")
        if article_id in self.comments_closed:
            return _err(88000, "without comment privilege")
        return self.ledger.comments.setdefault(f"{article_id}:{int(body.get('index', 0))}", [])

    async def _comment_list(self, request: web.Request) -> web.Response:
        body = await request.json()
        begin, count = int(body.get("begin", 0)), int(body.get("count", 0))
        if count <= 0 or count >= 50:
            return _err(88010, "count range error. cout <= 0 or count > 50")
        comments = self._comments_of(body)
        if isinstance(comments, web.Response):
            return comments
        kind = int(body.get("type", 0))
        chosen = [c for c in comments if kind == 0 or c["comment_type"] + 1 == kind]
        page = chosen[begin : begin + count]
        return web.json_response(
            {"errcode": 0, "errmsg": "ok", "total": len(chosen), "comment": page}
        )

    async def _comment_reply_add(self, request: web.Request) -> web.Response:
        body = await request.json()
        comments = self._comments_of(body)
        if isinstance(comments, web.Response):
            return comments
        wanted = int(body.get("user_comment_id", 0))
        found = [c for c in comments if c["user_comment_id"] == wanted]
        if not found:
            return _err(88008, "comment is not exists")
        content = str(body.get("content", ""))
        if not content or len(content) > 600:
            return _err(88007, "reply content beyond max len or content len is zero")
        if "reply" in found[0]:
            return _err(88005, "already reply")
        found[0]["reply"] = {"content": content, "create_time": int(self.now())}
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def _message_custom_send(self, request: web.Request) -> web.Response:
        body = await request.json()
        openid = str(body.get("touser", ""))
        last = self.last_message.get(openid)
        if last is None:
            return _err(40003, "invalid openid")
        if self.now() - last > 48 * 3600:
            return _err(45015, "response out of time limit or subscription is canceled")
        text = (body.get("text") or {}).get("content", "")
        self.ledger.custom_messages.append({"touser": openid, "content": text})
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    # -- callbacks to the bot ----------------------------------------------------------------
    async def push_follower_message(self, openid: str, text: str) -> CallbackResult:
        """A follower writes to the account: opens the 48-hour window and calls the bot back."""
        self.last_message[openid] = self.now()
        fields = {"FromUserName": openid, "MsgType": "text", "Content": text}
        fields["MsgId"] = str(next(self._ids) + 23_000_000_000)
        return await self.push_callback(fields)

    async def push_subscribe(self, openid: str) -> CallbackResult:
        self.last_message[openid] = self.now()
        return await self.push_event("subscribe", {}, openid)

    async def push_event(
        self, event: str, extra: dict[str, Any], openid: str = "o_sandbox_admin"
    ) -> CallbackResult:
        fields: dict[str, Any] = {"FromUserName": openid, "MsgType": "event", "Event": event}
        fields.update(extra)
        return await self.push_callback(fields)

    async def push_callback(
        self,
        xml_fields: dict[str, Any],
        *,
        tries: int | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - per-try HTTP timeout, like WeChat's
    ) -> CallbackResult:
        """POST a message or event to the bot's callback URL as WeChat does: signed query,
        an encrypted body in safe mode (both forms in compatible mode); retried when no answer
        comes within the timeout (3 tries, 5 s unless configured)."""
        cb = self.callback
        fields = {"ToUserName": cb.username, "CreateTime": int(self.now()), **xml_fields}
        plain = xmltodict.unparse({"xml": fields}, full_document=False)
        timestamp, nonce = str(int(self.now())), secrets.token_hex(8)
        query = {"signature": sign(cb.token, timestamp, nonce), "timestamp": timestamp}
        query["nonce"] = nonce
        query["openid"] = str(fields.get("FromUserName", ""))
        body = plain
        if cb.mode in ("safe", "compatible"):
            crypto = WeChatCrypto(cb.token, cb.aes_key, cb.app_id)
            wrapped = xmltodict.parse(crypto.encrypt_message(plain, nonce, timestamp))["xml"]
            query.update(encrypt_type="aes", msg_signature=wrapped["MsgSignature"])
            extra = {"ToUserName": cb.username, "Encrypt": wrapped["Encrypt"]}
            if cb.mode == "compatible":
                extra = {**fields, "Encrypt": wrapped["Encrypt"]}
            body = xmltodict.unparse({"xml": extra}, full_document=False)
        if self._session is None:
            self._session = aiohttp.ClientSession()
        status, text, attempts = 0, "", 0
        for attempt in range(1, (tries or cb.tries) + 1):
            attempts = attempt
            try:
                async with self._session.post(
                    cb.url,
                    params=query,
                    data=body.encode(),
                    headers={"Content-Type": "text/xml"},
                    timeout=aiohttp.ClientTimeout(total=timeout or cb.timeout),
                ) as resp:
                    status, text = resp.status, await resp.text()
                if status == 200:
                    break
            except (TimeoutError, aiohttp.ClientError):
                status, text = 0, ""
        result = CallbackResult(status, text, attempts)
        self.ledger.callbacks.append({"fields": fields, "status": status, "attempts": attempts})
        return result

    async def _cleanup(self, app: web.Application) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop pending publish jobs and callbacks; close the callback client."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None


SIMULATOR = web.AppKey("wechat_simulator", WechatSimulator)


def sign(token: str, timestamp: str, nonce: str) -> str:
    """WeChat's callback signature: sha1 of the sorted token, timestamp and nonce."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()


def _err(code: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"errcode": code, "errmsg": f"{message} rid: sandbox", **extra})


def _news(articles: list[dict[str, Any]], no_content: bool) -> list[dict[str, Any]]:
    keys = ("title", "author", "digest", "content", "content_source_url", "thumb_media_id")
    out = []
    for article in articles:
        entry = {k: article.get(k, "") for k in keys}
        if no_content:
            entry["content"] = ""
        out.append(entry)
    return out


async def start_simulator(
    host: str = "127.0.0.1", port: int = 0, **opts: Any
) -> tuple[web.AppRunner, WechatSimulator]:
    """The simulator served on host:port (0: any free port; see simulator_url)."""
    sim = WechatSimulator(**opts)
    return await serve(sim.app, host, port), sim


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8092)
    parser.add_argument("--app-id", default="wx-sandbox")
    parser.add_argument("--app-secret", default="sandbox-secret")
    parser.add_argument("--callback-url", default="")
    parser.add_argument("--callback-token", default="sandbox-token")
    parser.add_argument("--aes-key", default=Callback.aes_key)
    parser.add_argument("--mode", default="safe", choices=["plain", "compatible", "safe"])
    args = parser.parse_args()
    callback = Callback(
        args.callback_url, args.callback_token, args.aes_key, args.app_id, args.mode
    )
    sim = WechatSimulator(args.app_id, args.app_secret, callback)
    web.run_app(sim.app, host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
