"""The item state machine through bot.items.lifecycle: transitions, audit, outbox rows, versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot import audit
from bot.config import Config
from bot.items import lifecycle
from bot.items.schemas import ItemCreate, ItemPatch
from bot.models import AuditEvent, Delivery, Finding, Item, ItemVersion
from bot.outbox.channel_set import retract_support
from tests.conftest import Staff, make_config


@pytest.fixture
def config(any_config: Config) -> Config:
    """Every test here runs on SQLite and, when configured, PostgreSQL."""
    return any_config


@pytest.fixture
def staff(any_staff: Staff) -> Staff:
    return any_staff


def notice(**overrides: object) -> ItemCreate:
    data: dict[str, object] = {
        "kind": "notice",
        "title": "关于调整办事大厅开放时间的通知",
        "body": "自下月起，办事大厅周六上午开放。",
        "office": "办公室",
    }
    data.update(overrides)
    return ItemCreate.model_validate(data)


async def approved_item(config: Config, staff: Staff, **overrides: object) -> Item:
    item = await lifecycle.create_item(notice(**overrides), staff.editor, config)
    await lifecycle.submit(item.id, staff.editor, config)
    return await lifecycle.approve(item.id, staff.reviewer, config)


async def test_submit_then_approve_by_another_user_writes_one_delivery_per_channel(
    config: Config, staff: Staff
) -> None:
    item = await lifecycle.create_item(notice(), staff.editor, config)
    outcome = await lifecycle.submit(item.id, staff.editor, config)
    assert outcome.item.status == "in_review"
    await lifecycle.approve(item.id, staff.reviewer, config)

    fresh = await Item.get(id=item.id)
    assert fresh.status == "approved"
    deliveries = await Delivery.filter(item_id=item.id).values("channel", "action", "status")
    assert deliveries == [{"channel": "feed", "action": "publish", "status": "pending"}]
    version = await ItemVersion.get(item_id=item.id, version=1)
    assert version.approved_by == "user:bob"
    actions = await AuditEvent.filter(target_type="item", target_id=str(item.id)).values_list(
        "action", flat=True
    )
    assert actions == ["item.create", "item.submit", "item.prereview_passed", "item.approve"]


async def test_reviewer_cannot_approve_own_item(config: Config, staff: Staff) -> None:
    item = await lifecycle.create_item(notice(), staff.editor2, config)
    await lifecycle.submit(item.id, staff.editor2, config)
    with pytest.raises(lifecycle.SelfApproval, match="不能批准自己"):
        await lifecycle.approve(item.id, staff.editor2, config)
    assert (await Item.get(id=item.id)).status == "in_review"
    assert await Delivery.filter(item_id=item.id).count() == 0


async def test_editor_without_reviewer_role_cannot_approve(config: Config, staff: Staff) -> None:
    item = await lifecycle.create_item(notice(), staff.editor2, config)
    await lifecycle.submit(item.id, staff.editor2, config)
    with pytest.raises(lifecycle.NotPermitted, match="审核"):
        await lifecycle.approve(item.id, staff.editor, config)


async def test_approving_twice_raises_and_writes_the_outbox_once(
    config: Config, staff: Staff
) -> None:
    item = await approved_item(config, staff)
    with pytest.raises(lifecycle.IllegalTransition, match="「待审核」"):
        await lifecycle.approve(item.id, staff.reviewer, config)
    assert await Delivery.filter(item_id=item.id).count() == 1


async def test_illegal_transition_names_the_state_that_allows_it(
    config: Config, staff: Staff
) -> None:
    item = await lifecycle.create_item(notice(), staff.editor, config)
    with pytest.raises(lifecycle.IllegalTransition) as err:
        await lifecycle.approve(item.id, staff.reviewer, config)
    assert "当前状态为「草稿」" in str(err.value)
    assert "待审核" in str(err.value)


async def test_prereview_returns_item_with_missing_required_field(
    config: Config, staff: Staff
) -> None:
    item = await lifecycle.create_item(notice(body=""), staff.editor, config)
    outcome = await lifecycle.submit(item.id, staff.editor, config)
    assert outcome.item.status == "returned"
    assert "正文" in outcome.item.return_reason
    finding = await Finding.get(item_id=item.id, stage="submit")
    assert (finding.rule, finding.severity, finding.field) == ("required.field", "block", "body")


async def test_prereview_blocks_non_proactive_item_for_public_channels(
    config: Config, staff: Staff
) -> None:
    item = await lifecycle.create_item(notice(disclosure="on_request"), staff.editor, config)
    outcome = await lifecycle.submit(item.id, staff.editor, config)
    assert outcome.item.status == "returned"
    assert "依申请公开" in outcome.item.return_reason


async def test_prereview_warns_on_kind_that_does_not_fit_column(
    config: Config, staff: Staff
) -> None:
    item = await lifecycle.create_item(notice(column="policy"), staff.editor, config)
    outcome = await lifecycle.submit(item.id, staff.editor, config)
    assert outcome.item.status == "in_review"
    mixed = [f for f in outcome.findings if f.rule == "required.column_kind"]
    assert [f.severity for f in mixed] == ["warn"]
    assert mixed[0].needs_override
    stored = await Finding.get(item_id=item.id, stage="submit", rule="required.column_kind")
    assert stored.severity == "warn"


async def test_return_requires_reason_and_records_it(config: Config, staff: Staff) -> None:
    item = await lifecycle.create_item(notice(), staff.editor, config)
    await lifecycle.submit(item.id, staff.editor, config)
    with pytest.raises(lifecycle.InvalidItem):
        await lifecycle.return_item(item.id, staff.reviewer, "  ")
    returned = await lifecycle.return_item(item.id, staff.reviewer, "缺少政策解读稿件")
    assert returned.status == "returned"
    assert returned.return_reason == "缺少政策解读稿件"
    # The author fixes it and submits again.
    again = await lifecycle.submit(item.id, staff.editor, config)
    assert again.item.status == "in_review"


async def test_publish_at_in_future_schedules_delivery_for_that_time(
    config: Config, staff: Staff
) -> None:
    when = datetime.now(UTC) + timedelta(days=2)
    item = await approved_item(config, staff, publish_at=when)
    assert item.status == "scheduled"
    delivery = await Delivery.get(item_id=item.id)
    assert abs((delivery.next_attempt_at - when).total_seconds()) < 1

    later = when + timedelta(days=1)
    moved = await lifecycle.schedule(item.id, staff.reviewer, later)
    assert moved.status == "scheduled"
    assert abs(((await Delivery.get(item_id=item.id)).next_attempt_at - later).total_seconds()) < 1
    now_item = await lifecycle.schedule(item.id, staff.reviewer, None)
    assert now_item.status == "approved"
    assert (await Delivery.get(item_id=item.id)).next_attempt_at <= datetime.now(UTC)


async def test_editing_approved_item_makes_new_version_and_cancels_pending_deliveries(
    config: Config, staff: Staff
) -> None:
    item = await approved_item(config, staff)
    edited = await lifecycle.edit_item(
        item.id, ItemPatch(title="更正后的标题"), staff.editor, config
    )
    assert (edited.version, edited.status) == (2, "draft")
    assert (await Delivery.get(item_id=item.id)).status == "cancelled"
    v1 = await ItemVersion.get(item_id=item.id, version=1)
    assert v1.snapshot["title"] == "关于调整办事大厅开放时间的通知"  # the approved text is kept

    await lifecycle.submit(item.id, staff.editor, config)
    await lifecycle.approve(item.id, staff.reviewer, config)
    statuses = (
        await Delivery.filter(item_id=item.id)
        .order_by("item_version")
        .values_list("item_version", "status")
    )
    assert statuses == [(1, "cancelled"), (2, "pending")]


async def test_retract_before_publication_cancels_pending_deliveries(
    config: Config, staff: Staff
) -> None:
    item = await approved_item(config, staff)
    outcome = await lifecycle.retract(item.id, staff.reviewer, "内容有误", retract_support(config))
    assert outcome.item.status == "retracted"
    rows = await Delivery.filter(item_id=item.id).values_list("action", "status")
    assert rows == [("publish", "cancelled")]  # nothing went out, so nothing to take back


async def test_retract_requires_reason_and_a_retractable_state(
    config: Config, staff: Staff
) -> None:
    item = await lifecycle.create_item(notice(), staff.editor, config)
    with pytest.raises(lifecycle.IllegalTransition, match="撤稿"):
        await lifecycle.retract(item.id, staff.reviewer, "理由", retract_support(config))
    with pytest.raises(lifecycle.InvalidItem, match="理由"):
        await lifecycle.retract(item.id, staff.reviewer, "", retract_support(config))


async def test_interpretation_must_name_an_existing_policy(config: Config, staff: Staff) -> None:
    data = ItemCreate.model_validate(
        {"kind": "interpretation", "title": "解读", "body": "正文", "related_id": 999}
    )
    with pytest.raises(lifecycle.InvalidItem) as err:
        await lifecycle.create_item(data, staff.editor, config)
    assert err.value.field == "related_id"
    assert await Item.all().count() == 0


async def test_unknown_target_channel_is_refused(config: Config, staff: Staff) -> None:
    with pytest.raises(lifecycle.InvalidItem, match="渠道「weibo」不存在"):
        await lifecycle.create_item(notice(channels=["weibo"]), staff.editor, config)


async def test_every_transition_is_audited_in_an_intact_chain(config: Config, staff: Staff) -> None:
    item = await approved_item(config, staff)
    await lifecycle.retract(item.id, staff.reviewer, "撤回", retract_support(config))
    result = await audit.verify()
    assert result.ok
    assert result.checked == await AuditEvent.all().count()


async def test_disabled_target_channel_is_refused_not_left_pending(
    config: Config, staff: Staff
) -> None:
    # webhook exists but is disabled in the test config: an item aimed at it would never go out.
    with pytest.raises(lifecycle.InvalidItem, match="渠道「webhook」未启用"):
        await lifecycle.create_item(notice(channels=["webhook"]), staff.editor, config)
    assert await Item.all().count() == 0


async def test_warning_must_be_overridden_in_writing_before_approval(
    config: Config, staff: Staff
) -> None:
    # A notice filed under the policy column: content mixing is a warning, not a block.
    item = await lifecycle.create_item(notice(column="policy"), staff.editor, config)
    outcome = await lifecycle.submit(item.id, staff.editor, config)
    assert outcome.item.status == "in_review"
    warning = await Finding.get(item_id=item.id, stage="submit", rule="required.column_kind")
    with pytest.raises(lifecycle.FindingsNotOverridden, match=f"《{item.title}》：") as refused:
        await lifecycle.approve(item.id, staff.reviewer, config)
    assert refused.value.finding_ids == [warning.id] and "#" not in str(refused.value)
    assert await Delivery.filter(item_id=item.id).count() == 0

    with pytest.raises(lifecycle.InvalidItem, match="书面理由"):
        await lifecycle.override_finding(warning.id, staff.reviewer, " ")
    with pytest.raises(lifecycle.NotPermitted):
        await lifecycle.override_finding(warning.id, staff.editor, "编辑不能确认")
    overridden = await lifecycle.override_finding(
        warning.id, staff.reviewer, "此通知须在政策栏目同步公告"
    )
    assert overridden.overridden_by == "user:bob"
    await lifecycle.approve(item.id, staff.reviewer, config)
    assert (await Item.get(id=item.id)).status == "approved"
    event = await AuditEvent.get(action="finding.override")
    assert event.details["reason"] == "此通知须在政策栏目同步公告"


async def test_a_block_cannot_be_overridden(config: Config, staff: Staff) -> None:
    item = await lifecycle.create_item(notice(body=""), staff.editor, config)
    await lifecycle.submit(item.id, staff.editor, config)
    block = await Finding.get(item_id=item.id, stage="submit", rule="required.field")
    with pytest.raises(lifecycle.NotPermitted, match="不可豁免"):
        await lifecycle.override_finding(block.id, staff.reviewer, "理由")


async def test_every_edit_is_reviewed_and_its_findings_stored(config: Config, staff: Staff) -> None:
    item = await lifecycle.create_item(notice(), staff.editor, config)
    await lifecycle.edit_item(item.id, ItemPatch(body=""), staff.editor, config)
    rules = await Finding.filter(item_id=item.id, stage="edit").values_list("rule", flat=True)
    assert rules == ["required.field"]


async def test_on_request_item_converted_to_proactive_is_reviewed_as_new(
    config: Config, staff: Staff
) -> None:
    item = await lifecycle.create_item(notice(disclosure="on_request"), staff.editor, config)
    returned = await lifecycle.submit(item.id, staff.editor, config)
    assert returned.item.status == "returned"  # 依申请公开 cannot go to public channels
    converted = await lifecycle.convert_to_proactive(item.id, staff.editor, config)
    assert (converted.disclosure, converted.status) == ("proactive", "draft")
    assert (await lifecycle.submit(item.id, staff.editor, config)).item.status == "in_review"
    with pytest.raises(lifecycle.InvalidItem, match="依申请公开"):
        await lifecycle.convert_to_proactive(item.id, staff.editor, config)
    assert await AuditEvent.filter(action="item.convert_to_proactive").count() == 1


async def test_office_word_list_additions_from_config_are_applied(
    any_config: Config, any_staff: Staff
) -> None:
    strict = make_config(
        any_config.database.url, review={"sensitive_words": ["内部评比名单"], "check_links": False}
    )
    item = await lifecycle.create_item(
        notice(body="附件：内 部 评比名单（略）"), any_staff.editor, strict
    )
    outcome = await lifecycle.submit(item.id, any_staff.editor, strict)
    assert outcome.item.status == "returned"
    hit = next(f for f in outcome.findings if f.rule == "wording.sensitive")
    assert hit.field == "body" and hit.span == (3, 11)  # "内 部 评比名单" in the original


async def test_schedule_given_in_beijing_time_is_stored_and_claimed_in_utc(
    config: Config, staff: Staff
) -> None:
    from zoneinfo import ZoneInfo

    item = await approved_item(config, staff)
    soon = datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(minutes=30)
    await lifecycle.schedule(item.id, staff.reviewer, soon)
    delivery = await Delivery.get(item_id=item.id)
    assert delivery.next_attempt_at.utcoffset() == timedelta(0)
    assert abs((delivery.next_attempt_at - soon).total_seconds()) < 1
    # Not due yet: nothing is claimed.
    from bot.outbox.store import Outbox

    assert await Outbox("w", 60, timedelta(days=1)).claim("feed", 10) == []


async def policy_with_interpretation(config: Config, staff: Staff) -> tuple[Item, Item]:
    policy = await lifecycle.create_item(
        ItemCreate.model_validate(
            {
                "kind": "policy",
                "column": "policy",
                "title": "关于规范地方金融组织经营的若干规定",
                "body": "第一条 为规范地方金融组织经营行为，制定本规定。",
                "office": "法规处",
                "written_on": "2026-03-02",
                "topic": "财政、金融、审计",
            }
        ),
        staff.editor,
        config,
    )
    reading = await lifecycle.create_item(
        ItemCreate.model_validate(
            {
                "kind": "interpretation",
                "column": "interpretation",
                "title": "《关于规范地方金融组织经营的若干规定》政策解读",
                "body": "本规定围绕三个方面明确了监管要求，下面逐一说明其背景与适用范围。",
                "related_id": policy.id,
                "interpretation_forms": ["文字", "图解"],
            }
        ),
        staff.editor,
        config,
    )
    return policy, reading


async def test_policy_without_interpretation_is_returned_for_the_missing_reading(
    config: Config, staff: Staff
) -> None:
    policy = await lifecycle.create_item(
        ItemCreate.model_validate(
            {
                "kind": "policy",
                "column": "policy",
                "title": "关于某事项的通知（规范性文件）",
                "body": "第一条 ……",
                "office": "法规处",
            }
        ),
        staff.editor,
        config,
    )
    outcome = await lifecycle.submit(policy.id, staff.editor, config)
    assert outcome.item.status == "returned"
    assert "缺少政策解读稿件" in outcome.item.return_reason


async def test_policy_and_its_interpretation_are_approved_and_sent_together(
    config: Config, staff: Staff
) -> None:
    policy, reading = await policy_with_interpretation(config, staff)
    await lifecycle.submit(reading.id, staff.editor, config)
    await lifecycle.submit(policy.id, staff.editor, config)
    with pytest.raises(lifecycle.NotTogether, match=f"《{policy.title}》"):
        await lifecycle.approve(reading.id, staff.reviewer, config)
    await lifecycle.approve(policy.id, staff.reviewer, config)
    assert (await Item.get(id=reading.id)).status == "approved"
    due = await Delivery.filter(item_id__in=[policy.id, reading.id]).values_list(
        "item_id", "due_at"
    )
    assert len(due) == 2 and due[0][1] == due[1][1]  # one publication time for both
