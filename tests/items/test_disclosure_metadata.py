"""The 主动公开目录 metadata of items (issue 23): 成文日期, 主题分类 and 发布机构 as item content
(validated, snapshotted, pre-reviewed), and the 索引号 given once at an item's first approval
from the configured pattern and a counter that only goes up: unique when two processes approve
at once, never given again after a retraction, and given by migration 0010 to the items
approved before it."""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError
from tortoise.migrations.executor import MigrationExecutor, MigrationTarget
from tortoise.transactions import in_transaction

from bot import db
from bot.config import Config, ConfigError, parse_config
from bot.items import disclosure, lifecycle
from bot.items.schemas import ItemCreate, ItemPatch, field_errors
from bot.models import AuditEvent, Finding, IndexCounter, Item, ItemVersion
from bot.outbox.channel_set import retract_support
from tests.conftest import AUDIT_KEY, Staff, make_config
from tests.items.test_lifecycle import notice

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def config(any_config: Config) -> Config:
    """Every test here runs on SQLite and, when configured, PostgreSQL."""
    return any_config


@pytest.fixture
def staff(any_staff: Staff) -> Staff:
    return any_staff


def this_year() -> int:
    return datetime.now(ZoneInfo("Asia/Shanghai")).year


def policy(**overrides: object) -> ItemCreate:
    data: dict[str, object] = {
        "kind": "policy",
        "column": "policy",
        "title": "关于规范融资担保机构经营的若干规定",
        "body": "第一条 为规范融资担保机构经营行为，制定本规定。",
        "office": "法规处",
        "doc_number": "沪金规〔2026〕2号",
        "written_on": "2026-03-02",
        "topic": "财政、金融、审计",
    }
    data.update(overrides)
    return ItemCreate.model_validate(data)


async def approve_new(config: Config, staff: Staff, **overrides: object) -> Item:
    item = await lifecycle.create_item(notice(**overrides), staff.editor, config)
    await lifecycle.submit(item.id, staff.editor, config)
    return await lifecycle.approve(item.id, staff.reviewer, config)


# ---- the fields ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (20260302, "成文日期应为日期，格式 YYYY-MM-DD"),
        ("2026/03/02", "成文日期应为日期，格式 YYYY-MM-DD"),
        ("2026-03-02T09:00:00+08:00", "不带时间"),
        ("2026-02-30", "应为日期"),
        ("1900-01-01", "日期应不早于 1949-10-01"),
    ],
)
def test_a_written_date_that_is_not_a_calendar_date_is_refused_naming_the_field(
    value: object, message: str
) -> None:
    with pytest.raises(ValidationError) as err:
        ItemCreate.model_validate({"kind": "policy", "title": "标题", "written_on": value})
    [problem] = field_errors(err.value)
    assert problem["field"] == "written_on" and message in problem["message"]


def test_a_patch_clears_the_written_date_with_null_but_no_other_metadata_field() -> None:
    assert ItemPatch.model_validate({"written_on": None}).model_dump(exclude_unset=True) == {
        "written_on": None
    }
    with pytest.raises(ValidationError, match="字段 topic 不能为 null"):
        ItemPatch.model_validate({"topic": None})


async def test_a_topic_outside_the_configured_list_is_refused_naming_field_and_choices(
    config: Config, staff: Staff
) -> None:
    with pytest.raises(lifecycle.InvalidItem) as err:
        await lifecycle.create_item(policy(topic="金融稳定"), staff.editor, config)
    assert err.value.field == "topic"
    assert "主题分类（topic）「金融稳定」" in str(err.value)
    assert "综合政务、国民经济管理、国有资产监管、财政、金融、审计" in str(err.value)
    assert await Item.all().count() == 0

    item = await lifecycle.create_item(policy(), staff.editor, config)
    with pytest.raises(lifecycle.InvalidItem, match="主题分类"):
        await lifecycle.edit_item(item.id, ItemPatch(topic="金融稳定"), staff.editor, config)
    assert (await Item.get(id=item.id)).topic == "财政、金融、审计"


async def test_the_fields_are_stored_and_snapshotted_and_the_publisher_defaults_from_config(
    config: Config, staff: Staff
) -> None:
    item = await lifecycle.create_item(policy(), staff.editor, config)
    fresh = await Item.get(id=item.id)
    assert (fresh.written_on, fresh.topic, fresh.publisher) == (
        date(2026, 3, 2),
        "财政、金融、审计",
        config.app.name,  # neither [disclosure] publisher nor [site] agency is set
    )
    named = await lifecycle.create_item(policy(publisher="上海市财政局"), staff.editor, config)
    assert (await Item.get(id=named.id)).publisher == "上海市财政局"

    await lifecycle.submit(item.id, staff.editor, config)
    snap = (await ItemVersion.get(item_id=item.id, version=1)).snapshot
    assert (snap["written_on"], snap["topic"], snap["publisher"]) == (
        "2026-03-02",
        "财政、金融、审计",
        config.app.name,
    )
    assert "index_no" not in snap  # the item's, not a version's

    await lifecycle.edit_item(item.id, ItemPatch(written_on=None), staff.editor, config)
    assert (await Item.get(id=item.id)).written_on is None


def test_the_configured_publisher_comes_before_the_agency_and_the_app_name() -> None:
    assert parse_config({"app": {"name": "公开"}}).publisher() == "公开"
    site = {"agency": "上海市地方金融管理局"}
    assert parse_config({"site": site}).publisher() == "上海市地方金融管理局"
    named = {"site": site, "disclosure": {"publisher": "上海市地方金融管理局办公室"}}
    assert parse_config(named).publisher() == "上海市地方金融管理局办公室"


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("{office_code}-{year}", "must contain {seq}"),
        ("{office_code}-{seq}-{seq}", "must contain {seq}"),
        ("{agency}-{seq}", "unknown field {agency}"),
        ("{seq!r}", "unknown field {seq!r}"),
        ("{seq:.2f}", "integer format"),
        ("{seq:x}", "integer format"),
        ("{office_code}-{seq", "not a valid pattern"),
        ("{office_code:>70}-{seq}", "at most 64"),
    ],
)
def test_a_bad_index_pattern_is_refused_naming_the_key(pattern: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"disclosure": {"index_pattern": pattern}})
    assert "disclosure.index_pattern" in str(err.value) and message in str(err.value)


def test_patterns_render_and_scope_their_counters() -> None:
    d = parse_config({}).disclosure
    assert (d.index_number(2026, 7), d.index_scope(2026)) == ("GK-2026-00007", "GK-2026-{seq}")
    d = parse_config(
        {"disclosure": {"office_code": "000014349", "index_pattern": "{office_code}/{seq:06d}"}}
    ).disclosure
    # without {year} the count runs on across years
    assert d.index_number(2027, 12) == "000014349/000012"
    assert d.index_scope(2026) == d.index_scope(2027) == "000014349/{seq}"


# ---- the 索引号 ------------------------------------------------------------------------------


async def test_the_index_number_is_given_at_the_first_approval_and_kept_for_good(
    config: Config, staff: Staff
) -> None:
    item = await lifecycle.create_item(notice(), staff.editor, config)
    await lifecycle.submit(item.id, staff.editor, config)
    assert (await Item.get(id=item.id)).index_no is None  # not before approval
    await lifecycle.approve(item.id, staff.reviewer, config)
    first = f"GK-{this_year()}-00001"
    assert (await Item.get(id=item.id)).index_no == first
    event = await AuditEvent.filter(action="item.approve").get()
    assert event.details["index_no"] == first

    # A new version, approved again: the same number, and the counter did not move.
    await lifecycle.edit_item(item.id, ItemPatch(body="新的正文。"), staff.editor, config)
    await lifecycle.submit(item.id, staff.editor, config)
    await lifecycle.approve(item.id, staff.reviewer, config)
    assert (await Item.get(id=item.id)).index_no == first
    assert (await IndexCounter.get(scope=f"GK-{this_year()}-{{seq}}")).value == 1
    again = await AuditEvent.filter(action="item.approve").order_by("-id").first()
    assert again is not None and "index_no" not in again.details

    other = await approve_new(config, staff, title="关于另一事项的通知")
    assert other.index_no == f"GK-{this_year()}-00002"


async def test_a_retracted_items_number_stays_with_it_and_is_never_given_again(
    config: Config, staff: Staff
) -> None:
    gone = await approve_new(config, staff)
    assert gone.index_no == f"GK-{this_year()}-00001"
    await lifecycle.retract(gone.id, staff.reviewer, "内容有误", retract_support(config))
    after = await approve_new(config, staff, title="关于更正后事项的通知")
    assert after.index_no == f"GK-{this_year()}-00002"
    retracted = await Item.get(id=gone.id)
    assert (retracted.status, retracted.index_no) == ("retracted", f"GK-{this_year()}-00001")


async def test_a_policy_and_its_interpretation_approved_together_each_get_a_number(
    config: Config, staff: Staff
) -> None:
    item = await lifecycle.create_item(policy(), staff.editor, config)
    reading = await lifecycle.create_item(
        ItemCreate.model_validate(
            {
                "kind": "interpretation",
                "title": "《关于规范融资担保机构经营的若干规定》解读",
                "body": "本规定从三个方面明确了经营规则，下面逐一说明其背景与适用范围。",
                "related_id": item.id,
                "interpretation_forms": ["文字"],
            }
        ),
        staff.editor,
        config,
    )
    await lifecycle.submit(reading.id, staff.editor, config)
    await lifecycle.submit(item.id, staff.editor, config)
    await lifecycle.approve(item.id, staff.reviewer, config)
    numbers = [(await Item.get(id=i)).index_no for i in (item.id, reading.id)]
    assert numbers == [f"GK-{this_year()}-00001", f"GK-{this_year()}-00002"]


async def test_the_year_is_the_year_in_shanghai_and_a_taken_number_is_passed_over(
    config: Config, staff: Staff
) -> None:
    one = await lifecycle.create_item(notice(), staff.editor, config)
    two = await lifecycle.create_item(notice(title="第二份通知"), staff.editor, config)
    # A number written by an earlier pattern that the current one would write too.
    await Item.filter(id=two.id).update(index_no="GK-2026-00001")
    new_year = datetime(2025, 12, 31, 16, 30, tzinfo=UTC)  # 00:30 on 1 January in Shanghai
    async with in_transaction() as conn:
        given = await disclosure.assign_index_no(conn, one, config, new_year)
    assert given == "GK-2026-00002"
    assert (await Item.get(id=one.id)).index_no == "GK-2026-00002"
    async with in_transaction() as conn:  # it has one: nothing changes
        assert await disclosure.assign_index_no(conn, one, config, new_year) is None
    assert (await IndexCounter.get(scope="GK-2026-{seq}")).value == 2


def approver_config(path: Path, db_url: str) -> Path:
    path.write_text(f'[database]\nurl = "{db_url}"\n', encoding="utf-8")
    return path


async def approver(config_file: Path, item_ids: list[int]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.items.approver",
        str(config_file),
        *map(str, item_ids),
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "GONGKAI_AUDIT_KEY": AUDIT_KEY, "PYTHONUNBUFFERED": "1"},
    )


@pytest.mark.slow
async def test_two_processes_approving_the_same_items_at_once_give_each_one_number(
    config: Config, staff: Staff, backend_url: str, tmp_path: Path
) -> None:
    """Both processes try every item, eight at a time, each in its own order: every item is
    approved once, and the numbers are 1 … N with none twice (on PostgreSQL the counter row's
    lock orders them, and both processes get their share; on SQLite the write lock)."""
    count = 40
    ids = []
    for n in range(count):
        item = await lifecycle.create_item(notice(title=f"第{n + 1}号通知"), staff.editor, config)
        await lifecycle.submit(item.id, staff.editor, config)
        ids.append(item.id)
    config_file = approver_config(tmp_path / "approver.toml", backend_url)
    procs = []
    for seed in (1, 2):
        order = ids[:]
        random.Random(seed).shuffle(order)
        procs.append(await approver(config_file, order))
    try:
        for proc in procs:
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            assert line.strip() == b"ready", line
        for proc in procs:  # go, both at once
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
            await proc.stdin.drain()
        outputs = [await asyncio.wait_for(proc.communicate(), 120) for proc in procs]
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    results: list[dict[str, Any]] = [json.loads(out.splitlines()[-1]) for out, _ in outputs]
    assert all(proc.returncode == 0 for proc in procs)
    approved = [set(r["approved"]) for r in results]
    assert approved[0] | approved[1] == set(ids) and not approved[0] & approved[1]
    if backend_url.startswith("postgres"):  # SQLite's write lock may let one process take all
        assert all(approved), "each process should have approved some: they ran at once"

    numbers = await Item.filter(id__in=ids).values_list("index_no", flat=True)
    year = this_year()
    assert sorted(numbers) == [f"GK-{year}-{n:05d}" for n in range(1, count + 1)]
    assert (await IndexCounter.get(scope=f"GK-{year}-{{seq}}")).value == count


# ---- pre-review ------------------------------------------------------------------------------


async def test_a_policy_without_written_date_or_topic_gets_warnings_a_reviewer_must_accept(
    config: Config, staff: Staff
) -> None:
    item = await lifecycle.create_item(policy(written_on=None, topic=""), staff.editor, config)
    await lifecycle.create_item(
        ItemCreate.model_validate(
            {
                "kind": "interpretation",
                "title": "《关于规范融资担保机构经营的若干规定》解读",
                "body": "本规定从三个方面明确了经营规则，下面逐一说明其背景与适用范围。",
                "related_id": item.id,
                "interpretation_forms": ["文字"],
            }
        ),
        staff.editor,
        config,
    )
    outcome = await lifecycle.submit(item.id, staff.editor, config)
    assert outcome.item.status == "in_review"  # a warning, not a block
    found = await Finding.filter(
        item_id=item.id, stage="submit", rule="metadata.required"
    ).order_by("field")
    assert [(f.field, f.severity) for f in found] == [("topic", "warn"), ("written_on", "warn")]
    assert "「主题分类」" in found[0].message and "「成文日期」" in found[1].message

    with pytest.raises(lifecycle.FindingsNotOverridden, match="成文日期"):
        await lifecycle.approve(item.id, staff.reviewer, config)
    for finding in found:
        await lifecycle.override_finding(finding.id, staff.reviewer, "历史文件，成文日期待查")
    await lifecycle.approve(item.id, staff.reviewer, config)


async def test_a_complete_policy_and_a_notice_without_the_fields_get_no_metadata_finding(
    config: Config, staff: Staff
) -> None:
    from bot.items import prereview

    complete = lifecycle.snapshot(await lifecycle.create_item(policy(), staff.editor, config))
    findings = await prereview.run(complete, config, ["feed"])
    assert not [f for f in findings if f.rule.startswith("metadata.")]
    plain = lifecycle.snapshot(await lifecycle.create_item(notice(), staff.editor, config))
    findings = await prereview.run(plain, config, ["feed"])
    assert not [f for f in findings if f.rule.startswith("metadata.")]


async def test_a_future_written_date_or_a_topic_dropped_from_the_list_warns(
    config: Config, staff: Staff
) -> None:
    from bot.items import prereview

    snap = lifecycle.snapshot(await lifecycle.create_item(policy(), staff.editor, config))
    snap.update(written_on="2099-01-01", topic="旧的分类")
    findings = await prereview.run(snap, config, ["feed"])
    assert {(f.rule, f.field, f.severity) for f in findings if f.rule.startswith("metadata.")} == {
        ("metadata.written_on_future", "written_on", "warn"),
        ("metadata.topic", "topic", "warn"),
    }


# ---- migration 0010 gives the items approved before it their numbers -------------------------

BEFORE = "0009_staff_sessions_and_contributors"


def old_item(item_id: int, status: str, approved_at: str | None) -> str:
    approved = f"'{approved_at}'" if approved_at else "NULL"
    return (
        'INSERT INTO gk_item (id, kind, title, summary, body, "column", doc_number, office,'
        " disclosure, withheld_basis, interpretation_forms, enforcement, channels, version,"
        " status, author_id, source, return_reason, retraction_reason, created_at, updated_at,"
        f" approved_at) VALUES ({item_id}, 'notice', '旧条目{item_id}', '', '正文', 'notice',"
        f" '文号{item_id}', '办公室', 'proactive', '', '[]', '{{}}', '[]', 1, '{status}', 1, '',"
        f" '', '', '2025-01-01 00:00:00+00:00', '2025-01-01 00:00:00+00:00', {approved})"
    )


def old_version(item_id: int, version: int, approved_at: str | None, by: str = "user:bob") -> str:
    approved = f"'{approved_at}'" if approved_at else "NULL"
    return (
        "INSERT INTO gk_item_version (item_id, version, snapshot, created_by, created_at,"
        f" approved_by, approved_at) VALUES ({item_id}, {version}, '{{}}',"
        f" 'user:alice', '2025-01-01 00:00:00+00:00', '{by if approved_at else ''}', {approved})"
    )


def old_approval(n: int, item_id: int, at: str) -> str:
    return (
        "INSERT INTO gk_audit_event (at, actor, action, target_type, target_id, details,"
        f" prev_hash, hash) VALUES ('{at}', 'user:bob', 'item.approve', 'item', '{item_id}',"
        f" '{{}}', '', 'h{n}')"
    )


async def test_migration_numbers_the_items_approved_before_it_in_order_of_first_approval(
    fresh_backend_url: str,
) -> None:
    config = make_config(
        fresh_backend_url,
        disclosure={"office_code": "SHJR", "index_pattern": "{office_code}/{year}-{seq:04d}"},
    )
    await db.init(config, check_schema=False)
    try:
        executor = MigrationExecutor(db.connection(), db.tortoise_config_apps())
        await executor.migrate([MigrationTarget(app_label="models", name=BEFORE)])
        statements = [
            "INSERT INTO gk_user (id, username, display_name, office, roles, password_hash,"
            " active, created_at) VALUES (1, 'alice', '', '', '[\"editor\"]', '', TRUE,"
            " CURRENT_TIMESTAMP)",
            # 1: approved at 00:30 on 1 January 2026 in Shanghai (still 2025 in UTC)
            old_item(1, "published", "2025-12-31 16:30:00+00:00"),
            old_version(1, 1, "2025-12-31 16:30:00+00:00"),
            # 2: first approved in June 2025 (the audit trail says so), again in 2026 for a
            # second version that replaced the first
            old_item(2, "published", "2026-02-01 02:00:00+00:00"),
            old_version(2, 2, "2026-02-01 02:00:00+00:00"),
            old_approval(1, 2, "2025-06-01 02:00:00+00:00"),
            old_approval(2, 2, "2026-02-01 02:00:00+00:00"),
            # 3: approved in January 2026
            old_item(3, "approved", "2026-01-10 02:00:00+00:00"),
            old_version(3, 1, "2026-01-10 02:00:00+00:00"),
            # 4: submitted, never approved
            old_item(4, "in_review", None),
            old_version(4, 1, None),
            # 5: approved in March 2025, retracted since: it keeps a number
            old_item(5, "retracted", "2025-03-01 02:00:00+00:00"),
            old_version(5, 1, "2025-03-01 02:00:00+00:00"),
            # 6: imported with its upstream approval, not approved here yet: no number
            old_item(6, "in_review", None),
            old_version(6, 1, "2024-12-01 02:00:00+00:00", by="市政府办公厅"),
        ]
        for statement in statements:
            await db.connection().execute_script(statement)

        applied = await db.upgrade()
        assert applied[0] == "models.0010_disclosure_metadata"

        rows = await Item.all().order_by("id")
        assert [(r.id, r.index_no) for r in rows] == [
            (1, "SHJR/2026-0001"),
            (2, "SHJR/2025-0002"),
            (3, "SHJR/2026-0002"),
            (4, None),
            (5, "SHJR/2025-0001"),
            (6, None),
        ]
        # Nothing else changed: the new fields are empty, the old ones as they were.
        assert {(r.written_on, r.topic, r.publisher) for r in rows} == {(None, "", "")}
        assert [(r.title, r.doc_number, r.status) for r in rows][:2] == [
            ("旧条目1", "文号1", "published"),
            ("旧条目2", "文号2", "published"),
        ]
        counters = {c.scope: c.value for c in await IndexCounter.all()}
        assert counters == {"SHJR/2025-{seq}": 2, "SHJR/2026-{seq}": 2}

        # The next approval in 2026 continues the count.
        item = await Item.get(id=4)
        async with in_transaction() as conn:
            at = datetime(2026, 5, 1, 2, tzinfo=UTC)
            assert await disclosure.assign_index_no(conn, item, config, at) == "SHJR/2026-0003"
    finally:
        await db.close()
