"""The console's login throttle (bot/staff/throttle.py) through the login form: behind a
trusted proxy each visitor is counted by their own address, so a crowd of failures does not
keep a reviewer out; failures for one account get a growing Retry-After (asserted as values on
the console's clock, not as elapsed time); a browser where the account logged in before is not
held up by failures from elsewhere; the first wait is audited, single failures are not; the
counters are shared by every process (database or Redis)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot import db
from bot.config import Config, RedisConfig
from bot.models import AuditEvent, LoginThrottle
from bot.outbox.redis_state import connect
from bot.staff.throttle import RedisThrottle, Rule, account_key, address_key
from tests.conftest import create_staff
from tests.scale.redis_support import REDIS_URL, redis_prefix
from tests.web.console.test_auth import Client, client_for, console_config, csrf_of
from tests.web.console.test_sessions import set_clock

__all__ = ["redis_prefix"]  # the fixture, imported for pytest

START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
PROXY = {"trusted_proxies": ["127.0.0.1"]}


async def attempt(c: Client, username: str, password: str, visitor: str = "") -> Any:
    """One login through the form (as `visitor` behind the proxy, when given)."""
    headers = {"X-Forwarded-For": visitor} if visitor else {}
    page = await c.get("/console/login", headers=headers)
    data = {"username": username, "password": password, "_csrf": csrf_of(await page.text())}
    return await c.post("/console/login", data=data, headers=headers, allow_redirects=False)


@pytest.fixture(params=["database", "redis"])
async def proxied(
    request: pytest.FixtureRequest, backend_url: str, redis_prefix: str
) -> AsyncIterator[tuple[Config, Client]]:
    """A console behind a trusted proxy, its counters in the database (each backend) or in
    Redis; its clock pinned at START."""
    sections: dict[str, Any] = {"web": PROXY}
    if request.param == "redis":
        sections["redis"] = {"url": REDIS_URL, "key_prefix": redis_prefix}
    cfg = console_config(backend_url, **sections)
    await db.init(cfg, check_schema=False)
    await db.upgrade()
    await create_staff()
    c = await client_for(cfg)
    yield cfg, c
    await c.close()
    await db.close()


async def test_a_crowd_of_failures_from_other_visitors_does_not_keep_a_reviewer_out(
    proxied: tuple[Config, Client],
) -> None:
    _, c = proxied
    set_clock(c, START)
    for n in range(100):
        resp = await attempt(c, f"guess{n}", "wrong", f"198.51.{n // 250}.{n % 250 + 1}")
        assert resp.status == 401
    resp = await attempt(c, "bob", "Pw-bravo-2026", "203.0.113.7")
    assert resp.status == 303


async def test_one_address_trying_many_names_is_slowed_but_others_are_not(
    proxied: tuple[Config, Client],
) -> None:
    cfg, c = proxied
    set_clock(c, START)
    free = cfg.web.console.login_max_failures_per_ip
    for n in range(free):
        await attempt(c, f"guess{n}", "wrong", "198.51.100.9")
    resp = await attempt(c, "bob", "Pw-bravo-2026", "198.51.100.9")
    assert resp.status == 429
    assert resp.headers["Retry-After"] == str(int(cfg.web.console.login_delay_seconds))
    assert (await attempt(c, "bob", "Pw-bravo-2026", "203.0.113.7")).status == 303


async def test_failures_for_one_account_get_a_growing_retry_after(
    proxied: tuple[Config, Client],
) -> None:
    cfg, c = proxied
    console = cfg.web.console
    advance = set_clock(c, START)
    for n in range(console.login_max_failures - 1):  # the free failures: no wait
        resp = await attempt(c, "alice", "wrong", f"198.51.100.{n + 1}")
        assert resp.status == 401 and "Retry-After" not in resp.headers
    waits = []
    for n in range(6):
        resp = await attempt(c, "alice", "wrong", f"203.0.113.{n + 1}")
        assert resp.status == 401
        wait = int(resp.headers["Retry-After"])
        waits.append(wait)
        # Too early, even with the right password and from yet another address: 429.
        early = await attempt(c, "alice", "Pw-alpha-2026", f"192.0.2.{n + 1}")
        assert early.status == 429
        assert int(early.headers["Retry-After"]) == wait
        assert "后再试" in await early.text()
        advance(timedelta(seconds=wait))
    base = int(console.login_delay_seconds)
    cap = console.login_max_delay_minutes * 60
    assert waits == [min(cap, base * 2**k) for k in range(6)]
    # Once the wait is over the right password works, and the count starts again.
    assert (await attempt(c, "alice", "Pw-alpha-2026", "192.0.2.99")).status == 303
    # The first wait is audited once; the single failures are not.
    throttled = await AuditEvent.filter(action="console.login_throttled", target_id="alice")
    assert len(throttled) == 1
    assert await AuditEvent.filter(action__icontains="fail").count() == 0


async def test_the_browser_where_the_account_logged_in_is_not_held_up_by_others(
    proxied: tuple[Config, Client], backend_url: str
) -> None:
    cfg, reviewer = proxied
    set_clock(reviewer, START)
    assert (await attempt(reviewer, "bob", "Pw-bravo-2026", "203.0.113.7")).status == 303
    # Bob closes his browser: the session cookie is gone, the device mark stays.
    reviewer.session.cookie_jar.clear(lambda cookie: cookie.key != "gongkai_device")
    attacker = await client_for(cfg)
    try:
        set_clock(attacker, START)
        for n in range(100):
            await attempt(attacker, "bob", f"guess-{n}", f"198.51.{n // 250}.{n % 250 + 1}")
        # A browser bob never used is slowed down...
        resp = await attempt(attacker, "bob", "Pw-bravo-2026", "192.0.2.50")
        assert resp.status == 429 and int(resp.headers["Retry-After"]) > 0
        # ...his own is not.
        assert (await attempt(reviewer, "bob", "Pw-bravo-2026", "203.0.113.7")).status == 303
    finally:
        await attacker.close()


async def test_without_a_trusted_proxy_the_forwarded_header_is_ignored(
    sqlite_url: str,
) -> None:
    cfg = console_config(sqlite_url, web={"console": {"login_max_failures_per_ip": 3}})
    await db.init(cfg, check_schema=False)
    await db.upgrade()
    await create_staff()
    c = await client_for(cfg)
    try:
        set_clock(c, START)
        for n in range(3):
            await attempt(c, f"guess{n}", "wrong", f"198.51.100.{n + 1}")
        # Every "visitor" was the peer, 127.0.0.1, which now waits.
        assert (await attempt(c, "bob", "Pw-bravo-2026", "203.0.113.7")).status == 429
        assert await LoginThrottle.filter(key=address_key("127.0.0.1")).exists()
    finally:
        await c.close()
        await db.close()


async def test_a_burst_of_simultaneous_tries_gets_no_more_checks_than_the_free_ones(
    proxied: tuple[Config, Client],
) -> None:
    cfg, c = proxied
    set_clock(c, START)
    page = await c.get("/console/login")
    csrf = csrf_of(await page.text())

    async def guess(n: int) -> int:
        data = {"username": "bob", "password": f"guess-{n}", "_csrf": csrf}
        resp = await c.post("/console/login", data=data, headers={"X-Forwarded-For": "192.0.2.1"})
        return resp.status

    statuses = await asyncio.gather(*(guess(n) for n in range(40)))
    free = cfg.web.console.login_max_failures
    assert statuses.count(401) == free  # the password was checked only this often
    assert statuses.count(429) == 40 - free


async def test_redis_counters_are_shared_and_expire_with_the_window(redis_prefix: str) -> None:
    rule = Rule(free=2, base=10, cap=40, window=60)
    clients = [connect(RedisConfig(url=REDIS_URL)) for _ in range(2)]
    try:
        one, two = (RedisThrottle(c, redis_prefix) for c in clients)
        key = account_key("Alice ")
        first = await one.attempt([(key, rule)], START)
        assert first.allowed and first.wait == 0
        second = await two.attempt([(key, rule)], START)  # another process counts on
        assert second.allowed and second.wait == 10 and second.counts[0].started
        refused = await one.attempt([(key, rule)], START + timedelta(seconds=5))
        assert (refused.allowed, refused.wait, refused.counts) == (False, 5, ())
        third = await one.attempt([(key, rule)], START + timedelta(seconds=10))
        assert (third.wait, third.counts[0].started) == (20, False)
        # After the window without a failure the count starts again.
        later = await two.attempt([(key, rule)], START + timedelta(seconds=200))
        assert (later.counts[0].failures, later.wait) == (1, 0)
        # A success clears one key and takes the attempt back from the others.
        other = address_key("192.0.2.7")
        for _ in range(3):
            both = await one.attempt([(key, rule), (other, rule)], START + timedelta(seconds=300))
        assert not both.allowed  # the second attempt made both wait
        await one.succeeded(key, [(other, rule)])
        assert await two.wait([key], START + timedelta(seconds=300)) == 0
        assert await two.wait([other], START + timedelta(seconds=300)) == 0  # 2 - 1 < free
        assert await one.clear(other)
        assert await clients[0].exists(f"{redis_prefix}login-throttle:{key}") == 0
    finally:
        for c in clients:
            await c.aclose()
