"""The WeChat simulator's own promises that other tests rely on (callbacks signed, encrypted and
retried like WeChat's; stable_token semantics) and the shared token's single flight across
processes through the database lock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import xmltodict
from aiohttp import web
from aiohttp.test_utils import TestServer
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import check_signature

from bot.config import Config
from bot.models import ChannelState
from bot.outbox.channel_state import DbTokenStore
from channels.sandbox.wechat import Callback, WechatSimulator, sign
from channels.wechat.api import WechatApi

TOKEN, AES_KEY, APP_ID = "cb-token", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wx-sim"


async def serve(app: web.Application) -> AsyncIterator[TestServer]:
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


def bot_app(seen: list[dict[str, Any]], hold: asyncio.Event | None = None) -> web.Application:
    """A bot that records each callback and answers "success", once `hold` is set if given."""

    async def receive(request: web.Request) -> web.Response:
        q = request.query
        check_signature(TOKEN, q["signature"], q["timestamp"], q["nonce"])
        body = await request.text()
        if q.get("encrypt_type") == "aes":
            crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
            body = crypto.decrypt_message(body, q["msg_signature"], q["timestamp"], q["nonce"])
        seen.append(xmltodict.parse(body)["xml"])
        if hold is not None:
            await hold.wait()
        return web.Response(text="success")

    app = web.Application()
    app.router.add_post("/cb", receive)
    return app


@pytest.mark.parametrize("mode", ["safe", "plain"])
async def test_callback_is_signed_and_in_safe_mode_encrypted(mode: str) -> None:
    seen: list[dict[str, Any]] = []
    async for bot in serve(bot_app(seen)):
        callback = Callback(str(bot.make_url("/cb")), TOKEN, AES_KEY, APP_ID, mode)
        sim = WechatSimulator(APP_ID, callback=callback)
        result = await sim.push_follower_message("o_1", "你好")
        await sim.aclose()
    assert (result.status, result.attempts) == (200, 1)
    (msg,) = seen
    assert (msg["FromUserName"], msg["MsgType"], msg["Content"]) == ("o_1", "text", "你好")


async def test_slow_bot_gets_the_callback_three_times() -> None:
    # The bot answers only after the simulator has given up; each try waits 0.5 s (WeChat: 5 s),
    # time enough for the request to reach the bot however busy the machine is.
    seen: list[dict[str, Any]] = []
    answer = asyncio.Event()
    async for bot in serve(bot_app(seen, hold=answer)):
        callback = Callback(str(bot.make_url("/cb")), TOKEN, AES_KEY, APP_ID, "safe")
        callback.timeout = 0.5
        sim = WechatSimulator(APP_ID, callback=callback)
        try:
            result = await sim.push_event("subscribe", {}, "o_2")
        finally:
            answer.set()
            await sim.aclose()
    assert (result.status, result.attempts) == (0, 3)
    assert len(seen) == 3 and {m["Event"] for m in seen} == {"subscribe"}


def test_signature_is_sha1_of_sorted_token_timestamp_nonce() -> None:
    check_signature("t", sign("t", "1700000000", "n1"), "1700000000", "n1")


async def test_token_is_fetched_once_for_concurrent_callers_in_two_processes(
    config: Config,
) -> None:
    sim = WechatSimulator("wx", "s")
    async for server in serve(sim.app):
        base = str(server.make_url("")).rstrip("/")
        # Two "processes": separate clients and owners sharing the database.
        apis = [WechatApi([base], "wx", "s", 5, DbTokenStore(), f"proc{n}") for n in range(2)]
        for api in apis:
            await api.start()
        try:
            tokens = await asyncio.gather(*(api.tokens.get() for api in apis for _ in range(5)))
            assert len(set(tokens)) == 1
            assert sim.ledger.token_fetches == 1
            row = await ChannelState.get(key="wechat.token")
            assert (row.value["access_token"], row.lock_owner) == (tokens[0], "")
            # WeChat refuses it: one caller replaces it, the others use the replacement.
            sim.invalidate_tokens()
            fresh = await asyncio.gather(*(api.tokens.replace(tokens[0]) for api in apis))
            assert len(set(fresh)) == 1 and fresh[0] != tokens[0]
            assert sim.ledger.force_refreshes == 1
        finally:
            for api in apis:
                await api.close()


async def test_stable_token_normal_mode_keeps_the_token_force_refresh_replaces_it() -> None:
    sim = WechatSimulator("wx", "s")
    async for server in serve(sim.app):
        url = server.make_url("/cgi-bin/stable_token")
        body = {"grant_type": "client_credential", "appid": "wx", "secret": "s"}
        async with aiohttp.ClientSession() as http:
            first = await (await http.post(url, json=body)).json()
            again = await (await http.post(url, json=body)).json()
            forced = await (await http.post(url, json={**body, "force_refresh": True})).json()
            sim.advance(7200 - 200)  # within the last five minutes: a new token is issued
            late = await (await http.post(url, json=body)).json()
            wrong = await (await http.post(url, json={**body, "secret": "x"})).json()
    assert first["access_token"] == again["access_token"] and first["expires_in"] == 7200
    assert forced["access_token"] != first["access_token"]
    assert first["access_token"] not in sim.tokens  # invalidated by the force refresh
    assert late["access_token"] != forced["access_token"] and late["expires_in"] == 7200
    assert wrong["errcode"] == 40125
