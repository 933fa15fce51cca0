"""The daily 群发 (bot/wechat/mass_send.py) against the simulator: the day's notify items bundled by
priority into one send of at most 8 articles, the rest reported as not fitting, a second send
the same day refused by our plan (MassSend row), never reaching WeChat, and a repeat of the
same clientmsgid: refused within a minute (45066), then answered as already sent (45065)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.models import AuditEvent, MassSend
from bot.wechat.mass_send import MassSender, run_mass_send
from channels.wechat.channel import WechatChannel
from tests.channels.test_wechat import WechatEnv, make_env

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def test_nine_notify_items_bundle_eight_by_priority_and_report_the_ninth(
    env: WechatEnv, channel: WechatChannel
) -> None:
    items = [await env.approved(f"通知{n}", notify=True, priority=n) for n in range(9)]
    quiet = await env.approved("不群发的通知")  # notify is off
    await env.run()
    assert len(env.sim.ledger.publications) == 10
    sender = MassSender(env.config, channel)
    today = datetime.now(UTC).astimezone(SHANGHAI).date()
    plan = await sender.plan_for(today)
    assert plan.status == "none"
    assert [a.title for a in plan.articles] == [f"通知{n}" for n in range(8, 0, -1)]
    assert [a.item_id for a in plan.left_out] == [items[0].id]
    assert quiet.id not in [a.item_id for a in plan.articles + plan.left_out]

    outcome = await sender.send_due(datetime.now(UTC))
    assert outcome is not None and outcome.status == "sent", outcome
    assert outcome.left_out == [items[0].id]
    (sent,) = env.sim.ledger.mass_sends
    assert sent["titles"] == [f"通知{n}" for n in range(8, 0, -1)]
    assert str(sent["msg_id"]) == outcome.msg_id  # a JSON number [S38], kept as text
    row = await MassSend.get(channel="wechat", day=today)
    assert (row.status, row.msg_id) == ("sent", outcome.msg_id)
    # What the comments of the 群发 copy are read by: its msg_data_id and each item's place.
    assert row.checkpoint["msg_data_id"] == sent["msg_data_id"]
    assert row.checkpoint["article_items"] == [items[n].id for n in range(8, 0, -1)]
    assert await AuditEvent.filter(action="wechat.mass_send").count() == 1
    # The ten articles share the default cover, kept once (two deliveries uploading it at the
    # same moment keep the first and delete the other); the mass send reused it too.
    assert len(env.sim.ledger.materials) == 1
    uploads = env.sim.ledger.calls["material/add_material"]
    assert uploads - len(env.sim.ledger.deleted_materials) == 1
    after = await sender.plan_for(today)
    assert (after.status, len(after.articles)) == ("sent", 8)


async def test_second_send_the_same_day_is_refused_by_our_plan_not_by_wechat(
    env: WechatEnv, channel: WechatChannel
) -> None:
    await env.approved("通知一", notify=True)
    await env.run()
    sender = MassSender(env.config, channel)
    first = await sender.send_due(datetime.now(UTC))
    assert first is not None and first.status == "sent"
    await env.approved("通知二", notify=True)
    await env.run()
    again = await sender.send_due(datetime.now(UTC))
    assert again is not None and again.status == "already_sent"
    assert env.sim.ledger.calls["message/mass/sendall"] == 1
    assert len(env.sim.ledger.mass_sends) == 1
    assert await MassSend.filter(channel="wechat").count() == 1


async def test_nothing_is_sent_before_the_configured_time(backend_url: str) -> None:
    async for env in make_env(backend_url, mass_send_time="23:59"):
        await env.approved("通知", notify=True)
        await env.run()
        local = datetime.now(UTC).astimezone(SHANGHAI)
        early = local.replace(hour=0, minute=1).astimezone(UTC)
        assert await MassSender(env.config).send_due(early) is None
        assert await MassSend.all().count() == 0


async def test_nothing_is_sent_without_notify_items(backend_url: str) -> None:
    async for env in make_env(backend_url):
        await env.approved("通知")  # not flagged
        await env.run()
        outcome = await run_mass_send(env.config, datetime.now(UTC))
        assert outcome is not None and outcome.status == "nothing"
        assert env.sim.ledger.calls["message/mass/sendall"] == 0


async def test_retry_within_a_minute_gets_45066_and_a_later_one_45065_counts_as_sent(
    backend_url: str,
) -> None:
    async for env in make_env(backend_url, timeout_seconds=0.5):
        env.sim.faults.lose_answer["message/mass/sendall"] = 1
        env.sim.faults.lost_answer_seconds = 1.0
        await env.approved("通知", notify=True)
        await env.run()
        now = datetime.now(UTC)
        first = await run_mass_send(env.config, now)
        assert first is not None and first.status == "retry"  # sent, but the answer was lost
        # The next tick, seconds later, repeats the clientmsgid too fast for WeChat (45066): a
        # rate-limited retry, not a failed 群发 [S25].
        second = await run_mass_send(env.config, now + timedelta(seconds=1))
        assert second is not None and second.status == "retry" and "45066" in second.error
        row = await MassSend.get(channel="wechat")
        assert row.status == "planned"
        calls = env.sim.ledger.calls["message/mass/sendall"]
        early = await run_mass_send(env.config, now + timedelta(seconds=30))
        assert early is not None and early.status == "waiting"
        assert env.sim.ledger.calls["message/mass/sendall"] == calls  # WeChat not asked
        # A minute on (on both clocks), the same clientmsgid: already sent (45065), with the
        # first send's msg_id.
        env.sim.advance(61)
        third = await run_mass_send(env.config, now + timedelta(seconds=62))
        assert third is not None and third.status == "sent", third
        (sent,) = env.sim.ledger.mass_sends
        assert third.msg_id == str(sent["msg_id"])
        row = await MassSend.get(channel="wechat")
        assert (row.status, row.msg_id, row.last_error) == ("sent", third.msg_id, "")
        assert "retry_at" not in row.checkpoint
        assert len(env.sim.ledger.drafts) == 2  # one article draft, one mass-send draft
