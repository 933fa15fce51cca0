"""A local WeChat Official Account API for tests and the sandbox: stable_token, uploadimg,
material/* (add, del, count), draft/*, freepublish/*, message/mass/sendall and delete,
message/mass/preview (wechat_preview.py), comment/* (wechat_comments.py), datacube/*
(wechat_datacube.py), menu/create and menu/get (wechat_menu.py),
message/custom/send, with WeChat's JSON shapes and errcodes, daily quotas and time rules on a
clock tests can set, fault injection, a ledger of what was published, and signed (safe mode:
encrypted) callbacks pushed to the bot like WeChat does (wechat_callback.py), retried when the
bot is slow. The contract it follows is docs/channels/wechat.md; rules cite its sources.

Run alone: python -m channels.sandbox.wechat --port 8092 --callback-url http://127.0.0.1:8080/wechat/callback
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import secrets
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web

from channels.sandbox import serve, wechat_menu
from channels.sandbox import wechat_publishing as publishing
from channels.sandbox.pages import article_page, gone_page
from channels.sandbox.wechat_callback import Callback, CallbackResult, post_callback, sign
from channels.sandbox.wechat_comments import CommentDesk
from channels.sandbox.wechat_datacube import Datacube
from channels.sandbox.wechat_preview import preview
from channels.sandbox.wechat_state import DraftLimits, Faults, Ledger, Quotas, error

__all__ = [
    "SIMULATOR",
    "Callback",
    "CallbackResult",
    "DraftLimits",
    "Faults",
    "Ledger",
    "Quotas",
    "WechatSimulator",
    "sign",
]

BEIJING = ZoneInfo("Asia/Shanghai")
TOKEN_TTL = 7200
# docs/channels/wechat.md "Frequency rules" (S1 S3: stable_token force_refresh): 20 a day and
# at least 30 s apart ("否则不会刷新").
FORCE_REFRESH_SPACING = 30
# docs/channels/wechat.md "Frequency rules" (S25: 群发接口 clientmsgid): WeChat remembers a
# clientmsgid for 24 h; the same one again within a minute is 45066.
CLIENTMSGID_MEMORY, CLIENTMSGID_RETRY_AFTER = 24 * 3600, 60
# docs/channels/wechat.md "Endpoints" (S8 get_materialcount, S12 draft/count, S52 menu/get):
# these are GET; every other endpoint used is POST. The wrong method is refused with the global
# table's 43001 需要 GET 请求 / 43002 需要 POST 请求 [S40] (stable_token's page lists 43002 [S1]).
GET_ENDPOINTS = frozenset({"draft/count", "material/get_materialcount", "menu/get"})


class WechatSimulator:
    def __init__(
        self,
        app_id: str = "wx-sandbox",
        app_secret: str = "sandbox-secret",
        callback: Callback | None = None,
        publish_delay: float = 0.0,
        seed: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app_id, self.app_secret = app_id, app_secret
        self.callback = callback or Callback(app_id=app_id)
        self.publish_delay = publish_delay
        self.next_publish_status: list[int] = []  # outcomes of the next publish jobs (0 = ok)
        self.ledger, self.faults, self.quotas = Ledger(), Faults(), Quotas()
        self.draft_limits = DraftLimits()
        self.clock = clock  # epoch seconds; tests may pass their own
        self.offset = 0.0  # seconds the simulated clock is ahead of `clock`
        self.tokens: dict[str, float] = {}  # valid token: expiry (simulated epoch seconds)
        self.last_message: dict[str, float] = {}  # openid: time of the follower's last message
        self.followers: dict[str, str] = {}  # openid: the follower's WeChat id ("" if unknown)
        self.datacube = Datacube()  # the figures datacube/* answers; tests seed them
        self.menu: list[dict[str, Any]] | None = None  # the live 自定义菜单 (menu/create)
        self.comments = CommentDesk(self.ledger.copies, self.ledger.comments)
        self.comments_closed = self.comments.closed  # "msg_data_id:index" with comments closed
        self.last_force: float | None = None  # when the last force refresh was done
        self.clientmsgids: dict[str, dict[str, Any]] = {}  # clientmsgid: {msg_id, at}
        self._ids = itertools.count(1)
        self._random = random.Random(seed)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._session: aiohttp.ClientSession | None = None
        self.app = web.Application(client_max_size=20 * 1024 * 1024)
        self.app[SIMULATOR] = self
        self.app.router.add_route("*", "/cgi-bin/{endpoint:.+}", self._handle)
        # [S50][S51]: the statistics live under /datacube/, not /cgi-bin/.
        self.app.router.add_route("*", "/{endpoint:datacube/.+}", self._handle)
        self.app.router.add_get("/s/{name}", self._article_page)
        self.app.on_cleanup.append(self._cleanup)

    # -- clock and test controls ---------------------------------------------------------
    def now(self) -> float:
        """The simulated time (epoch seconds): every time rule and quota runs on it."""
        return self.clock() + self.offset

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

    def add_comment(self, msg_data_id: int | str, openid: str, content: str, index: int = 0) -> int:
        """A follower comments on article `index` (0-based) of the 图文 copy msg_data_id: a 群发
        (mass_sends[n]["msg_data_id"]) or a 发表 (msg_data_id_of(article_id)). Its
        user_comment_id; ValueError for an id WeChat would answer 88001 to (an article_id)."""
        return self.comments.add(msg_data_id, openid, content, index, self.now())

    def remove_comment(self, msg_data_id: int | str, user_comment_id: int, index: int = 0) -> None:
        """The follower deletes their comment: the ones after it move up a place."""
        self.comments.remove(msg_data_id, user_comment_id, index)

    def msg_data_id_of(self, article_id: str) -> int:
        """The msg_data_id of the 发表 copy whose freepublish article_id this is."""
        return self.comments.copy_of("publish", article_id)

    def follow(self, openid: str, wxname: str = "") -> None:
        """A follower of the account (whom message/mass/preview may reach)."""
        self.followers[openid] = wxname

    def close_comments(self, msg_data_id: int, index: int = 0) -> None:
        self.comments.closed.add(f"{msg_data_id}:{index}")

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
        if endpoint.startswith("comment/"):
            handler = self._comment
        elif endpoint.startswith("datacube/"):
            handler = self._datacube
        if handler is None:
            return _err(-1, f"unknown api {endpoint}")  # what WeChat says for bad paths
        wanted = "GET" if endpoint in GET_ENDPOINTS else "POST"
        if request.method != wanted:
            return _err(43001 if wanted == "GET" else 43002, f"require {wanted} method")
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
            # docs/channels/wechat.md "Frequency rules" (S1 S3: stable_token force_refresh):
            # at least 30 s apart, "否则不会刷新". Which errcode that gets is unconfirmed; the
            # page's closest is 45011 ("API 调用太频繁，请稍候再试"), used here.
            if self.last_force is not None and now - self.last_force < FORCE_REFRESH_SPACING:
                self.ledger.force_refused += 1
                return _err(45011, "api minute-quota reach limit mustslower retry next minute")
            # 20 a day; the errcode after the 20th is unconfirmed, the page lists 45009 [S1].
            if not self._quota("stable_token.force"):
                return _err(45009, "reach max api daily quota limit")
            self.last_force = now
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
        return _json(publishing.upload_image(self.ledger, *got, self._id("img")))

    async def _material_add_material(self, request: web.Request) -> web.Response:
        kind = request.query.get("type", "")
        got = await self._upload(request)
        if isinstance(got, web.Response):
            return got
        media_id = self._id("mat")
        return _json(publishing.add_material(self.ledger, self.quotas, kind, *got, media_id))

    async def _material_del_material(self, request: web.Request) -> web.Response:
        return _json(publishing.del_material(self.ledger, await _body(request)))

    async def _material_get_materialcount(self, request: web.Request) -> web.Response:
        return _json(publishing.material_count(self.ledger))

    async def _draft_add(self, request: web.Request) -> web.Response:
        body = await _body(request)
        answer = publishing.draft_add(
            self.ledger, self.draft_limits, body, self._id("draft"), self.now()
        )
        return _json(answer)

    async def _draft_count(self, request: web.Request) -> web.Response:
        return _json(publishing.draft_count(self.ledger))

    async def _draft_batchget(self, request: web.Request) -> web.Response:
        return _json(publishing.draft_batchget(self.ledger, await request.json()))

    async def _freepublish_submit(self, request: web.Request) -> web.Response:
        media_id = (await request.json()).get("media_id", "")
        draft = self.ledger.drafts.get(media_id)
        if draft is None or draft["consumed"]:
            return _err(40007, "invalid media_id")
        if not self._quota("freepublish/submit"):
            return _err(45009, "reach max api daily quota limit")
        draft["consumed"] = True
        publish_id = str(next(self._ids) + 2_247_000_000)
        msg_data_id = next(self._ids) + 2_455_000_000
        self.ledger.publications[publish_id] = {
            "media_id": media_id,
            "status": 1,
            "article_id": "",
            "msg_data_id": msg_data_id,
            "articles": draft["articles"],
            "fail_idx": [],
            "origin": f"{request.scheme}://{request.host}",  # where article_url points
        }
        task = asyncio.create_task(self._finish_publish(publish_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        # docs/channels/wechat.md "Endpoints" (S16: freepublish/submit): publish_id and
        # msg_data_id, both typed string. Whether comment/* take this msg_data_id is unconfirmed
        # (Q1); here they do, once the publication has succeeded.
        answer = {"errcode": 0, "errmsg": "ok", "publish_id": publish_id}
        return web.json_response({**answer, "msg_data_id": str(msg_data_id)})

    async def _finish_publish(self, publish_id: str) -> None:
        if self.publish_delay:
            await asyncio.sleep(self.publish_delay)
        pub = self.ledger.publications[publish_id]
        status = self.next_publish_status.pop(0) if self.next_publish_status else 0
        pub["status"] = status
        info: dict[str, Any] = {"publish_id": publish_id, "publish_status": status}
        if status == 0:
            article_id = self._id("art")
            # docs/channels/wechat.md "Endpoints" (S17: article_detail.item.article_url): the
            # address followers read the article at. WeChat's are https://mp.weixin.qq.com/s/…;
            # the simulator's are its own /s/… (_article_page), so the console's 查看 opens.
            urls = [f"{pub['origin']}/s/{article_id}_{i}" for i in range(len(pub["articles"]))]
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
            self.comments.add_copy(pub["msg_data_id"], "publish", len(urls), article_id)
        elif status in (2, 4):
            # docs/channels/wechat.md "Identifiers and index bases" (S18: fail_idx): 1-based,
            # set only for statuses 2 and 4.
            pub["fail_idx"] = [1]
            info["fail_idx"] = [1]
        if self.callback.url:
            await self.push_event("PUBLISHJOBFINISH", {"PublishEventInfo": info})

    async def _freepublish_get(self, request: web.Request) -> web.Response:
        body = await request.json()
        quota = lambda: self._quota("freepublish/get")  # noqa: E731 - spent only if it exists
        return _json(publishing.freepublish_get(self.ledger, body, quota))

    async def _freepublish_batchget(self, request: web.Request) -> web.Response:
        return _json(publishing.freepublish_batchget(self.ledger, await request.json()))

    async def _freepublish_delete(self, request: web.Request) -> web.Response:
        body = await request.json()
        return _json(publishing.freepublish_delete(self.ledger, self.comments, body))

    async def _message_mass_delete(self, request: web.Request) -> web.Response:
        body = await _body(request)
        return _json(publishing.mass_delete(self.ledger, self.comments, body))

    async def _message_mass_sendall(self, request: web.Request) -> web.Response:
        body = await request.json()
        client_id = str(body.get("clientmsgid", ""))
        now = self.now()
        earlier = self.clientmsgids.get(client_id) if client_id else None
        if earlier is not None and now - earlier["sent_at"] < CLIENTMSGID_MEMORY:
            # docs/channels/wechat.md "Frequency rules" (S25: 群发接口 clientmsgid): the same
            # clientmsgid again within a minute is 45066 ("重试速度过快，请间隔1分钟重试"; the
            # minute is counted from the last request carrying it, which is our reading);
            # later it is 45065, and the answer carries the earlier send's msg_id.
            last, earlier["tried_at"] = earlier["tried_at"], now
            if now - last < CLIENTMSGID_RETRY_AFTER:
                return _err(45066, "clientmsgid retry too fast")
            return _err(45065, "clientmsgid exist", msg_id=earlier["msg_id"])
        media_id = (body.get("mpnews") or {}).get("media_id", "")
        draft = self.ledger.drafts.get(media_id)
        if body.get("msgtype") != "mpnews" or draft is None:
            return _err(40007, "invalid media_id")
        if not (body.get("filter") or {}).get("is_to_all"):
            return _err(40050, "invalid tag id")  # the bot always sends to all followers
        if not self._quota("message/mass/sendall"):
            return _err(45028, "has no masssend quota")
        # docs/channels/wechat.md "Endpoints" (S38 live answer): msg_id and msg_data_id are
        # JSON numbers; the msg_data_id is what comment/* take (Q1, S32 S37).
        msg_id = next(self._ids) + 3_147_000_000
        msg_data_id = next(self._ids) + 2_455_800_000
        self.ledger.mass_sends.append(
            {
                "msg_id": msg_id,
                "msg_data_id": msg_data_id,
                "media_id": media_id,
                "clientmsgid": client_id,
                "titles": [a["title"] for a in draft["articles"]],
                "day": self.today().isoformat(),
            }
        )
        if client_id:
            self.clientmsgids[client_id] = {"msg_id": msg_id, "sent_at": now, "tried_at": now}
        self.comments.add_copy(msg_data_id, "mass", len(draft["articles"]), str(msg_id))
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
                "msg_data_id": msg_data_id,
            }
        )

    async def _message_mass_preview(self, request: web.Request) -> web.Response:
        body = await _body(request)
        quota = lambda: self._quota("message/mass/preview.towxname")  # noqa: E731
        msg_id = next(self._ids) + 3_148_000_000
        answer = preview(self.ledger, body, self.followers, quota, msg_id, self.today().isoformat())
        return _json(answer)

    async def _menu_create(self, request: web.Request) -> web.Response:
        answer, menu = wechat_menu.create(await _body(request))
        if menu is not None:
            self.menu = menu
            self.ledger.menus.append(menu)
        return _json(answer)

    async def _menu_get(self, request: web.Request) -> web.Response:
        return _json(wechat_menu.get(self.menu))

    async def _datacube(self, request: web.Request) -> web.Response:
        endpoint = request.match_info["endpoint"]
        answer = self.datacube.answer(endpoint, await _body(request), self.today())
        if answer is None:
            return _err(-1, f"unknown api {endpoint}")
        return web.json_response(answer)

    async def _comment(self, request: web.Request) -> web.Response:
        endpoint = request.match_info["endpoint"]
        answer = self.comments.answer(endpoint, await request.json(), self.now())
        if answer is None:
            return _err(-1, f"unknown api {endpoint}")
        return web.json_response(answer)

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

    # -- what followers see ------------------------------------------------------------------
    async def _article_page(self, request: web.Request) -> web.Response:
        """An article_url of a publication (`/s/{article_id}_{i}`, i 0-based): the article as
        sent to draft/add. docs/channels/wechat.md "Endpoints" (S21: freepublish/delete): a
        deleted article is no longer shown; WeChat says 该内容已被发布者删除."""
        article_id, _, index = request.match_info["name"].rpartition("_")
        rec = self.ledger.articles.get(article_id)
        if rec is None or not index.isdigit() or int(index) >= len(rec["articles"]):
            raise web.HTTPNotFound(text="文章不存在", content_type="text/plain")
        if rec["deleted"] or (article_id, int(index) + 1) in self.ledger.deleted:
            return gone_page("微信公众号", "该内容已被发布者删除")
        return article_page(rec["articles"][int(index)], rec["update_time"])

    # -- callbacks to the bot ----------------------------------------------------------------
    async def push_follower_message(self, openid: str, text: str) -> CallbackResult:
        """A follower writes to the account: opens the 48-hour window and calls the bot back."""
        self.last_message[openid] = self.now()
        fields = {"FromUserName": openid, "MsgType": "text", "Content": text}
        fields["MsgId"] = str(next(self._ids) + 23_000_000_000)
        return await self.push_callback(fields)

    async def push_subscribe(self, openid: str) -> CallbackResult:
        self.last_message[openid] = self.now()
        self.followers.setdefault(openid, "")
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
        if self._session is None:
            self._session = aiohttp.ClientSession()
        result = await post_callback(self._session, cb, fields, self.now(), tries, timeout)
        self.ledger.callbacks.append(
            {"fields": fields, "status": result.status, "attempts": result.attempts}
        )
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


def _err(code: int, message: str, **extra: Any) -> web.Response:
    return web.json_response(error(code, message, **extra))


def _json(answer: dict[str, Any]) -> web.Response:
    return web.json_response(answer)


async def _body(request: web.Request) -> dict[str, Any]:
    """The JSON object a POST carries; {} for anything else (its fields then fail the checks)."""
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


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
