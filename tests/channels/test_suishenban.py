"""The 随申办 adapter against its simulator over real HTTP on 127.0.0.1, without a database:
the contract and its overrides, signing and its refusals, the access token, error mapping,
lost answers, feedback polling and replies."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import aiohttp
import pytest

from bot.config import ConfigError, SuishenbanChannelConfig, parse_config
from bot.outbox.channel_set import build_suishenban as build
from bot.outbox.channel_set import contract_from
from channels.base import (
    AuthError,
    Content,
    NeedsOtherRoute,
    OutcomeUnknown,
    PermanentError,
    Published,
    RateLimited,
    TransientError,
)
from channels.sandbox import simulator_url
from channels.sandbox.suishenban import SuishenbanSimulator, start_simulator
from channels.suishenban.channel import (
    FeedbackInvalid,
    SuishenbanChannel,
    SuishenbanSettings,
    feedback_comment,
)
from channels.suishenban.contract import Contract, ReplayGuard

APP_ID = "ssb-test-app"
SECRET = "ssb-test-secret"
KEY = b"test-author-key"


@dataclass
class MemoryJob:
    """The Job protocol of channels/base.py, its checkpoint kept in memory."""

    idempotency_key: str = "gongkai-1-v1-suishenban-publish"
    delivery_id: int = 1
    checkpoint: dict[str, Any] = field(default_factory=dict)
    attempt: int = 1

    async def save(self, **updates: Any) -> None:
        self.checkpoint.update(updates)


def content(title: str = "关于开展政务公开日活动的通知", item_id: int = 1) -> Content:
    return Content(
        item_id=item_id,
        version=1,
        kind="notice",
        kind_label="通知公告",
        column="notice",
        title=title,
        summary="",
        html="<p>活动安排如下。</p>",
        text="活动安排如下。\n\n欢迎参加。",
        url=f"http://127.0.0.1:8080/items/{item_id}",
    )


@dataclass
class Env:
    sim: SuishenbanSimulator
    url: str
    contract: Contract

    def channel(self, **overrides: Any) -> SuishenbanChannel:
        values: dict[str, Any] = {
            "base_url": self.url,
            "app_id": APP_ID,
            "app_secret": SECRET,
            "rate_per_second": 1000,
            "timeout": 2,
        }
        values.update(overrides)
        return SuishenbanChannel(SuishenbanSettings(**values), self.contract, KEY)


async def make_env(contract: Contract | None = None, **opts: Any) -> AsyncIterator[Env]:
    contract = contract or Contract()
    runner, sim = await start_simulator(app_id=APP_ID, app_secret=SECRET, contract=contract, **opts)
    try:
        yield Env(sim, simulator_url(runner), contract)
    finally:
        await runner.cleanup()


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    async for e in make_env():
        yield e


@pytest.fixture
async def channel(env: Env) -> AsyncIterator[SuishenbanChannel]:
    ch = env.channel()
    await ch.start()
    yield ch
    await ch.close()


# -- the contract and configuration ------------------------------------------------------
def test_config_defaults_describe_the_contract_defaults() -> None:
    assert contract_from(SuishenbanChannelConfig()) == Contract()


@pytest.mark.parametrize(
    ("section", "value", "named"),
    [
        ("paths", {"pushh": "/x"}, "channels.suishenban.paths.pushh"),
        ("paths", {"reply": "/feedback/reply"}, "channels.suishenban.paths.reply"),
        ("headers", {"nonce": ""}, "channels.suishenban.headers.nonce"),
        ("error_codes", {"abc": "transient"}, "channels.suishenban.error_codes.abc"),
        ("sign_template", "{method}\n{path}\n{timestamp}", "channels.suishenban.sign_template"),
        ("sign_template", "{path}{timestamp}{nonce}{body_sha256}{secret}", "sign_template"),
    ],
)
def test_a_contract_override_that_cannot_work_is_a_config_error_naming_the_key(
    section: str, value: Any, named: str
) -> None:
    config = parse_config(
        {"channels": {"suishenban": {"enabled": True, "app_id": APP_ID, section: value}}},
        environ={"GONGKAI_SUISHENBAN_SECRET": SECRET, "GONGKAI_AUTHOR_KEY": "k"},
    )
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        build(config)


def test_building_without_the_app_secret_names_its_variable() -> None:
    config = parse_config(
        {"channels": {"suishenban": {"enabled": True, "app_id": APP_ID}}},
        environ={"GONGKAI_AUTHOR_KEY": "k"},
    )
    with pytest.raises(ConfigError, match="GONGKAI_SUISHENBAN_SECRET"):
        build(config)


def test_audience_all_cannot_be_combined_with_tags() -> None:
    with pytest.raises(ConfigError, match=r"channels\.suishenban\.audience"):
        parse_config({"channels": {"suishenban": {"audience": ["all", "企业"]}}}, environ={})


async def test_renamed_paths_headers_fields_and_base64_signing_work_end_to_end() -> None:
    contract = Contract.build(
        paths={"push": "/v2/msg/card/send", "lookup": "/v2/msg/card/query/{key}"},
        headers={"signature": "X-Ca-Signature", "nonce": "X-Ca-Nonce"},
        fields={"title": "card_title", "card_id": "msg_id", "code": "errcode"},
        sign_template="{app_id}&{method}&{path}&{timestamp}&{nonce}&{body_sha256}",
        signature_encoding="base64",
    )
    async for env in make_env(contract):
        ch = env.channel()
        await ch.start()
        try:
            published = await ch.publish(content(), MemoryJob())
            found = await ch.lookup(MemoryJob())
        finally:
            await ch.close()
        card = env.sim.ledger.cards[published.remote_id]
        assert card["title"] == "关于开展政务公开日活动的通知"
        assert found == published
        request = env.sim.ledger.requests[-1]
        assert request["path"].startswith("/v2/msg/card/query/")
        assert "X-Ca-Signature" in request["headers"] and "X-Signature" not in request["headers"]
        assert env.sim.ledger.rejected == []


async def test_a_path_in_the_base_url_is_part_of_the_signed_path() -> None:
    async for env in make_env(prefix="/gateway/ssb"):
        ch = env.channel(base_url=env.url + "/gateway/ssb")
        await ch.start()
        try:
            published = await ch.publish(content(), MemoryJob())
        finally:
            await ch.close()
        assert published.remote_id in env.sim.ledger.cards
        assert env.sim.ledger.requests[-1]["path"] == "/gateway/ssb/open/v1/cards"
        assert env.sim.ledger.rejected == []


# -- signing and its refusals (the simulator, as the platform) -------------------------
async def test_simulator_refuses_bad_signature_stale_timestamp_and_replay(env: Env) -> None:
    body = b'{"app_id":"ssb-test-app","grant_type":"client_credential"}'
    path = env.contract.path("token")

    async def post(headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        headers = {**headers, "Content-Type": "application/json"}
        async with (
            aiohttp.ClientSession() as session,
            session.post(env.url + path, data=body, headers=headers) as resp,
        ):
            return resp.status, await resp.json()

    wrong = env.contract.signed_headers("not-the-secret", APP_ID, "POST", path, body)
    stale = env.contract.signed_headers(SECRET, APP_ID, "POST", path, body, now=time.time() - 400)
    good = env.contract.signed_headers(SECRET, APP_ID, "POST", path, body)
    assert await post(wrong) == (401, {"code": 40001, "message": "签名无效"})
    assert (await post(stale))[1]["code"] == 40002
    assert (await post(good))[0] == 200
    assert (await post(good))[1]["code"] == 40003  # the same nonce again: a replay
    assert env.sim.ledger.rejected == [("token", 40001), ("token", 40002), ("token", 40003)]
    assert env.sim.ledger.tokens_issued == 1


def test_replay_guard_lets_a_nonce_in_again_only_after_its_window() -> None:
    guard = ReplayGuard(window_seconds=300)
    assert guard.check_and_remember("n1", now=1000)
    assert not guard.check_and_remember("n1", now=1500)
    assert guard.check_and_remember("n1", now=1601)
    guard.forget("n1")
    assert guard.check_and_remember("n1", now=1602)


# -- the access token ------------------------------------------------------------------
async def test_token_is_fetched_once_for_concurrent_calls(
    env: Env, channel: SuishenbanChannel
) -> None:
    jobs = [MemoryJob(f"key-{n}") for n in range(10)]
    assert await asyncio.gather(*(channel.lookup(j) for j in jobs)) == [None] * 10
    assert env.sim.ledger.tokens_issued == 1


async def test_token_is_refreshed_ahead_of_its_expiry() -> None:
    async for env in make_env(token_ttl=1):
        ch = env.channel(token_margin_seconds=300)  # margin capped at half the lifetime
        await ch.start()
        try:
            await ch.lookup(MemoryJob())
            await asyncio.sleep(0.6)  # still valid on the platform, but within the margin
            await ch.lookup(MemoryJob())
        finally:
            await ch.close()
        assert env.sim.ledger.tokens_issued == 2
        assert env.sim.ledger.calls["lookup"] == 2  # never refused for an expired token


async def test_token_refused_twice_is_an_auth_error_after_one_refresh(
    env: Env, channel: SuishenbanChannel
) -> None:
    env.sim.faults.codes["push"] = [40101, 40101]
    with pytest.raises(AuthError, match="40101"):
        await channel.publish(content(), MemoryJob())
    assert env.sim.ledger.tokens_issued == 2
    assert env.sim.ledger.cards == {}


async def test_wrong_app_credentials_are_an_auth_error(env: Env) -> None:
    ch = env.channel(app_id="someone-else")
    await ch.start()
    try:
        with pytest.raises(AuthError, match="40001"):
            await ch.publish(content(), MemoryJob())
    finally:
        await ch.close()


# -- errors ----------------------------------------------------------------------------
async def test_rate_limit_carries_the_platform_retry_after(
    env: Env, channel: SuishenbanChannel
) -> None:
    env.sim.faults.codes["push"] = [42901]
    env.sim.faults.retry_after = 3
    with pytest.raises(RateLimited) as caught:
        await channel.publish(content(), MemoryJob())
    assert caught.value.retry_after == 3


async def test_field_refused_by_the_platform_is_permanent_and_named() -> None:
    async for env in make_env(title_max=10):
        ch = env.channel()
        await ch.start()
        try:
            with pytest.raises(PermanentError, match="字段「title」") as caught:
                await ch.publish(content(), MemoryJob())
        finally:
            await ch.close()
        assert "40004" in str(caught.value)


async def test_title_over_the_channel_limit_is_refused_before_sending(
    env: Env, channel: SuishenbanChannel
) -> None:
    with pytest.raises(PermanentError, match="上限 64 字"):
        await channel.publish(content("长" * 65), MemoryJob())
    assert env.sim.ledger.calls["push"] == 0


async def test_unregistered_error_code_is_permanent_and_says_where_to_register(
    env: Env, channel: SuishenbanChannel
) -> None:
    env.sim.faults.codes["push"] = [40999]
    with pytest.raises(PermanentError, match="error_codes"):
        await channel.publish(content(), MemoryJob())


async def test_platform_errors_on_a_withdrawal_are_transient(
    env: Env, channel: SuishenbanChannel
) -> None:
    published = await channel.publish(content(), MemoryJob())
    env.sim.faults.codes["withdraw"] = [50301]
    with pytest.raises(TransientError):
        await channel.retract(published, MemoryJob())
    await channel.retract(published, MemoryJob())
    await channel.retract(published, MemoryJob())  # twice: withdrawn once
    assert env.sim.ledger.withdrawals == [published.remote_id]


async def test_withdrawing_a_card_the_platform_no_longer_has_is_done(
    env: Env, channel: SuishenbanChannel
) -> None:
    await channel.retract(Published("card-gone"), MemoryJob())
    assert env.sim.ledger.withdrawals == []


async def test_unreachable_platform_is_transient_not_unknown(env: Env) -> None:
    ch = env.channel(base_url="http://127.0.0.1:9")  # nothing listens: nothing was sent
    await ch.start()
    try:
        with pytest.raises(TransientError):
            await ch.publish(content(), MemoryJob())
    finally:
        await ch.close()


async def test_lost_push_answer_without_lookup_is_outcome_unknown_and_card_exists(
    env: Env,
) -> None:
    ch = env.channel(lookup=False)
    await ch.start()
    env.sim.faults.drop["push"] = 1
    try:
        with pytest.raises(OutcomeUnknown, match="结果未知"):
            await ch.publish(content(), MemoryJob())
    finally:
        await ch.close()
    assert len(env.sim.ledger.cards) == 1 and env.sim.ledger.calls["lookup"] == 0


async def test_retried_push_with_the_same_key_makes_no_second_card(
    env: Env, channel: SuishenbanChannel
) -> None:
    first = await channel.publish(content(), MemoryJob())
    again = await channel.publish(content(), MemoryJob())  # a worker that lost its checkpoint
    assert first == again and len(env.sim.ledger.cards) == 1
    assert env.sim.ledger.push_requests == 2


# -- feedback and replies --------------------------------------------------------------
async def test_polling_pages_through_feedback_with_the_cursor(env: Env) -> None:
    ch = env.channel(page_size=2)
    await ch.start()
    for n in range(5):
        env.sim.add_feedback("card-1", f"user-{n}", f"第 {n} 条留言")
    env.sim.ledger.feedback.insert(2, {"feedback_id": "", "_seq": 2.5})  # garbage: skipped
    try:
        seen: list[str] = []
        cursor: dict[str, Any] = {}
        for _ in range(5):
            page = await ch.poll_comments(cursor)
            seen += [c.remote_id for c in page.comments]
            if not page.comments and page.cursor == cursor:
                break
            cursor = page.cursor
    finally:
        await ch.close()
    assert seen == ["fb-1", "fb-2", "fb-3", "fb-4", "fb-5"]
    assert cursor == {"cursor": "5"}


async def test_reply_reaches_the_ledger_once_per_key(env: Env, channel: SuishenbanChannel) -> None:
    record = env.sim.add_feedback("card-1", "user-1", "请问何时截止？")
    ref = feedback_comment(env.contract, KEY, record).reply_ref
    first = await channel.send_reply(ref, "本月底截止。", key="reply-7")
    again = await channel.send_reply(ref, "本月底截止。", key="reply-7")
    assert first == again
    assert [(r["feedback_id"], r["content"]) for r in env.sim.ledger.replies.values()] == [
        ("fb-1", "本月底截止。")
    ]


async def test_reply_to_feedback_the_platform_closed_needs_another_route(
    channel: SuishenbanChannel,
) -> None:
    with pytest.raises(NeedsOtherRoute):
        await channel.send_reply({"type": "feedback", "feedback_id": "fb-404"}, "答复", "k")


async def test_reply_too_long_is_refused_naming_the_field(channel: SuishenbanChannel) -> None:
    ref = {"type": "feedback", "feedback_id": "fb-1"}
    with pytest.raises(PermanentError, match="字段「content」"):
        await channel.send_reply(ref, "答" * 1001, "k")


def test_feedback_times_in_seconds_milliseconds_and_iso_are_read() -> None:
    c = Contract()
    base = {"feedback_id": "f", "user_id": "u", "content": "x"}
    at = datetime(2024, 5, 6, 1, 2, 3, tzinfo=UTC)
    for value in (int(at.timestamp()), int(at.timestamp() * 1000), "2024-05-06T09:02:03"):
        assert feedback_comment(c, KEY, {**base, "created_at": value}).received_at == at
    zoned = feedback_comment(c, KEY, {**base, "created_at": "2024-05-06T01:02:03+00:00"})
    assert zoned.received_at.astimezone(timezone(timedelta(0))) == at
    with pytest.raises(FeedbackInvalid, match="created_at"):
        feedback_comment(c, KEY, {**base, "created_at": "yesterday"})
    with pytest.raises(FeedbackInvalid, match="rating"):
        feedback_comment(c, KEY, {**base, "rating": 9})
    with pytest.raises(FeedbackInvalid, match="user_id"):
        feedback_comment(c, KEY, {"feedback_id": "f", "content": "x"})
