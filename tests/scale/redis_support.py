"""The Redis server tests use (127.0.0.1:6379 unless GONGKAI_TEST_REDIS_URL says otherwise):
a test that needs it fails, never skips, when it does not answer, and each test writes under
its own key prefix and removes its keys afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis

REDIS_URL = os.environ.get("GONGKAI_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def require_redis() -> None:
    """Fail the test loudly when Redis is not reachable (CI must provide it)."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(
            f"Redis at {REDIS_URL} is not reachable ({exc}); these tests need it: start "
            "redis-server or set GONGKAI_TEST_REDIS_URL",
            pytrace=False,
        )
    finally:
        client.close()


def delete_prefix(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix no other test uses; its keys are deleted afterwards."""
    require_redis()
    prefix = f"gk-test-{uuid.uuid4().hex[:10]}:"
    try:
        yield prefix
    finally:
        delete_prefix(prefix)
