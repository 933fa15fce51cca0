"""Nothing a stranger sends makes the server answer 5xx: each request the probe of issue 21
found answering 500 (or accepted when it should not be) gets a 4xx with a Chinese message that
names the problem, and nothing is stored."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.config import Config
from bot.models import AuditEvent, Item
from tests.web.api.test_routes import NOTICE, Tokens, auth, create
from tests.web.console.test_auth import client_for, login

Client = TestClient[web.Request, web.Application]
pytest_plugins = ["tests.web.api.test_routes"]


async def refused(resp: Any, status: int | tuple[int, ...] = (400, 413, 422)) -> str:
    text = await resp.text()
    allowed = (status,) if isinstance(status, int) else status
    assert resp.status in allowed, (resp.status, text[:300])
    return text


@pytest.mark.parametrize(
    "field",
    [
        "title",
        "body",
        "kind",
        "office",
        "summary",
        "channels",
        "publish_at",
        "priority",
        "doc_number",
        "column",
        "disclosure",
        "notify",
        "wechat_title",
    ],
)
async def test_patch_with_a_null_field_is_422_naming_it(
    api: Client, tokens: Tokens, field: str
) -> None:
    item = await create(api, tokens.editor)
    resp = await api.patch(
        f"/api/v1/items/{item['id']}", json={field: None}, headers=auth(tokens.editor)
    )
    text = await refused(resp, (400, 422))
    assert field in text


async def test_patch_with_related_id_null_clears_the_link(api: Client, tokens: Tokens) -> None:
    item = await create(api, tokens.editor)
    resp = await api.patch(
        f"/api/v1/items/{item['id']}", json={"related_id": None}, headers=auth(tokens.editor)
    )
    assert resp.status == 200, await resp.text()


@pytest.mark.parametrize(
    "query",
    ["offset=9223372036854775808", "limit=99999999999999999999999", "offset=-1", "offset=1e3"],
)
async def test_out_of_range_integers_in_queries_are_422(
    api: Client, tokens: Tokens, query: str
) -> None:
    resp = await api.get(f"/api/v1/items?{query}", headers=auth(tokens.editor))
    await refused(resp, (400, 422))
    resp = await api.get(f"/api/v1/deliveries?{query}", headers=auth(tokens.editor))
    await refused(resp, (400, 422))


@pytest.mark.parametrize("value", [10**20, -1, 0, 2**63])
async def test_related_id_out_of_range_is_422(api: Client, tokens: Tokens, value: int) -> None:
    resp = await api.post(
        "/api/v1/items", json={**NOTICE, "related_id": value}, headers=auth(tokens.editor)
    )
    await refused(resp, (400, 422))
    assert await Item.all().count() == 0


async def test_deeply_nested_json_is_refused(api: Client, tokens: Tokens) -> None:
    for body in ("[" * 100_000, '{"a":' * 30_000 + "1" + "}" * 30_000):
        resp = await api.post(
            "/api/v1/items",
            data=body,
            headers={**auth(tokens.editor), "Content-Type": "application/json"},
        )
        await refused(resp, (400, 413, 422))


async def test_lone_surrogates_are_refused_not_echoed(api: Client, tokens: Tokens) -> None:
    raw = '{"kind": "notice", "title": "\\ud800", "body": "x"}'
    resp = await api.post(
        "/api/v1/items",
        data=raw,
        headers={**auth(tokens.editor), "Content-Type": "application/json"},
    )
    text = await refused(resp, (400, 422))
    assert "title" in text
    assert await Item.all().count() == 0


@pytest.mark.parametrize(
    "fields",
    [
        {"publish_at": 0},
        {"publish_at": "1970-01-01T00:00:00Z"},
        {"priority": False},
        {"priority": "1"},
        {"notify": 1},
    ],
)
async def test_values_of_the_wrong_kind_are_422(api: Client, tokens: Tokens, fields: dict) -> None:
    resp = await api.post("/api/v1/items", json={**NOTICE, **fields}, headers=auth(tokens.editor))
    await refused(resp, 422)


BROKEN_MULTIPART = [
    (
        "multipart/form-data",
        b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--\r\n',
    ),
    ("multipart/form-data; boundary=x", b"--x\r\nbroken\r\n"),
    (
        "multipart/form-data; boundary=x",
        b'--x\r\nContent-Disposition: form-data; name="f"; filename="a\x00b"\r\n\r\n1\r\n--x--\r\n',
    ),
    ("application/x-www-form-urlencoded", b"%%%=\xff\xfe"),
]


@pytest.mark.parametrize("path", ["/console/login", "/feedback/status", "/feedback"])
@pytest.mark.parametrize(("ctype", "body"), BROKEN_MULTIPART)
async def test_broken_forms_answer_4xx(api: Client, path: str, ctype: str, body: bytes) -> None:
    before = await AuditEvent.all().count()
    resp = await api.post(path, data=body, headers={"Content-Type": ctype})
    await refused(resp, (400, 403, 413, 422))
    assert await AuditEvent.all().count() == before


async def test_console_forms_with_broken_bodies_answer_4xx(config: Config, api: Client) -> None:
    """Signed in: the item form and the media upload, sent a body that is not the form."""
    console = await client_for(config)
    try:
        token = await login(console, "alice", "Pw-alpha-2026")
        before = await AuditEvent.all().count()
        for path in ("/console/items", "/console/media"):
            for ctype, body in BROKEN_MULTIPART:
                resp = await console.post(
                    path, data=body, headers={"Content-Type": ctype, "X-CSRF-Token": token}
                )
                await refused(resp, (400, 403, 413, 422))
            resp = await console.post(
                path,
                data=b"just text",
                headers={"Content-Type": "text/plain", "X-CSRF-Token": token},
            )
            await refused(resp, (400, 403, 413, 415, 422))
        assert await AuditEvent.all().count() == before
    finally:
        await console.close()
