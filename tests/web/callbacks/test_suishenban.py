"""/suishenban/callback over real HTTP, with pushes signed by the 随申办 simulator exactly as the
platform would send them: valid feedback reaches the inbox once; bad signatures, stale
timestamps, replays, foreign app ids, malformed or oversized bodies are refused with nothing
stored."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot import db
from bot.config import Config, parse_config
from bot.models import Comment
from bot.web.app import create_app
from channels.base import opaque_author
from channels.sandbox.suishenban import SuishenbanSimulator

APP_ID = "ssb-test-app"
SECRET = "ssb-test-secret"
AUTHOR_KEY = "test-author-key"
PATH = "/suishenban/callback"


def callback_config(db_url: str, environ: dict[str, str] | None = None, **section: Any) -> Config:
    values = {"enabled": True, "app_id": APP_ID, **section}
    env = {"GONGKAI_SUISHENBAN_SECRET": SECRET, "GONGKAI_AUTHOR_KEY": AUTHOR_KEY}
    return parse_config(
        {"database": {"url": db_url}, "channels": {"suishenban": values}},
        "test",
        environ=env if environ is None else environ,
    )


async def serve(config: Config) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    await db.init(config)
    try:
        async with TestClient(TestServer(create_app(config), host="127.0.0.1")) as client:
            yield client
    finally:
        await db.close()


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where a migrated database is kept once per run: copying it beats migrating each test."""
    return tmp_path_factory.mktemp("suishenban-callback") / "template.db"


@pytest.fixture
async def db_url(template_db: Path, tmp_path: Path) -> str:
    """A migrated SQLite database of this test's own (not connected)."""
    if not await asyncio.to_thread(template_db.exists):
        await db.init(callback_config(f"sqlite://{template_db}"), check_schema=False)
        await db.upgrade()
        await db.close()
    await asyncio.to_thread(shutil.copyfile, template_db, tmp_path / "gongkai.db")
    return f"sqlite://{tmp_path}/gongkai.db"


@pytest.fixture
async def client(db_url: str) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async for c in serve(callback_config(db_url)):
        yield c


@pytest.fixture
def sim() -> SuishenbanSimulator:
    return SuishenbanSimulator(APP_ID, SECRET)


async def stored() -> int:
    return await Comment.filter(channel="suishenban").count()


async def send(
    client: TestClient[web.Request, web.Application],
    body: bytes,
    headers: dict[str, str],
) -> tuple[int, dict[str, Any]]:
    resp = await client.post(PATH, data=body, headers=headers)
    return resp.status, await resp.json()


def signed(
    sim: SuishenbanSimulator, body: bytes, *, secret: str = SECRET, app_id: str = APP_ID, **kw: Any
) -> dict[str, str]:
    headers = sim.contract.signed_headers(secret, app_id, "POST", PATH, body, **kw)
    return {**headers, "Content-Type": "application/json"}


async def test_valid_feedback_pushed_by_the_platform_becomes_an_inbox_comment(
    client: TestClient[web.Request, web.Application], sim: SuishenbanSimulator
) -> None:
    record = sim.add_feedback("card-9", "user-42", "请问政务公开日活动在哪里报名？")
    status = await sim.push_feedback(record, str(client.make_url(PATH)))
    assert status == 200
    comment = await Comment.get(channel="suishenban", remote_id="fb-1")
    assert comment.kind == "feedback" and comment.original_text == record["content"]
    assert comment.author_ref == opaque_author(AUTHOR_KEY.encode(), "suishenban", "user-42")
    assert comment.remote_item_ref == "card-9"
    assert comment.reply_ref == {"type": "feedback", "feedback_id": "fb-1"}
    assert comment.status == "open" and comment.due_at is not None
    # The platform pushes the same feedback again (a new nonce): stored once.
    assert await sim.push_feedback(record, str(client.make_url(PATH))) == 200
    assert await stored() == 1


async def test_answer_is_the_platform_success_json(
    client: TestClient[web.Request, web.Application], sim: SuishenbanSimulator
) -> None:
    _, body, _ = sim.callback_request(sim.add_feedback("card-1", "u", "谢谢"), PATH)
    assert await send(client, body, signed(sim, body)) == (200, {"code": 0, "message": "ok"})


async def test_bad_signature_is_refused_and_nothing_stored(
    client: TestClient[web.Request, web.Application], sim: SuishenbanSimulator
) -> None:
    _, body, _ = sim.callback_request(sim.add_feedback("card-1", "u", "留言"), PATH)
    status, doc = await send(client, body, signed(sim, body, secret="forged"))
    assert (status, doc["code"]) == (401, 40001)
    tampered = body.replace("留言".encode(), "篡改".encode())
    status, doc = await send(client, tampered, signed(sim, body))
    assert (status, doc["code"]) == (401, 40001)
    headers = signed(sim, body)
    del headers["X-Signature"]
    assert (await send(client, body, headers))[0] == 401
    assert await stored() == 0


async def test_foreign_app_id_is_refused(
    client: TestClient[web.Request, web.Application], sim: SuishenbanSimulator
) -> None:
    _, body, _ = sim.callback_request(sim.add_feedback("card-1", "u", "留言"), PATH)
    status, doc = await send(client, body, signed(sim, body, app_id="other-app"))
    assert (status, doc["code"]) == (401, 40001)
    assert await stored() == 0


@pytest.mark.parametrize("offset", [-301, 301])
async def test_timestamp_beyond_five_minutes_either_way_is_refused(
    client: TestClient[web.Request, web.Application], sim: SuishenbanSimulator, offset: int
) -> None:
    _, body, _ = sim.callback_request(sim.add_feedback("card-1", "u", "留言"), PATH)
    status, doc = await send(client, body, signed(sim, body, now=time.time() + offset))
    assert (status, doc["code"]) == (401, 40002)
    assert await stored() == 0


async def test_replayed_request_is_refused(
    client: TestClient[web.Request, web.Application], sim: SuishenbanSimulator
) -> None:
    _, body, _ = sim.callback_request(sim.add_feedback("card-1", "u", "留言"), PATH)
    headers = signed(sim, body)
    assert (await send(client, body, headers))[0] == 200
    status, doc = await send(client, body, headers)
    assert (status, doc["code"]) == (401, 40003)
    assert await stored() == 1


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"{not json", "JSON"),
        (b"[1, 2]", "JSON 对象"),
        (json.dumps({"event": "feedback.created", "data": "x"}).encode(), "JSON 对象"),
        (
            json.dumps({"event": "feedback.created", "data": {"feedback_id": "f1"}}).encode(),
            "user_id",
        ),
        (
            json.dumps(
                {"event": "feedback.created", "data": {"feedback_id": "f1", "user_id": "u"}}
            ).encode(),
            "content",
        ),
    ],
)
async def test_malformed_body_is_refused_with_400_and_nothing_stored(
    client: TestClient[web.Request, web.Application],
    sim: SuishenbanSimulator,
    body: bytes,
    says: str,
) -> None:
    status, doc = await send(client, body, signed(sim, body))
    assert (status, doc["code"]) == (400, 40004)
    assert says in doc["message"]
    assert await stored() == 0


async def test_oversized_body_is_refused_before_checking_anything(
    client: TestClient[web.Request, web.Application], sim: SuishenbanSimulator
) -> None:
    record = sim.add_feedback("card-1", "u", "长" * 40_000)
    _, body, _ = sim.callback_request(record, PATH)
    resp = await client.post(PATH, data=body, headers=signed(sim, body))
    assert resp.status == 413
    assert await stored() == 0


async def test_other_events_are_acknowledged_and_not_stored(
    client: TestClient[web.Request, web.Application], sim: SuishenbanSimulator
) -> None:
    body = json.dumps({"event": "card.withdrawn", "data": {"card_id": "card-1"}}).encode()
    assert await send(client, body, signed(sim, body)) == (200, {"code": 0, "message": "ok"})
    assert await stored() == 0


async def test_disabled_channel_answers_404(db_url: str, sim: SuishenbanSimulator) -> None:
    async for client in serve(callback_config(db_url, enabled=False)):
        _, body, _ = sim.callback_request(sim.add_feedback("card-1", "u", "留言"), PATH)
        assert (await send(client, body, signed(sim, body)))[0] == 404


async def test_missing_signing_key_answers_503(db_url: str, sim: SuishenbanSimulator) -> None:
    config = callback_config(db_url, environ={"GONGKAI_AUTHOR_KEY": AUTHOR_KEY})
    async for client in serve(config):
        _, body, _ = sim.callback_request(sim.add_feedback("card-1", "u", "留言"), PATH)
        assert (await send(client, body, signed(sim, body)))[0] == 503
        assert await stored() == 0


async def test_separate_callback_key_is_used_when_configured(
    db_url: str, sim: SuishenbanSimulator
) -> None:
    config = callback_config(
        db_url,
        environ={
            "GONGKAI_SUISHENBAN_SECRET": SECRET,
            "GONGKAI_SUISHENBAN_CALLBACK": "callback-key",
            "GONGKAI_AUTHOR_KEY": AUTHOR_KEY,
        },
        callback_secret_env="GONGKAI_SUISHENBAN_CALLBACK",
    )
    async for client in serve(config):
        _, body, _ = sim.callback_request(sim.add_feedback("card-1", "u", "留言"), PATH)
        assert (await send(client, body, signed(sim, body)))[0] == 401  # the app secret
        assert (await send(client, body, signed(sim, body, secret="callback-key")))[0] == 200
        assert await stored() == 1


async def test_storage_failure_answers_500_and_the_same_request_is_taken_on_retry(
    db_url: str, sim: SuishenbanSimulator
) -> None:
    config = callback_config(db_url)
    async for client in serve(config):
        _, body, _ = sim.callback_request(sim.add_feedback("card-1", "u", "留言"), PATH)
        headers = signed(sim, body)
        await db.close()  # the database goes away
        status, doc = await send(client, body, headers)
        assert (status, doc["code"]) == (500, 50001)
        await db.init(config, check_schema=False)
        assert (await send(client, body, headers))[0] == 200  # not refused as a replay
        assert await stored() == 1


async def test_a_signed_body_nested_too_deep_or_with_a_lone_surrogate_is_400_not_retried(
    client: TestClient[web.Request, web.Application], sim: SuishenbanSimulator
) -> None:
    """The platform retries whatever it does not get a 2xx or 4xx for: a body Gongkai cannot
    read must be a 4xx, or it comes back forever."""
    for body in (
        b'{"a":' * 200 + b"1" + b"}" * 200,
        b'{"event": "feedback", "event_data": {"content": "\\ud800"}}',
    ):
        status, doc = await send(client, body, signed(sim, body))
        assert status == 400, doc
        assert doc["code"] == 40004 and "请求体" in doc["message"]
    assert await stored() == 0


async def test_a_validly_signed_400_digit_timestamp_is_refused_not_a_server_error(
    client: TestClient[web.Request, web.Application], sim: SuishenbanSimulator
) -> None:
    _, body, _ = sim.callback_request(sim.add_feedback("card-1", "u", "留言"), PATH)
    # Signed over the huge timestamp: only the timestamp check can refuse it.
    headers = signed(sim, body, now=10**400)
    status, doc = await send(client, body, headers)
    assert (status, doc["code"]) == (401, 40002), doc
    assert await stored() == 0
