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
from bot.web.inputs import read_form
from bot.web.keys import CONFIG, CONSOLE, RENDERER, SCOPES

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

    async def render(self, name: str, http_status: int = 200, **context: Any) -> web.Response:
        session = await get_session(self.request)
        flashes = session.pop(FLASH, [])
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


async def error_page(
    request: web.Request, status: int, message: str, user: User | None = None
) -> web.Response:
    state = request.app[CONSOLE]
    html = state.env.get_template("console/error.html").render(
        app_name=request.app[CONFIG].app.name,
        user=user,
        roles=[],
        can=lambda *roles: False,
        Role=Role,
        csrf="",
        flashes=[],
        path=request.path,
        status=status,
        message=message,
    )
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


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
            return with_headers(
                await error_page(request, 401, "登录已过期或尚未登录，请重新登录。")
            )
        if user.must_change_password and request.path not in (PASSWORD_PAGE, LOGOUT):
            if request.method == "GET":
                query = urlencode({"next": request.path_qs})
                raise _see_other(f"{PASSWORD_PAGE}?{query}")
            message = "您的密码由管理员设置，须先修改密码才能继续操作。"
            return with_headers(await error_page(request, 403, message, user))
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
            if exc.status == 404:
                return with_headers(await error_page(request, 404, "页面或条目不存在。", user))
            for key, value in SECURITY_HEADERS.items():
                exc.headers.setdefault(key, value)
            raise
        except Refusal as exc:
            return with_headers(await error_page(request, exc.status_code, str(exc), user))
        except GongkaiError:  # Unavailable: for the operator, in the log
            log.exception("console request failed: %s %s", request.method, request.path)
            message = "服务暂不可用，已记录日志，请联系系统管理员。"
            return with_headers(await error_page(request, 500, message, user))
        return with_headers(response)

    handler.__name__ = getattr(route.handler, "__name__", "console")
    return handler


def register(app: web.Application, routes: Sequence[Route]) -> None:
    """Add the routes, each behind the console's session and CSRF check (bot/web/scopes.py)."""
    for route in routes:
        app.router.add_route(route.method, route.path, app[SCOPES].wrap(PREFIX, wrap(route)))
