"""Shared fixtures: a migrated database (SQLite file, or a throwaway PostgreSQL database for
tests marked `postgres`), staff accounts, and the rule that a marked group CI requires fails
instead of skipping."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from argon2 import PasswordHasher

from bot import db, users
from bot.actors import Actor
from bot.config import Config, PasswordConfig, parse_config
from bot.models import User
from bot.staff import passwords

PG_URL = os.environ.get("GONGKAI_TEST_PG_URL", "")
AUDIT_KEY = "test-audit-key-0123456789abcdefghijklmnop"  # make_config's and gongkai's in tests
REQUIRED_MARKS = {m for m in os.environ.get("GONGKAI_REQUIRE_MARKS", "").split(",") if m}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for mark in REQUIRED_MARKS:
        if not any(item.get_closest_marker(mark) for item in items):
            raise pytest.UsageError(f"GONGKAI_REQUIRE_MARKS: no test marked {mark!r} collected")
    if not PG_URL:
        reason = "set GONGKAI_TEST_PG_URL to run PostgreSQL tests"
        for item in items:
            if item.get_closest_marker("postgres"):
                if "postgres" in REQUIRED_MARKS:
                    raise pytest.UsageError("postgres tests required but GONGKAI_TEST_PG_URL unset")
                item.add_marker(pytest.mark.skip(reason=reason))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_config(db_url: str, **sections: dict[str, Any]) -> Config:
    data: dict[str, Any] = {"database": {"url": db_url}}
    for key, value in sections.items():
        data[key] = value
    # Web processes read the site version often here: tests wait for a change to reach the
    # pages (tests/web/conftest.py SiteClient), and should not wait long.
    web = dict(data.get("web") or {})
    web["public"] = {"follow_poll_seconds": 0.05, **(web.get("public") or {})}
    data["web"] = web
    return parse_config(
        data,
        "test",
        environ={
            "GONGKAI_WEBHOOK_SECRET": "test-secret",
            "GONGKAI_AUTHOR_KEY": "test-author-key",
            "GONGKAI_AUDIT_KEY": AUDIT_KEY,
        },
    )


def _with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def pg_admin(statement: str) -> None:
    """Run one statement on the PostgreSQL server of GONGKAI_TEST_PG_URL (outside any test
    database: creating, dropping or altering one)."""
    admin = await asyncpg.connect(PG_URL.replace("postgres://", "postgresql://", 1))
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


def worker_id() -> str:
    """This pytest-xdist worker's id (gw0, gw1, …), "main" without xdist: in the names of what
    tests create on shared servers, beside a random part, so a leftover says whose it was."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


async def create_pg_database(template: str = "") -> str:
    """Create a throwaway PostgreSQL database (empty, or a copy of the database `template`)
    and return its URL."""
    name = f"gk_test_{worker_id()}_{uuid.uuid4().hex[:12]}"
    await pg_admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return _with_db(PG_URL, name)


async def drop_pg_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# The migrated PostgreSQL template of this process (each xdist worker has its own and runs
# one test at a time, so nothing is connected to it while it is copied); dropped at the end.
_pg_template = ""


async def migrated_pg_database() -> str:
    """A throwaway PostgreSQL database already at the current schema: a copy of a template
    migrated once per process (migrating takes a second or two; copying a fraction of it)."""
    global _pg_template
    if not _pg_template:
        url = await create_pg_database()
        try:
            await db.init(make_config(url), check_schema=False)
            try:
                await db.upgrade()
            finally:
                await db.close()
        except BaseException:
            await drop_pg_database(url)
            raise
        _pg_template = urlsplit(url).path.lstrip("/")
    return await create_pg_database(template=_pg_template)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _pg_template:
        asyncio.run(drop_pg_database(_with_db(PG_URL, _pg_template)))


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    if not PG_URL:
        pytest.skip("GONGKAI_TEST_PG_URL not set")
    url = await create_pg_database()
    yield url
    await drop_pg_database(url)


@pytest.fixture(scope="session", autouse=True)
def fast_password_hashes() -> None:
    """Cheap argon2 parameters for the staff accounts tests create by the hundred; checks read
    the parameters from each stored hash, so logins work the same way."""
    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite database migrated to the current schema, copied for each test that needs
    one (migrating from scratch for every test would cost a second each)."""
    path = tmp_path_factory.mktemp("template") / "gongkai.db"

    async def migrate() -> None:
        await db.init(make_config(f"sqlite://{path}"), check_schema=False)
        try:
            await db.upgrade()
        finally:
            await db.close()

    asyncio.run(migrate())
    return path


def _migrated_copy(template: Path, directory: Path) -> str:
    target = directory / "gongkai.db"
    shutil.copyfile(template, target)
    return f"sqlite://{target}"


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A SQLite database already at the current schema (db.upgrade() on it does nothing)."""
    return _migrated_copy(sqlite_template, tmp_path)


@pytest.fixture
def fresh_sqlite_url(tmp_path: Path) -> str:
    """An empty SQLite database, for tests of the migrations themselves."""
    return f"sqlite://{tmp_path}/gongkai.db"


@pytest.fixture
def config_for() -> Callable[..., Config]:
    return make_config


@pytest.fixture
async def config(sqlite_url: str) -> AsyncIterator[Config]:
    """A migrated SQLite database, connected for the test."""
    cfg = make_config(sqlite_url)
    await db.init(cfg, check_schema=False)
    await db.upgrade()
    yield cfg
    await db.close()


@pytest.fixture
async def migrated_pg_url() -> AsyncIterator[str]:
    """A PostgreSQL database for one test already at the current schema, dropped afterwards."""
    if not PG_URL:
        pytest.skip("GONGKAI_TEST_PG_URL not set")
    url = await migrated_pg_database()
    yield url
    await drop_pg_database(url)


@pytest.fixture
async def pg_config(migrated_pg_url: str) -> AsyncIterator[Config]:
    """A migrated PostgreSQL database, connected for the test."""
    cfg = make_config(migrated_pg_url)
    await db.init(cfg, check_schema=False)
    await db.upgrade()
    yield cfg
    await db.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def backend_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> AsyncIterator[str]:
    """The database URL of each backend in turn, a database of the test's own already at the
    current schema (db.upgrade() on it does nothing): SQLite always, PostgreSQL when
    configured."""
    if request.param == "sqlite":
        yield _migrated_copy(sqlite_template, tmp_path)
        return
    url = await migrated_pg_database()
    yield url
    await drop_pg_database(url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def fresh_backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database on each backend in turn, for tests of the migrations themselves."""
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path}/gongkai.db"
        return
    url = await create_pg_database()
    yield url
    await drop_pg_database(url)


@pytest.fixture
async def any_config(backend_url: str) -> AsyncIterator[Config]:
    """A migrated database on each backend in turn, connected for the test."""
    cfg = make_config(backend_url)
    await db.init(cfg, check_schema=False)
    await db.upgrade()
    yield cfg
    await db.close()


@pytest.fixture
async def any_staff(any_config: Config) -> Staff:
    return await create_staff()


@dataclass
class Staff:
    editor: Actor  # alice
    reviewer: Actor  # bob
    editor2: Actor  # carol, an editor who can also review
    admin: Actor  # root


# The default password policy, for tests that create accounts (fixture accounts need no
# change of password at first login: must_change=False).
POLICY = PasswordConfig()


async def add_test_user(
    username: str, roles: list[str], password: str, actor: str, *args: str, **fields: str
) -> User:
    """A staff account as tests need it: under the default policy, its password not to be
    changed at first login."""
    return await users.add_user(
        username, roles, password, actor, *args, **fields, policy=POLICY, must_change=False
    )


async def create_staff() -> Staff:
    await add_test_user("alice", ["editor"], "Pw-alpha-2026", "system:test", office="宣传处")
    await add_test_user("bob", ["reviewer"], "Pw-bravo-2026", "system:test", office="办公室")
    await add_test_user("carol", ["editor", "reviewer"], "Pw-charlie-2026", "system:test")
    await add_test_user("root", ["admin"], "Pw-romeo-2026", "system:test")
    return Staff(
        await users.actor_for_user("alice"),
        await users.actor_for_user("bob"),
        await users.actor_for_user("carol"),
        await users.actor_for_user("root"),
    )


@pytest.fixture
async def staff(config: Config) -> Staff:
    return await create_staff()
