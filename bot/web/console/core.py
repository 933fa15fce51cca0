"""The console's frame: its state on the app object, the route table with a role check on
every route, the per-request context handlers get, page rendering (Jinja2, autoescaped) and
pagination.

A handler is declared once as a Route(method, path, handler, roles): the wrapper loads the
logged-in user, refuses anyone without one of the roles (admin passes every check but the
auditor's), and adds the security headers every console page carries. An auditor-only user
asking for the home page is sent to the audit log instead.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web
from aiohttp_session import get_session
from multidict import MultiDictProxy

from bot.actors import Actor
from bot.config import Config
from bot.errors import GongkaiError, Refusal
from bot.items.render import TEMPLATES, Renderer
from bot.models import ROLE_LABELS, Role, User
from bot.web.console.auth import ConsoleState, actor_of, csrf_token, session_user
from bot.web.console.labels import device
from bot.web.http_errors import allowed_methods, kept_headers, own_text, size_text
from bot.web.inputs import read_form
from bot.web.keys import CONFIG, CONSOLE, CONSOLE_USER, RENDERER, SCOPES

PREFIX = "/console"
HOME = f"{PREFIX}/"
AUDIT_PAGE = f"{PREFIX}/audit"
# Where a user whose password was set by someone else must go first (bot/web/console/account.py)
PASSWORD_PAGE = f"{PREFIX}/password"
LOGOUT = f"{PREFIX}/logout"
STATIC = Path(__file__).resolve().parents[3] / "static" / "console"
# Every role but the auditor's, who reads the audit log and nothing else (三员分立).
ALL_STAFF = (Role.EDITOR, Role.REVIEWER, Role.MODERATOR, Role.ADMIN)
MODERATOR = (Role.MODERATOR,)
FLASH = "flash"
# Session key: the local copies of typed text (static/console/drafts.js) the server now has.
DRAFTS_SAVED = "drafts_saved"
DRAFT_FIELD = "_draft"
SECURITY_HEADERS = {
    # Item previews may show images from anywhere; scripts and styles only from the console.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: http: https:; "
    "script-src 'self'; style-src 'self'; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

log = logging.getLogger(__name__)


def make_env(tz: ZoneInfo) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every value is escaped unless a view marks it safe on purpose
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )

    def local(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        if value is None:
            return ""
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(tz).strftime(fmt)

    env.filters["local"] = local
    env.filters["device"] = device  # a session's User-Agent in words
    return env


@dataclass
class Ctx:
    """One console request: who is asking, and helpers to answer."""

    request: web.Request
    user: User
    actor: Actor
    state: ConsoleState
    csrf: str

    @property
    def config(self) -> Config:
        return self.request.app[CONFIG]

    @property
    def renderer(self) -> Renderer:
        return self.request.app[RENDERER]

    def has(self, *roles: Role) -> bool:
        return self.actor.has(*roles)

    def int_param(self, name: str) -> int:
        raw = self.request.match_info[name]
        if not raw.isdigit() or len(raw) > 9:
            raise web.HTTPNotFound()
        return int(raw)

    async def form(self) -> MultiDictProxy[Any]:
        return await read_form(self.request)

    async def flash(self, kind: str, text: str) -> None:
        session = await get_session(self.request)
        session[FLASH] = [*session.get(FLASH, []), [kind, text]]

    async def draft_saved(self, form: MultiDictProxy[Any]) -> None:
        """The text of `form` is stored: the next page tells the browser to drop its local
        copy (the form's _draft field names it; static/console/drafts.js)."""
        name = form.get(DRAFT_FIELD, "")
        if isinstance(name, str) and 0 < len(name) <= 200 and " " not in name:
            session = await get_session(self.request)
            session[DRAFTS_SAVED] = [*session.get(DRAFTS_SAVED, [])[-9:], name]

    async def render(self, name: str, http_status: int = 200, **context: Any) -> web.Response:
        session = await get_session(self.request)
        flashes = session.pop(FLASH, [])
        context.setdefault("saved_drafts", " ".join(session.pop(DRAFTS_SAVED, [])))
        html = self.state.env.get_template(name).render(
            app_name=self.config.app.name,
            user=self.user,
            roles=[
                ROLE_LABELS.get(Role(r), r) for r in self.user.roles if r in Role._value2member_map_
            ],
            can=self.has,
            Role=Role,
            csrf=self.csrf,
            flashes=flashes,
            path=self.request.path,
            **context,
        )
        return web.Response(
            text=html, status=http_status, content_type="text/html", charset="utf-8"
        )

    def redirect(self, location: str) -> web.HTTPSeeOther:
        return web.HTTPSeeOther(location)


Handler = Callable[[Ctx], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    roles: Sequence[Role] = ALL_STAFF


@dataclass
class Pager:
    """Page numbers of a list and links that keep the other query parameters."""

    page: int
    size: int
    total: int
    query: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_request(cls, request: web.Request, size: int, total: int) -> Pager:
        raw = request.query.get("page", "1")
        page = int(raw) if raw.isdigit() and len(raw) < 7 else 1
        pages = max(1, math.ceil(total / size))
        query = {k: v for k, v in request.query.items() if k != "page" and v}
        return cls(min(max(page, 1), pages), size, total, query)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size))

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    def url(self, page: int) -> str:
        return "?" + urlencode({**self.query, "page": str(page)})


def safe_next(value: str | None) -> str:
    """Only a console path may be a redirect target (no open redirect to another site)."""
    if value and value.startswith(PREFIX) and not value.startswith("//") and "\\" not in value:
        return value
    return PREFIX + "/"


def with_headers(response: web.StreamResponse) -> web.StreamResponse:
    for key, value in SECURITY_HEADERS.items():
        response.headers.setdefault(key, value)
    return response


# (heading, message) of each status a console page answers with; a handler's own Chinese
# text replaces the message.
ERRORS: dict[int, tuple[str, str]] = {
    400: ("请求有误", "提交的内容无法处理，请返回上一页检查后重试。"),
    401: ("请先登录", "登录已过期或尚未登录，请重新登录。"),
    403: ("无法完成操作", "您没有进行此操作的权限。"),
    404: ("未找到", "页面或条目不存在。"),
    405: ("请求方式不受支持", "此网址不能这样访问，请通过工作台页面上的链接或按钮操作。"),
    409: ("操作冲突", "内容已被他人修改，请刷新页面后重试。"),
    413: ("提交的内容过大", "提交的内容超过了允许的大小。"),
    422: ("内容有误", "提交的内容有误，请返回上一页修改。"),
    429: ("操作过于频繁", "操作过于频繁，请稍后再试。"),
    500: ("服务器内部错误", "服务器处理请求时出错，已记录日志，请稍后重试或联系系统管理员。"),
    503: ("服务暂不可用", "服务暂时不可用，请稍后重试。"),
}
# Typed text the browser keeps (static/console/drafts.js): said on the pages of a failed save.
KEPT_TEXT = "如浏览器启用了脚本，您输入的内容已保存在本机，返回编辑页面即可恢复。"


def _way_back(request: web.Request) -> str | None:
    """The console page the browser came from (its Referer, when it is one of ours)."""
    referer = request.headers.get("Referer", "")
    origin = f"{request.scheme}://{request.host}"
    if not referer.startswith(origin + PREFIX):
        return None
    back = referer[len(origin) :]
    return back if safe_next(back) == back and back != request.path_qs else None


async def error_page(
    request: web.Request,
    status: int,
    message: str = "",
    user: User | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """The console's Chinese page of `status`: its header (the user's menu when one is known),
    the message, and the way back (the page the browser came from, the user's first page)."""
    state = request.app[CONSOLE]
    user = user or request.get(CONSOLE_USER)
    heading, default = ERRORS.get(status, ERRORS[500 if status >= 500 else 400])
    actor = (
        actor_of(user, separate_duties=request.app[CONFIG].staff.separate_duties)
        if user is not None
        else None
    )
    html = state.env.get_template("console/error.html").render(
        app_name=request.app[CONFIG].app.name,
        user=user,
        roles=[],
        can=actor.has if actor is not None and user and not user.must_change_password else _nothing,
        Role=Role,
        csrf=await csrf_token(request) if user is not None else "",
        flashes=[],
        path=request.path,
        status=status,
        heading=heading,
        message=message or default,
        back=_way_back(request),
        home=landing(actor) if actor is not None else f"{PREFIX}/login",
    )
    response = web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
    if headers:
        response.headers.update(headers)
    with_headers(response)
    return response


def _nothing(*roles: Role) -> bool:
    return False


@web.middleware
async def guard(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """The console's outermost middleware: an HTTPException of 400 and above (a body too large,
    a form that cannot be parsed, a method a path does not take) becomes the console's page of
    its status, any other exception is logged with its traceback and becomes the 500 page.
    Redirects pass through."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = own_text(exc)
        if exc.status == 413 and not message:
            limit = size_text(request.app[CONFIG].web.max_body_bytes)
            message = f"提交的内容超过了允许的大小（最多 {limit}），未能保存。{KEPT_TEXT}"
        return await error_page(request, exc.status, message, headers=kept_headers(exc))
    except Exception:
        log.exception("console request failed: %s %s", request.method, request.path)
        return await error_page(request, 500)


async def _not_found(ctx: Ctx) -> web.StreamResponse:
    raise web.HTTPNotFound()


def unmatched(app: web.Application) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The console's last route: a path under /console no other route took is the console's
    405 page when other methods are taken there (with Allow; before the session and CSRF
    checks, which a wrong method never needs), else its 404 page for the logged-in user (a
    stranger is asked to log in first, as on any console page)."""
    not_found = app[SCOPES].wrap(PREFIX, wrap(Route("*", "", _not_found, ())))

    async def handler(request: web.Request) -> web.StreamResponse:
        allowed = await allowed_methods(request)
        if allowed:
            return await error_page(request, 405, headers={"Allow": ",".join(sorted(allowed))})
        return await not_found(request)

    return handler


def landing(actor: Actor) -> str:
    """Where a role starts when the login asked for no page: a moderator in the inbox, an
    auditor in the audit log, everyone else (editors, reviewers, admins) in the queue."""
    if actor.has(Role.EDITOR, Role.REVIEWER):
        return HOME
    if actor.has(Role.MODERATOR):
        return f"{PREFIX}/inbox"
    if actor.has(Role.AUDITOR):
        return AUDIT_PAGE
    return HOME


def _see_other(location: str) -> web.HTTPSeeOther:
    redirect = web.HTTPSeeOther(location)
    with_headers(redirect)
    return redirect


def wrap(route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Authenticate, check the route's roles, run the handler; Gongkai's errors become pages."""

    async def handler(request: web.Request) -> web.StreamResponse:
        state = request.app[CONSOLE]
        user = await session_user(request, state)
        if user is None:
            if request.method == "GET":
                query = urlencode({"next": request.path_qs})
                raise _see_other(f"{PREFIX}/login?{query}")
            return await error_page(request, 401, f"登录已过期或尚未登录，请重新登录。{KEPT_TEXT}")
        if user.must_change_password and request.path not in (PASSWORD_PAGE, LOGOUT):
            if request.method == "GET":
                query = urlencode({"next": request.path_qs})
                raise _see_other(f"{PASSWORD_PAGE}?{query}")
            message = "您的密码由管理员设置，须先修改密码才能继续操作。"
            return await error_page(request, 403, message, user)
        request[CONSOLE_USER] = user
        actor = actor_of(user, separate_duties=request.app[CONFIG].staff.separate_duties)
        ctx = Ctx(request, user, actor, state, await csrf_token(request))
        try:
            if route.roles:
                if request.path == HOME and actor.has(Role.AUDITOR) and not actor.has(*route.roles):
                    # An auditor's console is the audit log (三员分立): home is there.
                    raise web.HTTPSeeOther(AUDIT_PAGE)
                actor.require(*route.roles, doing="此页面或操作")
            response = await route.handler(ctx)
        except web.HTTPException as exc:
            for key, value in SECURITY_HEADERS.items():
                exc.headers.setdefault(key, value)
            raise  # a redirect; an error becomes its page in guard()
        except Refusal as exc:
            return await error_page(request, exc.status_code, str(exc), user)
        except GongkaiError:  # Unavailable: for the operator, in the log
            log.exception("console request failed: %s %s", request.method, request.path)
            message = "服务暂不可用，已记录日志，请联系系统管理员。"
            return await error_page(request, 500, message, user)
        return with_headers(response)

    handler.__name__ = getattr(route.handler, "__name__", "console")
    return handler


def register(app: web.Application, routes: Sequence[Route]) -> None:
    """Add the routes, each behind the console's session and CSRF check (bot/web/scopes.py)."""
    for route in routes:
        app.router.add_route(route.method, route.path, app[SCOPES].wrap(PREFIX, wrap(route)))
