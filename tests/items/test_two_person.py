"""The two-person rule by version (issue 20): whoever created, edited or submitted a version of
an item may neither approve it nor accept its findings, whatever their roles; the contributors
are recorded by bot.items.lifecycle and, for data stored before, by migration 0009."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tortoise.migrations.executor import MigrationExecutor, MigrationTarget

from bot import db
from bot.actors import Actor
from bot.config import Config, SourceConfig
from bot.errors import NotPermitted
from bot.items import lifecycle
from bot.items.schemas import ItemPatch
from bot.models import Delivery, Finding, Item, ItemContributor, ItemVersion
from bot.outbox.channel_set import build_channels
from bot.outbox.dispatcher import Dispatcher
from bot.outbox.wakeup import Wakeup
from bot.sources.pull import source_actor
from tests.conftest import Staff, make_config
from tests.items.test_lifecycle import notice, policy_with_interpretation


@pytest.fixture
def config(any_config: Config) -> Config:
    """Every test here runs on SQLite and, when configured, PostgreSQL."""
    return any_config


@pytest.fixture
def staff(any_staff: Staff) -> Staff:
    return any_staff


def patch(**fields: object) -> ItemPatch:
    return ItemPatch.model_validate(fields)


async def written_by_alice_edited_by(config: Config, staff: Staff, editor: Actor) -> Item:
    """alice writes and submits a notice; `editor` changes its body and submits it again."""
    item = await lifecycle.create_item(notice(), staff.editor, config)
    await lifecycle.submit(item.id, staff.editor, config)
    await lifecycle.edit_item(
        item.id, patch(body="自下月起，办事大厅周六全天开放。"), editor, config
    )
    outcome = await lifecycle.submit(item.id, editor, config)
    assert outcome.item.status == "in_review"
    return outcome.item


async def contributors_of(item_id: int, version: int) -> list[tuple[str, int | None, str]]:
    rows = await lifecycle.contributors(item_id, version)
    return [(r.actor, r.user_id, r.first_action) for r in rows]


async def test_a_reviewer_who_edited_and_resubmitted_someone_elses_item_cannot_approve_it(
    config: Config, staff: Staff
) -> None:
    carol = staff.editor2  # editor and reviewer, not the author
    item = await written_by_alice_edited_by(config, staff, carol)
    with pytest.raises(lifecycle.TwoPersonRule) as refused:
        await lifecycle.approve(item.id, carol, config)
    assert isinstance(refused.value, NotPermitted) and refused.value.status_code == 403
    message = str(refused.value)
    assert message.startswith("两人审核规则") and f"《{item.title}》第 1 版" in message
    assert "不能批准" in message
    assert (await Item.get(id=item.id)).status == "in_review"
    assert await Delivery.filter(item_id=item.id).count() == 0

    await lifecycle.approve(item.id, staff.reviewer, config)  # bob never touched it
    assert (await ItemVersion.get(item_id=item.id, version=1)).approved_by == "user:bob"


async def test_an_edit_is_enough_even_when_the_author_submits_it_again(
    config: Config, staff: Staff
) -> None:
    item = await lifecycle.create_item(notice(), staff.editor, config)
    await lifecycle.submit(item.id, staff.editor, config)
    await lifecycle.edit_item(item.id, patch(summary="开放时间调整"), staff.editor2, config)
    await lifecycle.submit(item.id, staff.editor, config)
    with pytest.raises(lifecycle.TwoPersonRule):
        await lifecycle.approve(item.id, staff.editor2, config)
    assert (await Item.get(id=item.id)).status == "in_review"


async def test_an_admin_who_edited_cannot_approve_whatever_the_roles(
    config: Config, staff: Staff
) -> None:
    item = await written_by_alice_edited_by(config, staff, staff.admin)
    with pytest.raises(lifecycle.TwoPersonRule, match="两人审核规则"):
        await lifecycle.approve(item.id, staff.admin, config)
    assert (await Item.get(id=item.id)).status == "in_review"


async def test_a_new_version_is_judged_by_its_own_contributors(
    config: Config, staff: Staff
) -> None:
    # root edits version 1 before it is submitted; bob approves it and it is published
    item = await lifecycle.create_item(notice(), staff.editor, config)
    await lifecycle.edit_item(item.id, patch(summary="第一版摘要"), staff.admin, config)
    await lifecycle.submit(item.id, staff.editor, config)
    await lifecycle.approve(item.id, staff.reviewer, config)
    await Dispatcher(config, build_channels(config), Wakeup()).run_until_idle()
    assert (await Item.get(id=item.id)).status == "published"

    # carol's edit of the published item opens version 2; alice submits it
    edited = await lifecycle.edit_item(item.id, patch(summary="第二版摘要"), staff.editor2, config)
    assert (edited.version, edited.status) == (2, "draft")
    await lifecycle.submit(item.id, staff.editor, config)
    assert await contributors_of(item.id, 2) == [
        ("user:carol", staff.editor2.user_id, "edit"),
        ("user:alice", staff.editor.user_id, "submit"),
    ]
    with pytest.raises(lifecycle.TwoPersonRule, match=re.escape(f"《{item.title}》第 2 版")):
        await lifecycle.approve(item.id, staff.editor2, config)

    # root wrote part of version 1, not of version 2: the rule is by version
    await lifecycle.approve(item.id, staff.admin, config)
    assert (await ItemVersion.get(item_id=item.id, version=2)).approved_by == "user:root"


async def test_a_contributor_cannot_accept_the_findings_of_the_version(
    config: Config, staff: Staff
) -> None:
    item = await lifecycle.create_item(notice(column="policy"), staff.editor, config)
    await lifecycle.edit_item(item.id, patch(summary="涉及政策执行安排"), staff.editor2, config)
    outcome = await lifecycle.submit(item.id, staff.editor, config)
    assert outcome.item.status == "in_review"
    warning = await Finding.get(item_id=item.id, stage="submit", rule="required.column_kind")
    assert warning.needs_override

    with pytest.raises(lifecycle.TwoPersonRule, match="不能确认其预审提示"):
        await lifecycle.override_finding(warning.id, staff.editor2, "经研究放入政策文件栏目")
    assert (await Finding.get(id=warning.id)).overridden_at is None

    done = await lifecycle.override_finding(warning.id, staff.reviewer, "经研究放入政策文件栏目")
    assert done.overridden_by == "user:bob"
    with pytest.raises(lifecycle.TwoPersonRule):
        await lifecycle.approve(item.id, staff.editor2, config)
    await lifecycle.approve(item.id, staff.reviewer, config)


async def test_approving_a_policy_checks_the_interpretations_approved_with_it(
    config: Config, staff: Staff
) -> None:
    policy, reading = await policy_with_interpretation(config, staff)
    await lifecycle.edit_item(reading.id, patch(summary="解读摘要"), staff.editor2, config)
    await lifecycle.submit(reading.id, staff.editor, config)
    await lifecycle.submit(policy.id, staff.editor, config)

    # carol never touched the policy, but she edited its interpretation
    with pytest.raises(lifecycle.TwoPersonRule, match=re.escape(f"《{reading.title}》第 1 版")):
        await lifecycle.approve(policy.id, staff.editor2, config)
    assert (await Item.get(id=policy.id)).status == "in_review"
    assert (await Item.get(id=reading.id)).status == "in_review"
    assert await Delivery.filter(item_id__in=[policy.id, reading.id]).count() == 0

    await lifecycle.approve(policy.id, staff.reviewer, config)
    assert (await Item.get(id=reading.id)).status == "approved"


async def test_contributors_are_recorded_once_each_with_their_first_action(
    config: Config, staff: Staff
) -> None:
    item = await lifecycle.create_item(notice(), staff.editor, config)
    await lifecycle.edit_item(item.id, patch(summary="一"), staff.editor, config)
    await lifecycle.edit_item(item.id, patch(summary="二"), staff.editor2, config)
    await lifecycle.edit_item(item.id, patch(summary="三"), staff.editor2, config)
    await lifecycle.submit(item.id, staff.editor2, config)
    assert await contributors_of(item.id, 1) == [
        ("user:alice", staff.editor.user_id, "create"),
        ("user:carol", staff.editor2.user_id, "edit"),
    ]
    assert await ItemContributor.filter(item_id=item.id).count() == 2
    # An item released on request proposed for proactive disclosure is an edit too.
    on_request = await lifecycle.create_item(notice(disclosure="on_request"), staff.editor, config)
    await lifecycle.convert_to_proactive(on_request.id, staff.admin, config)
    assert ("user:root", staff.admin.user_id, "edit") in await contributors_of(on_request.id, 1)


async def test_an_upstream_import_is_recorded_as_an_import_without_an_account(
    config: Config, staff: Staff
) -> None:
    source = SourceConfig.model_validate(
        {"name": "gov", "url": "https://www.example.cn/a.atom", "approver": "市府办公厅"}
    )
    actor = await source_actor(source)
    item = await lifecycle.create_item(notice(), actor, config)
    await lifecycle.submit(item.id, actor, config)
    assert await contributors_of(item.id, 1) == [("source:gov", None, "import")]


# ---- migration 0009 fills in the contributors of what was stored before ---------------------

BEFORE = "0008_wechat_title"
ITEM_COLUMNS = (
    'id, kind, title, summary, body, "column", doc_number, office, disclosure, withheld_basis, '
    "interpretation_forms, enforcement, channels, version, status, author_id, source, "
    "return_reason, retraction_reason, created_at, updated_at"
)


def stored_item(item_id: int, author: int, version: int, source: str = "") -> str:
    return (
        f"INSERT INTO gk_item ({ITEM_COLUMNS}) VALUES ({item_id}, 'notice', '旧条目', '', '正文',"
        f" 'notice', '', '', 'proactive', '', '[]', '{{}}', '[]', {version}, 'in_review',"
        f" {author}, '{source}', '', '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    )


def stored_version(item_id: int, version: int, by: str) -> str:
    return (
        "INSERT INTO gk_item_version (item_id, version, snapshot, created_by, created_at,"
        f" approved_by) VALUES ({item_id}, {version}, '{{}}', '{by}', CURRENT_TIMESTAMP, '')"
    )


def stored_event(n: int, actor: str, action: str, item_id: int, details: str = "{}") -> str:
    return (
        "INSERT INTO gk_audit_event (at, actor, action, target_type, target_id, details,"
        f" prev_hash, hash) VALUES (CURRENT_TIMESTAMP, '{actor}', '{action}', 'item',"
        f" '{item_id}', '{details}', '', 'h{n}')"
    )


async def test_migration_fills_in_contributors_from_the_audit_trail_versions_and_authors(
    fresh_backend_url: str,
) -> None:
    await db.init(make_config(fresh_backend_url), check_schema=False)
    try:
        executor = MigrationExecutor(db.connection(), db.tortoise_config_apps())
        await executor.migrate([MigrationTarget(app_label="models", name=BEFORE)])
        users = [
            (1, "alice", '["editor"]'),
            (2, "carol", '["editor", "reviewer"]'),
            (3, "source.gov", '["editor"]'),
        ]
        statements = [
            "INSERT INTO gk_user (id, username, display_name, office, roles, password_hash,"
            f" active, created_at) VALUES ({uid}, '{name}', '', '', '{roles}', '', TRUE,"
            " CURRENT_TIMESTAMP)"
            for uid, name, roles in users
        ]
        statements += [
            # 1: alice wrote it, bob approved version 1, carol's edits opened version 2
            # (the second edit stayed in it), alice submitted version 2
            stored_item(1, 1, 2),
            stored_version(1, 1, "user:alice"),
            stored_version(1, 2, "user:alice"),
            stored_event(1, "user:alice", "item.create", 1),
            stored_event(2, "user:alice", "item.submit", 1, '{"version": 1}'),
            stored_event(3, "user:bob", "item.approve", 1, '{"version": 1}'),
            stored_event(4, "user:carol", "item.edit", 1, '{"new_version": 2}'),
            stored_event(5, "user:carol", "item.edit", 1, '{"fields": ["body"]}'),
            stored_event(6, "user:alice", "item.submit", 1, '{"version": 2}'),
            # 2: imported from a source
            stored_item(2, 3, 1, "gov:https://www.example.cn/1"),
            stored_version(2, 1, "source:gov"),
            # 3: no audit trail: its author, and carol who submitted it
            stored_item(3, 1, 1),
            stored_version(3, 1, "user:carol"),
            # an item deleted since: its events are passed over
            stored_event(7, "user:alice", "item.create", 99),
        ]
        for statement in statements:
            await db.connection().execute_script(statement)

        files = sorted(Path(db.__file__).parent.glob("migrations/0*.py"))
        applied = await db.upgrade()
        assert applied[0] == "models.0009_staff_sessions_and_contributors"
        assert applied == [f"models.{f.stem}" for f in files if f.stem > BEFORE]

        rows = await ItemContributor.all().order_by("item_id", "version", "id")
        assert [(r.item_id, r.version, r.actor, r.user_id, r.first_action) for r in rows] == [
            (1, 1, "user:alice", 1, "create"),
            (1, 2, "user:carol", 2, "edit"),
            (1, 2, "user:alice", 1, "submit"),
            (2, 1, "source:gov", None, "import"),
            (3, 1, "user:alice", 1, "create"),
            (3, 1, "user:carol", 2, "submit"),
        ]
        assert all(r.at is not None for r in rows)
    finally:
        await db.close()
