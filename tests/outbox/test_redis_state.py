"""Redis-backed shared state (bot/outbox/redis_state.py) against the real Redis on 127.0.0.1:6379:
the WeChat token store and its lock, the token fetched once for many callers in several
"processes" (separate clients), the GCRA rate limit shared between processes, the choice made
by [redis] in the configuration, and what happens when Redis is not there."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestServer

from bot.config import Config, ConfigError, RedisConfig
from bot.models import ChannelState
from bot.outbox.channel_set import build_channels, build_limiters, token_store
from bot.outbox.channel_state import DbTokenStore
from bot.outbox.redis_state import RedisRateLimiter, RedisStateError, RedisTokenStore, connect
from channels.base import TransientError
from channels.pacing import TokenBucket
from channels.sandbox.wechat import WechatSimulator
from channels.wechat.api import WechatApi
from channels.wechat.token import TOKEN_KEY, StoredToken
from scheduler.token_refresh import refresh_wechat_token
from tests.channels.test_wechat import WechatEnv, make_env
from tests.conftest import make_config
from tests.scale.redis_support import REDIS_URL, redis_prefix
from tests.waiting import wait_until

__all__ = ["redis_prefix"]  # the fixture, imported for pytest


def client() -> aioredis.Redis:
    return connect(RedisConfig(url=REDIS_URL))


@pytest.fixture
async def clients() -> AsyncIterator[list[aioredis.Redis]]:
    """Three clients, standing for three processes."""
    made = [client() for _ in range(3)]
    yield made
    for c in made:
        await c.aclose()


def redis_config(prefix: str, **sections: object) -> Config:
    return make_config(
        "sqlite://:memory:",
        redis={"url": REDIS_URL, "key_prefix": prefix},
        **sections,  # type: ignore[arg-type]
    )


# -- token store -----------------------------------------------------------------------------
async def test_token_store_is_empty_until_written_then_reads_back_value_and_expiry(
    redis_prefix: str, clients: list[aioredis.Redis]
) -> None:
    store = RedisTokenStore(clients[0], redis_prefix)
    assert await store.read(TOKEN_KEY) is None
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=7200)
    assert await store.try_lock(TOKEN_KEY, "p1", 30)
    await store.write(TOKEN_KEY, StoredToken("tok-1", expires), "p1")
    other = RedisTokenStore(clients[1], redis_prefix)
    assert await other.read(TOKEN_KEY) == StoredToken("tok-1", expires)
    # Kept in Redis about as long as the token lives, not forever.
    ttl = await clients[1].pttl(f"{redis_prefix}{{{TOKEN_KEY}}}:token")
    assert 7200_000 < ttl <= 7260_000


async def test_token_lock_is_held_by_one_owner_until_written_or_unlocked(
    redis_prefix: str, clients: list[aioredis.Redis]
) -> None:
    a, b = (RedisTokenStore(c, redis_prefix) for c in clients[:2])
    assert await a.try_lock(TOKEN_KEY, "p1", 30)
    assert not await b.try_lock(TOKEN_KEY, "p2", 30)
    assert await a.try_lock(TOKEN_KEY, "p1", 30)  # ours already: still ours
    await b.unlock(TOKEN_KEY, "p2")  # not b's lock: nothing happens
    assert not await b.try_lock(TOKEN_KEY, "p2", 30)
    await a.unlock(TOKEN_KEY, "p1")
    assert await b.try_lock(TOKEN_KEY, "p2", 30)
    # Writing releases the writer's lock only.
    await a.write(TOKEN_KEY, StoredToken("x", datetime.now(UTC) + timedelta(hours=1)), "p1")
    assert not await a.try_lock(TOKEN_KEY, "p1", 30)
    await b.write(TOKEN_KEY, StoredToken("y", datetime.now(UTC) + timedelta(hours=1)), "p2")
    assert await a.try_lock(TOKEN_KEY, "p1", 30)


async def test_token_lock_of_a_dead_holder_expires_by_itself(
    redis_prefix: str, clients: list[aioredis.Redis]
) -> None:
    a, b = (RedisTokenStore(c, redis_prefix) for c in clients[:2])
    assert await a.try_lock(TOKEN_KEY, "dead", 0.2)
    assert not await b.try_lock(TOKEN_KEY, "p2", 30)
    # Nobody unlocks it: Redis lets it expire (0.2 s), then b's try succeeds.
    await wait_until(lambda: b.try_lock(TOKEN_KEY, "p2", 30), 5, "the dead holder's lock to expire")


async def test_token_fetched_once_for_concurrent_callers_in_three_processes_and_replaced_once(
    redis_prefix: str, clients: list[aioredis.Redis]
) -> None:
    sim = WechatSimulator("wx", "s")
    server = TestServer(sim.app, host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    apis = [
        WechatApi([base], "wx", "s", 5, RedisTokenStore(c, redis_prefix), f"proc{n}")
        for n, c in enumerate(clients)
    ]
    for api in apis:
        await api.start()
    try:
        tokens = await asyncio.gather(*(api.tokens.get() for api in apis for _ in range(10)))
        assert len(set(tokens)) == 1
        assert sim.ledger.token_fetches == 1
        # WeChat invalidates it mid-run: one caller replaces it, the others use the new one.
        sim.invalidate_tokens()
        fresh = await asyncio.gather(*(api.tokens.replace(tokens[0]) for api in apis))
        assert len(set(fresh)) == 1 and fresh[0] != tokens[0]
        assert sim.ledger.force_refreshes == 1
        assert fresh[0] in sim.tokens
        stored = await RedisTokenStore(clients[0], redis_prefix).read(TOKEN_KEY)
        assert stored is not None and stored.value == fresh[0]
    finally:
        for api in apis:
            await api.close()
        await server.close()


# -- rate limit ------------------------------------------------------------------------------
async def test_rate_limit_is_one_budget_shared_by_every_process(
    redis_prefix: str, clients: list[aioredis.Redis]
) -> None:
    # 0.01 calls a second with bursts of 3: three turns now, then one every 100 s, whichever
    # process asks (the waits are far apart, so the test's own speed does not matter).
    limiters = [RedisRateLimiter(c, "wechat", 0.01, burst=3, prefix=redis_prefix) for c in clients]
    waits = [await limiters[i % 3].reserve() for i in range(6)]
    assert waits[:3] == [0, 0, 0]
    for n, wait in enumerate(waits[3:], 1):
        assert 100 * n - 5 < wait <= 100 * n
    # Another channel has its own budget.
    other = RedisRateLimiter(clients[0], "webhook", 0.01, burst=3, prefix=redis_prefix)
    assert await other.reserve() == 0


async def test_rate_limit_burst_defaults_to_one_second_of_calls_like_the_token_bucket(
    redis_prefix: str, clients: list[aioredis.Redis]
) -> None:
    # 2 a second: a burst of 2, then a turn every 0.5 s (0.3 s of slack for a slow machine).
    a, b = (RedisRateLimiter(c, "feed", 2, prefix=redis_prefix) for c in clients[:2])
    waits = [await (a if i % 2 else b).reserve() for i in range(4)]
    assert waits[:2] == [0, 0]
    assert 0.2 < waits[2] <= 0.5 and 0.7 < waits[3] <= 1.0
    await a.acquire()  # sleeps until its turn (about 1.5 s from the start), then returns
    assert await a.reserve() > 0  # the budget is still spent ahead


async def test_unreachable_redis_is_a_transient_error_naming_redis() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket is closed
    dead = connect(RedisConfig(url=f"redis://127.0.0.1:{port}/0", timeout_seconds=0.5))
    try:
        with pytest.raises(RedisStateError, match="Redis") as raised:
            await RedisRateLimiter(dead, "feed", 10).acquire()
        assert isinstance(raised.value, TransientError)  # the dispatcher retries the delivery
        with pytest.raises(RedisStateError, match="access_token"):
            await RedisTokenStore(dead).read(TOKEN_KEY)
    finally:
        await dead.aclose()


# -- configuration ---------------------------------------------------------------------------
async def test_config_without_redis_keeps_token_in_database_and_limits_per_process() -> None:
    config = make_config("sqlite://:memory:", channels={"feed": {"enabled": True}})
    assert not config.redis.enabled
    assert isinstance(token_store(config), DbTokenStore)
    limiters = build_limiters(config, build_channels(config))
    assert set(limiters) == {"feed"} and isinstance(limiters["feed"], TokenBucket)


async def test_config_with_redis_shares_token_and_limits_through_redis(redis_prefix: str) -> None:
    config = redis_config(redis_prefix, channels={"feed": {"enabled": True, "rate_per_second": 7}})
    store = token_store(config)
    assert isinstance(store, RedisTokenStore) and store.prefix == redis_prefix
    limiters = build_limiters(config, build_channels(config))
    feed = limiters["feed"]
    assert isinstance(feed, RedisRateLimiter)
    assert (feed.key, feed.rate) == (f"{redis_prefix}rate:feed", 7)
    await feed.acquire()
    assert await feed.client.exists(feed.key) == 1
    await feed.aclose()


def test_redis_url_with_another_scheme_is_refused_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"redis\.url = 'http://x'"):
        make_config("sqlite://:memory:", redis={"url": "http://x"})


# -- through the dispatcher ------------------------------------------------------------------
@pytest.fixture
async def wechat_env(sqlite_url: str, redis_prefix: str) -> AsyncIterator[WechatEnv]:
    async for env in make_env(sqlite_url):
        env.config = env.config.model_copy(
            update={"redis": RedisConfig(url=REDIS_URL, key_prefix=redis_prefix)}
        )
        yield env


async def test_wechat_publish_with_redis_keeps_the_token_in_redis_not_the_database(
    wechat_env: WechatEnv,
) -> None:
    item = await wechat_env.approved()
    wechat_env.sim.invalidate_tokens()  # nothing issued yet: the first call fetches anyway
    await wechat_env.run()
    delivery = await wechat_env.delivery(item)
    assert delivery.status == "done", delivery.last_error
    assert not await ChannelState.filter(key=TOKEN_KEY).exists()
    store = token_store(wechat_env.config)
    assert isinstance(store, RedisTokenStore)
    stored = await store.read(TOKEN_KEY)
    assert stored is not None and stored.value in wechat_env.sim.tokens
    assert wechat_env.sim.ledger.token_fetches == 1
    await store.client.aclose()


async def test_the_token_refresh_job_keeps_the_token_in_redis_when_configured(
    wechat_env: WechatEnv,
) -> None:
    result = await refresh_wechat_token(wechat_env.config, {}, "job-1")
    assert result["fetched"] and result["changed"]
    assert not await ChannelState.filter(key=TOKEN_KEY).exists()
    store = token_store(wechat_env.config)
    stored = await store.read(TOKEN_KEY)
    assert stored is not None and stored.value in wechat_env.sim.tokens
    await store.client.aclose()
