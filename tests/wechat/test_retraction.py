"""Retracting an item WeChat carries as two copies (docs/channels/wechat.md Q2): the 发表 copy
goes with freepublish/delete, the 群发 copy with message/mass/delete (msg_id, 1-based
article_idx); the retraction's delivery row says per copy what happened, on the console too,
and the deleted copies' comments are no longer polled. Covers are kept material: articles
sharing a picture share one, and a retraction deletes the covers no article uses any more."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from bot.items import lifecycle
from bot.outbox import ops
from bot.outbox.channel_set import retract_support
from bot.wechat.mass_send import MassSender
from channels.wechat.channel import WechatChannel
from tests.channels.test_wechat import WechatEnv
from tests.waiting import sleep_until
from tests.web.console.test_auth import client_for, login
from tests.wechat.conftest import make_env, published_and_mass_sent


async def test_retraction_deletes_the_published_and_the_mass_sent_copy(
    env: WechatEnv, channel: WechatChannel
) -> None:
    first, second, mass = await published_and_mass_sent(env, channel)
    article_id = (await env.delivery(second)).remote_id
    env.sim.add_comment(mass["msg_data_id"], "o_follower", "解读的留言", index=1)

    retracted = await lifecycle.retract(
        second.id, env.staff.reviewer, "信息有误", retract_support(env.config)
    )
    assert retracted.cannot_retract == []
    await env.run()
    row = await env.delivery(second, "retract")
    assert row.status == "done", row.last_error
    # Both copies are gone: the 发表 (index 0: all of it) and the 群发's second article.
    assert env.sim.ledger.deleted == [(article_id, 0)]
    assert mass["deleted"] == [2]
    copies = [(c["label"], c["result"]) for c in row.checkpoint["copies"]]
    day = mass["day"]
    assert copies == [("发表", "已删除"), (f"群发（{day}，第 2 篇）", "已删除")]
    # Comments are read from the first item's copies only; the deleted article's answer 88001.
    targets = await channel.records.comment_targets()
    assert {t.item_id for t in targets} == {first.id}
    gone = {"msg_data_id": mass["msg_data_id"], "index": 1, "begin": 0, "count": 49}
    assert env.sim.comments.answer("comment/list", gone, 0)["errcode"] == 88001

    cclient = await client_for(env.config)
    try:
        await login(cclient, "bob", "Pw-bravo-2026")
        page = await (await cclient.get("/console/deliveries?channel=wechat")).text()
    finally:
        await cclient.close()
    listed = re.findall(r"<li>([^<]*)</li>", page.split('class="copies"')[1].split("</ul>")[0])
    assert listed == ["发表：已删除", f"群发（{day}，第 2 篇）：已删除"]


async def test_a_mass_copy_wechat_refuses_to_delete_is_reported_and_retried_alone(
    env: WechatEnv, channel: WechatChannel
) -> None:
    item = await env.approved("关于开展政务公开日活动的通知", notify=True)
    await env.run()
    outcome = await MassSender(env.config, channel).send_due(datetime.now(UTC))
    assert outcome is not None and outcome.status == "sent", outcome
    env.sim.faults.fail("message/mass/delete", 40060)  # a permanent refusal, once
    await lifecycle.retract(item.id, env.staff.reviewer, "信息有误", retract_support(env.config))
    await env.run()
    row = await env.delivery(item, "retract")
    assert row.status == "dead"
    assert "群发" in row.last_error and "40060" in row.last_error
    results = [c["result"] for c in row.checkpoint["copies"]]
    assert results[0] == "已删除" and results[1].startswith("未能删除：")
    # A reviewer retries: only the 群发 copy is asked again.
    await ops.retry(row.id, env.staff.reviewer)
    await env.run()
    row = await env.delivery(item, "retract")
    assert row.status == "done", row.last_error
    assert env.sim.ledger.calls["freepublish/delete"] == 1
    assert [c["result"] for c in row.checkpoint["copies"]] == ["已删除", "已删除"]


async def test_covers_are_shared_within_the_material_quota_and_freed_on_retraction(
    backend_url: str,
) -> None:
    async for env in make_env(backend_url):
        env.sim.quotas.materials["image"] = 10
        items = []
        for n in range(12):  # six with each picture as their first image (their cover)
            src = "/files/one.png" if n % 2 else "/files/two.jpg"
            body = f"第 {n + 1} 期活动安排如下。\n\n![现场]({src})"
            items.append(await env.approved(f"政务公开日活动第 {n + 1} 期", body=body))
        await env.run()
        for item in items:
            assert (await env.delivery(item)).status == "done"
        assert len(env.sim.ledger.materials) == 2  # one per picture, far from the quota
        by_picture = {}
        for item in items:
            by_picture.setdefault(
                (await env.delivery(item)).checkpoint["thumb_media_id"], []
            ).append(item)
        assert sorted(len(v) for v in by_picture.values()) == [6, 6]
        (one_cover, one_items), (other_cover, other_items) = by_picture.items()

        # Retracting five of the six articles that show one picture keeps its cover ...
        support = retract_support(env.config)
        for item in one_items[:5]:
            await lifecycle.retract(item.id, env.staff.reviewer, "撤稿", support)
        await env.run()
        assert set(env.sim.ledger.materials) == {one_cover, other_cover}
        # ... and retracting the last one deletes it from WeChat; the other stays.
        await lifecycle.retract(one_items[5].id, env.staff.reviewer, "撤稿", support)
        await env.run()
        assert set(env.sim.ledger.materials) == {other_cover}
        assert env.sim.ledger.deleted_materials == [one_cover]
        # A new article with the deleted picture uploads it again, once.
        again = await env.approved("政务公开日活动第 13 期", body=one_items[0].body)
        await env.run()
        cover = (await env.delivery(again)).checkpoint["thumb_media_id"]
        assert cover not in (one_cover, other_cover) and cover in env.sim.ledger.materials
        assert len(other_items) == 6 and env.sim.ledger.calls["material/add_material"] == 3


async def test_a_kept_cover_wechat_no_longer_has_is_uploaded_again(env: WechatEnv) -> None:
    first = await env.approved("关于开展政务公开日活动的通知")
    await env.run()
    kept = (await env.delivery(first)).checkpoint["thumb_media_id"]
    # Deleted behind our back (on mp.weixin.qq.com, or by a retraction racing this delivery).
    del env.sim.ledger.materials[kept]
    second = await env.approved("政务公开日活动解读")
    await env.run()
    row = await env.delivery(second)
    assert (row.status, row.error_class) == ("pending", "transient"), row.last_error
    assert "封面素材已不在微信素材库中" in row.last_error
    await sleep_until(row.next_attempt_at)  # the retry, after the dispatcher's backoff
    await env.run()
    row = await env.delivery(second)
    assert row.status == "done", row.last_error
    assert row.checkpoint["thumb_media_id"] != kept
    assert set(env.sim.ledger.materials) == {row.checkpoint["thumb_media_id"]}
    assert len(env.sim.ledger.drafts) == 2  # no draft was made with the missing cover
