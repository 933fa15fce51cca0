"""The staff console's security over a real aiohttp server on 127.0.0.1 and a real SQLite
database: login, session cookie attributes, CSRF, role checks on every route, disabled users
and password resets ending sessions. The login throttle is test_login_throttle.py, sessions
held on the server (expiry, logout, revocation, several processes) test_sessions.py.

The helpers at the top (console_config, login, csrf_of) are shared with test_console_pages.py.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot import db, users
from bot.config import Config, parse_config
from bot.items import lifecycle
from bot.items.schemas import ItemCreate
from bot.models import AuditEvent, Item
from bot.web.app import create_app
from bot.web.console.frame import COOKIE
from tests.conftest import POLICY, Staff, add_test_user, create_staff

Client = TestClient[web.Request, web.Application]
SESSION_KEY = "test-console-session-key-0123456789"
ENVIRON = {
    "GONGKAI_WEBHOOK_SECRET": "test-secret",
    "GONGKAI_AUTHOR_KEY": "test-author-key",
    "GONGKAI_SESSION_KEY": SESSION_KEY,
}
_CSRF = re.compile(r'name="_csrf" value="([^"]+)"')


def console_config(db_url: str, **sections: Any) -> Config:
    data: dict[str, Any] = {"database": {"url": db_url}, "review": {"check_links": False}}
    data.update(sections)
    return parse_config(data, "test", environ=ENVIRON)


@contextlib.asynccontextmanager
async def console_db(sqlite_url: str) -> AsyncIterator[Config]:
    """A migrated SQLite database (conftest's sqlite_url) for the console's config, connected
    while open."""
    cfg = console_config(sqlite_url)
    await db.init(cfg, check_schema=False)
    await db.upgrade()
    try:
        yield cfg
    finally:
        await db.close()


async def console_staff() -> Staff:
    staff = await create_staff()
    await add_test_user("mod", ["moderator"], "Pw-mike-2026", "system:test")
    return staff


async def client_for(config: Config) -> Client:
    cclient = TestClient(TestServer(create_app(config), host="127.0.0.1"))
    await cclient.start_server()
    return cclient


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "page has no CSRF field"
    return match.group(1)


async def login(cclient: Client, username: str, password: str) -> str:
    """Log in through the form; returns the CSRF token of the new session."""
    page = await cclient.get("/console/login")
    resp = await cclient.post(
        "/console/login",
        data={"username": username, "password": password, "_csrf": csrf_of(await page.text())},
        allow_redirects=False,
    )
    assert resp.status == 303, await resp.text()
    queue = await cclient.get("/console/")
    assert queue.status == 200
    return csrf_of(await queue.text())


async def in_review(config: Config, staff: Staff, **fields: Any) -> Item:
    data = {"kind": "notice", "title": "关于开展政务公开日活动的通知", "body": "活动安排如下。"}
    data.update(fields)
    item = await lifecycle.create_item(ItemCreate.model_validate(data), staff.editor, config)
    outcome = await lifecycle.submit(item.id, staff.editor, config)
    assert outcome.item.status == "in_review", outcome.item.return_reason
    return outcome.item


async def test_login_sets_an_httponly_samesite_session_cookie_scoped_to_the_console(
    cclient: Client,
) -> None:
    page = await cclient.get("/console/login")
    resp = await cclient.post(
        "/console/login",
        data={
            "username": "alice",
            "password": "Pw-alpha-2026",
            "_csrf": csrf_of(await page.text()),
        },
        allow_redirects=False,
    )
    assert resp.status == 303
    header = next(h for h in resp.headers.getall("Set-Cookie") if h.startswith(COOKIE + "="))
    attrs = {a.strip().split("=")[0].lower(): a for a in header.split(";")}
    assert "httponly" in attrs
    assert attrs["samesite"].split("=")[1].strip().lower() == "lax"
    assert attrs["path"].split("=")[1].strip() == "/console"
    assert "secure" not in attrs
    assert "alice" in await (await cclient.get("/console/")).text()
    assert await AuditEvent.filter(action="console.login", actor="user:alice").exists()


async def test_secure_cookies_setting_marks_the_cookie_secure(
    cconfig: Config, cstaff: Staff
) -> None:
    data = cconfig.model_dump()
    data["web"]["console"]["secure_cookies"] = True
    secure = parse_config(data, "test", environ=ENVIRON)
    c = await client_for(secure)
    try:
        # The login page already opens a session (for its CSRF token): its cookie is Secure,
        # so a browser sends it only over HTTPS.
        resp = await c.get("/console/login")
        header = next(h for h in resp.headers.getall("Set-Cookie") if h.startswith(COOKIE))
        assert "secure" in [a.strip().lower() for a in header.split(";")]
    finally:
        await c.close()


async def test_pages_redirect_to_login_without_a_session(cclient: Client) -> None:
    for path in ("/console/", "/console/deliveries", "/console/audit", "/console/items/new"):
        resp = await cclient.get(path, allow_redirects=False)
        assert resp.status == 303, path
        assert resp.headers["Location"].startswith("/console/login?next=")


async def test_wrong_password_and_unknown_user_are_refused_alike(cclient: Client) -> None:
    for username, password in (("alice", "wrong"), ("nobody", "Pw-alpha-2026")):
        page = await cclient.get("/console/login")
        resp = await cclient.post(
            "/console/login",
            data={"username": username, "password": password, "_csrf": csrf_of(await page.text())},
            allow_redirects=False,
        )
        assert resp.status == 401
        assert "用户名或密码错误" in await resp.text()
    assert (await cclient.get("/console/", allow_redirects=False)).status == 303


async def test_a_form_post_without_or_with_a_wrong_csrf_token_is_refused(
    cclient: Client, cconfig: Config, cstaff: Staff
) -> None:
    item = await in_review(cconfig, cstaff)
    await login(cclient, "bob", "Pw-bravo-2026")
    for data in ({}, {"_csrf": "forged"}):
        resp = await cclient.post(f"/console/items/{item.id}/approve", data=data)
        assert resp.status == 403
        assert "防伪令牌" in await resp.text()
    # The preview fetch is a POST too: the header is required.
    resp = await cclient.post("/console/preview", data={"body": "x"})
    assert resp.status == 403
    assert (await Item.get(id=item.id)).status == "in_review"


async def test_login_form_itself_needs_the_csrf_token(cclient: Client) -> None:
    resp = await cclient.post(
        "/console/login",
        data={"username": "alice", "password": "Pw-alpha-2026"},
        allow_redirects=False,
    )
    assert resp.status == 403


async def test_an_editor_cannot_approve_and_the_item_stays_in_review(
    cclient: Client, cconfig: Config, cstaff: Staff
) -> None:
    item = await in_review(cconfig, cstaff)
    token = await login(cclient, "alice", "Pw-alpha-2026")
    resp = await cclient.post(f"/console/items/{item.id}/approve", data={"_csrf": token})
    assert resp.status == 403
    assert "没有权限" in await resp.text()
    assert (await Item.get(id=item.id)).status == "in_review"
    resp = await cclient.get("/console/audit")
    assert resp.status == 403


async def test_a_moderator_cannot_write_approve_return_retract_or_retry(
    cclient: Client, cconfig: Config, cstaff: Staff
) -> None:
    item = await in_review(cconfig, cstaff)
    token = await login(cclient, "mod", "Pw-mike-2026")
    assert (await cclient.get("/console/")).status == 200  # may look at the queue
    page = await (await cclient.get(f"/console/items/{item.id}")).text()
    assert "批准发布" not in page and "退文理由" not in page
    for path, data in (
        (f"/console/items/{item.id}/approve", {}),
        (f"/console/items/{item.id}/return", {"reason": "x"}),
        (f"/console/items/{item.id}/retract", {"reason": "x"}),
        (f"/console/items/{item.id}/submit", {}),
        ("/console/items", {"kind": "notice", "title": "t"}),
        ("/console/deliveries/1/retry", {}),
    ):
        resp = await cclient.post(path, data={**data, "_csrf": token})
        assert resp.status == 403, path
    assert (await cclient.get("/console/items/new")).status == 403
    assert (await Item.get(id=item.id)).status == "in_review"
    assert await Item.all().count() == 1


async def test_a_disabled_users_session_stops_working(cclient: Client) -> None:
    await login(cclient, "alice", "Pw-alpha-2026")
    await users.disable_user("alice", "system:test")
    resp = await cclient.get("/console/", allow_redirects=False)
    assert resp.status == 303
    page = await cclient.get("/console/login")
    data = {"username": "alice", "password": "Pw-alpha-2026", "_csrf": csrf_of(await page.text())}
    assert (await cclient.post("/console/login", data=data)).status == 401


async def test_a_password_reset_ends_existing_sessions(cclient: Client) -> None:
    await login(cclient, "alice", "Pw-alpha-2026")
    await users.reset_password(
        "alice", "Pw-new-secret-2026", "system:test", policy=POLICY, must_change=False
    )
    assert (await cclient.get("/console/", allow_redirects=False)).status == 303


async def test_logout_ends_the_session(cclient: Client) -> None:
    token = await login(cclient, "alice", "Pw-alpha-2026")
    resp = await cclient.post("/console/logout", data={"_csrf": token}, allow_redirects=False)
    assert resp.status == 303
    assert (await cclient.get("/console/", allow_redirects=False)).status == 303


async def test_the_session_key_from_the_environment_serves_every_process(
    cconfig: Config, cstaff: Staff
) -> None:
    one, two = await client_for(cconfig), await client_for(cconfig)
    try:
        await login(one, "alice", "Pw-alpha-2026")
        cookie = next(c for c in one.session.cookie_jar if c.key == COOKIE)
        resp = await two.get(
            "/console/", headers={"Cookie": f"{COOKIE}={cookie.value}"}, allow_redirects=False
        )
        assert resp.status == 200
    finally:
        await one.close()
        await two.close()


async def test_console_pages_carry_security_headers(cclient: Client) -> None:
    await login(cclient, "alice", "Pw-alpha-2026")
    resp = await cclient.get("/console/")
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Cache-Control"] == "no-store"


async def test_the_rest_of_the_site_gets_no_console_session_or_csrf_check(
    cclient: Client,
) -> None:
    await login(cclient, "alice", "Pw-alpha-2026")
    resp = await cclient.get("/feeds/all.atom")
    assert resp.status == 200
    assert COOKIE not in resp.headers.get("Set-Cookie", "")
    # The JSON API keeps its own auth: a POST without a CSRF token gets 401, not the console 403.
    resp = await cclient.post("/api/v1/items", json={"kind": "notice", "title": "t"})
    assert resp.status == 401


async def test_each_role_lands_on_its_own_first_page(cclient: Client) -> None:
    for username, password, first in (
        ("mod", "Pw-mike-2026", "/console/inbox"),
        ("alice", "Pw-alpha-2026", "/console/"),
        ("bob", "Pw-bravo-2026", "/console/"),
        ("root", "Pw-romeo-2026", "/console/"),
    ):
        cclient.session.cookie_jar.clear()
        page = await cclient.get("/console/login")
        resp = await cclient.post(
            "/console/login",
            data={"username": username, "password": password, "_csrf": csrf_of(await page.text())},
            allow_redirects=False,
        )
        assert resp.headers["Location"] == first, username
    # A page asked for is where the login goes, whoever logs in.
    cclient.session.cookie_jar.clear()
    page = await cclient.get("/console/login?next=/console/deliveries")
    resp = await cclient.post(
        "/console/login",
        data={
            "username": "mod",
            "password": "Pw-mike-2026",
            "_csrf": csrf_of(await page.text()),
            "next": "/console/deliveries",
        },
        allow_redirects=False,
    )
    assert resp.headers["Location"] == "/console/deliveries"
