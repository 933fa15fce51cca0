"""Console sessions held on the server (bot/staff/sessions.py), through the console itself:
a cookie saved before logout opens nothing after it; idle and absolute limits on the console's
clock; disabling, a password reset and revoking end a session at once; two web processes on one
PostgreSQL database share every session (logout in one ends it in the other); the same with
the sessions in Redis."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from bot import db, users
from bot.config import Config
from bot.models import Item, StaffSession, User
from bot.staff.sessions import RedisSessions, SessionStore
from bot.web.console.frame import COOKIE
from bot.web.keys import CONSOLE
from tests.conftest import Staff, create_staff, free_port
from tests.processes import gongkai
from tests.scale.redis_support import REDIS_URL, redis_prefix
from tests.site.test_processes import web_config
from tests.waiting import wait_until
from tests.web.console.test_auth import (
    SESSION_KEY,
    Client,
    client_for,
    console_config,
    csrf_of,
    in_review,
    login,
)

__all__ = ["redis_prefix"]  # the fixture, imported for pytest

ALICE, BOB = ("alice", "Pw-alpha-2026"), ("bob", "Pw-bravo-2026")


def console_cookie(c: Client) -> str:
    return next(k.value for k in c.session.cookie_jar if k.key == COOKIE)


def set_clock(c: Client, start: datetime) -> Callable[[timedelta], None]:
    """Pin the console's clock at `start`; the returned function moves it on."""
    now = [start]
    c.server.app[CONSOLE].clock = lambda: now[0]

    def advance(by: timedelta) -> None:
        now[0] += by

    return advance


async def test_a_cookie_saved_before_logout_opens_nothing_after_it(
    cclient: Client, cconfig: Config, cstaff: Staff
) -> None:
    item = await in_review(cconfig, cstaff)
    token = await login(cclient, *BOB)
    saved = console_cookie(cclient)
    resp = await cclient.post("/console/logout", data={"_csrf": token}, allow_redirects=False)
    assert resp.status == 303
    cclient.session.cookie_jar.clear()
    replay = {"Cookie": f"{COOKIE}={saved}"}
    resp = await cclient.get("/console/", headers=replay, allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"].startswith("/console/login")
    # A form post with the saved cookie and its CSRF token is not processed either.
    resp = await cclient.post(
        f"/console/items/{item.id}/approve", data={"_csrf": token}, headers=replay
    )
    assert resp.status == 401
    assert "重新登录" in await resp.text()
    assert (await Item.get(id=item.id)).status == "in_review"
    assert await StaffSession.all().count() == 0


async def test_idle_and_absolute_limits_run_on_the_consoles_clock(
    cclient: Client, cconfig: Config
) -> None:
    cfg = cconfig.web.console
    advance = set_clock(cclient, datetime(2026, 12, 7, 9, 0, tzinfo=UTC))
    await login(cclient, *ALICE)
    # Requests keep an active session alive past the idle limit...
    for _ in range(3):
        advance(timedelta(minutes=cfg.idle_minutes - 1))
        assert (await cclient.get("/console/", allow_redirects=False)).status == 200
    # ...but not past idle_minutes without one.
    advance(timedelta(minutes=cfg.idle_minutes, seconds=1))
    assert (await cclient.get("/console/", allow_redirects=False)).status == 303
    # The absolute limit ends even a busy session.
    await login(cclient, *ALICE)
    steps = cfg.absolute_hours * 60 // (cfg.idle_minutes - 1) + 1
    statuses = []
    for _ in range(steps):
        advance(timedelta(minutes=cfg.idle_minutes - 1))
        statuses.append((await cclient.get("/console/", allow_redirects=False)).status)
    assert statuses[0] == 200 and statuses[-1] == 303
    assert statuses == sorted(statuses)  # once ended, it stays ended


async def test_disabling_resetting_and_revoking_end_sessions_at_once(
    cconfig: Config, cstaff: Staff
) -> None:
    clients = [await client_for(cconfig) for _ in range(3)]
    try:
        for c in clients:
            await login(c, *ALICE)
        alice = await User.get(username="alice")
        sessions = clients[0].server.app[CONSOLE].sessions
        live = await sessions.list_user(alice.id, datetime.now(UTC), timedelta(hours=1))
        assert len(live) == 3
        # Revoke one (the admin page's button): only that browser is logged out.
        newest = live[0]
        assert await sessions.end_digest(alice.id, newest.digest)
        statuses = [(await c.get("/console/", allow_redirects=False)).status for c in clients]
        assert sorted(statuses) == [200, 200, 303]
        # Disabling the account ends the others.
        await users.disable_user("alice", "system:test")
        for c in clients:
            assert (await c.get("/console/", allow_redirects=False)).status == 303
        assert await StaffSession.filter(user_id=alice.id).count() == 0
    finally:
        for c in clients:
            await c.close()


async def test_the_database_keeps_only_a_digest_of_the_cookies_session_id(
    cclient: Client,
) -> None:
    await login(cclient, *ALICE)
    row = await StaffSession.get()
    assert len(row.id) == 64
    assert row.ip == "127.0.0.1"
    # The cookie is encrypted and the id inside it is not the stored digest.
    assert row.id not in console_cookie(cclient)


# -- Redis -----------------------------------------------------------------------------------
async def test_with_redis_the_sessions_live_there_and_end_there(
    sqlite_url: str, redis_prefix: str
) -> None:
    cfg = console_config(sqlite_url, redis={"url": REDIS_URL, "key_prefix": redis_prefix})
    await db.init(cfg, check_schema=False)
    await db.upgrade()
    await create_staff()
    one, two = await client_for(cfg), await client_for(cfg)
    try:
        store: SessionStore = one.server.app[CONSOLE].sessions
        assert isinstance(store, RedisSessions)
        token = await login(one, *ALICE)
        saved = console_cookie(one)
        assert await StaffSession.all().count() == 0  # nothing in the database
        replay = {"Cookie": f"{COOKIE}={saved}"}
        assert (await two.get("/console/", headers=replay, allow_redirects=False)).status == 200
        await one.post("/console/logout", data={"_csrf": token})
        assert (await two.get("/console/", headers=replay, allow_redirects=False)).status == 303
        alice = await User.get(username="alice")
        await login(one, *ALICE)
        await login(two, *ALICE)
        assert await store.end_user(alice.id) == 2
        for c in (one, two):
            assert (await c.get("/console/", allow_redirects=False)).status == 303
    finally:
        await one.close()
        await two.close()
        await db.close()


# -- two web processes on PostgreSQL ---------------------------------------------------------
@pytest.fixture
async def pg_staff(migrated_pg_url: str) -> AsyncIterator[str]:
    config = console_config(migrated_pg_url)
    await db.init(config, check_schema=False)
    try:
        await create_staff()
    finally:
        await db.close()
    yield migrated_pg_url


@pytest.mark.postgres
@pytest.mark.slow
async def test_logout_in_one_web_process_ends_the_session_in_another(
    pg_staff: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(os.environ, "GONGKAI_SESSION_KEY", SESSION_KEY)
    ports = [free_port(), free_port()]
    procs = [
        await gongkai(
            web_config(tmp_path / f"w{n}.toml", pg_staff, port, poll=3600),
            tmp_path / f"w{n}.log",
            "run",
            "--role",
            "web",
        )
        for n, port in enumerate(ports)
    ]
    one, two = (f"http://127.0.0.1:{port}" for port in ports)
    try:
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as http:

            async def up(base: str) -> bool:
                try:
                    async with http.get(f"{base}/console/login") as resp:
                        return resp.status == 200
                except aiohttp.ClientConnectionError:
                    return False

            for base in (one, two):
                await wait_until(lambda b=base: up(b), 30, f"{base} to serve")
            async with http.get(f"{one}/console/login") as resp:
                csrf = csrf_of(await resp.text())
            data = {"username": ALICE[0], "password": ALICE[1], "_csrf": csrf}
            async with http.post(f"{one}/console/login", data=data) as resp:
                page = await resp.text()
                assert resp.status == 200 and "alice" in page
            cookie = {"Cookie": f"{COOKIE}={next(c.value for c in jar if c.key == COOKIE)}"}
            async with aiohttp.ClientSession() as other:  # the second process, same cookie
                async with other.get(
                    f"{two}/console/", headers=cookie, allow_redirects=False
                ) as resp:
                    assert resp.status == 200
                async with http.post(
                    f"{one}/console/logout", data={"_csrf": csrf_of(page)}
                ) as resp:
                    assert resp.status == 200  # the login page, after the redirect
                async with other.get(
                    f"{two}/console/", headers=cookie, allow_redirects=False
                ) as resp:
                    assert resp.status == 303
        for proc in procs:
            assert proc.returncode is None, "a web process died"
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
                await asyncio.wait_for(proc.wait(), 20)
