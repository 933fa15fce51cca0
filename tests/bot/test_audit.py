"""The hash-chained audit log: intact chains verify, edited or deleted rows are found; the
chain is keyed (HMAC with the audit key of the environment), so a row rewritten and re-chained
without the key is found too, and so is a chain stripped of its keyed segment. Rows 1… of a
test: the key's checkpoint (row 1), then the four staff accounts (rows 2-5)."""

from __future__ import annotations

import asyncio

from bot import audit, db
from bot.config import Config
from bot.models import AuditEvent
from tests.conftest import Staff, add_test_user


async def test_intact_chain_verifies_every_row(config: Config, staff: Staff) -> None:
    result = await audit.verify()
    assert result.ok
    assert result.checked == await AuditEvent.all().count() == 5  # checkpoint, four users
    checkpoint = await AuditEvent.get(id=1)
    assert checkpoint.action == audit.KEY_ACTION
    assert checkpoint.details["key_id"] == audit.key_id(config.audit_key())


async def test_edited_row_is_reported_as_first_broken_link(config: Config, staff: Staff) -> None:
    await db.connection().execute_query(
        "UPDATE gk_audit_event SET details = ? WHERE id = 3", ['{"username":"mallory"}']
    )
    result = await audit.verify()
    assert (result.ok, result.broken_id, result.checked) == (False, 3, 2)
    assert "被修改" in result.reason


async def test_deleted_row_is_reported_at_the_row_after_it(config: Config, staff: Staff) -> None:
    await db.connection().execute_query("DELETE FROM gk_audit_event WHERE id = 3")
    result = await audit.verify()
    assert (result.ok, result.broken_id) == (False, 4)
    assert "删除或修改" in result.reason


async def rechain_without_the_key(first: int, forged: dict[str, object] | None = None) -> None:
    """What someone with database access but not the key can do: rewrite row `first` and
    recompute every hash from it on with plain SHA-256, so that every link matches."""
    rows = await AuditEvent.filter(id__gte=first).order_by("id")
    prev = rows[0].prev_hash
    for row in rows:
        details = forged if forged is not None and row.id == first else row.details
        content = audit.canonical(
            row.at, row.actor, row.action, row.target_type, row.target_id, details
        )
        digest = audit.chain_hash(prev, content)
        await AuditEvent.filter(id=row.id).update(details=details, prev_hash=prev, hash=digest)
        prev = digest


async def test_a_row_rewritten_and_rechained_without_the_key_is_named(
    config: Config, staff: Staff
) -> None:
    await rechain_without_the_key(3, {"username": "mallory"})
    result = await audit.verify()
    assert (result.ok, result.broken_id) == (False, 3)
    assert "未用审计密钥" in result.reason


async def test_a_chain_stripped_of_its_keyed_segment_fails_while_a_key_is_configured(
    config: Config, staff: Staff
) -> None:
    await db.connection().execute_query("DELETE FROM gk_audit_event WHERE id = 1")
    await AuditEvent.filter(id=2).update(prev_hash=audit.GENESIS)
    await rechain_without_the_key(2)
    result = await audit.verify()
    assert not result.ok and "链头不在该密钥的签名段内" in result.reason


async def test_unkeyed_rows_before_keying_verify_and_a_rotation_needs_the_old_key(
    config: Config,
) -> None:
    key, old_key = config.audit_key(), b"an-earlier-audit-key-0123456789abcdef"
    try:
        audit.use_keys(None)  # rows written before the deployment had a key
        await add_test_user("ann", ["editor"], "Pw-apple-2026", "system:test")
        audit.use_keys(old_key)
        await audit.ensure_keyed()
        await add_test_user("ben", ["editor"], "Pw-berry-2026", "system:test")
        audit.use_keys(key)  # rotated: the new key starts its segment at the next start
        await audit.ensure_keyed()
        await add_test_user("cat", ["editor"], "Pw-cherry-2026", "system:test")
        actions = [r.action for r in await AuditEvent.all().order_by("id")]
        assert actions == [
            "user.add",
            audit.KEY_ACTION,
            "user.add",
            audit.KEY_ACTION,
            "user.add",
        ]
        result = await audit.verify()  # the earlier key is not configured
        assert not result.ok and result.broken_id == 2 and audit.key_id(old_key) in result.reason
        audit.use_keys(key, (old_key,))
        assert (await audit.verify()).ok
    finally:
        audit.use_keys(key)


async def test_concurrent_appends_chain_into_one_line_that_verifies(any_config: Config) -> None:
    """Many transactions appending at once (on PostgreSQL the server-side append of migration
    0006 chains them) give one unbroken chain, with the content as written."""
    from tortoise.transactions import in_transaction

    before = await AuditEvent.exclude(action=audit.KEY_ACTION).count()

    async def append(n: int) -> None:
        async with in_transaction() as conn:
            await audit.record_many(
                conn,
                [
                    audit.Event("审核员", "item.approve", "item", n, {"说明": f"第{n}条", "k": i})
                    for i in range(3)
                ],
            )

    await asyncio.gather(*(append(n) for n in range(12)))
    written = await AuditEvent.exclude(action=audit.KEY_ACTION).count()
    assert written == before + 36
    result = await audit.verify()
    assert result.ok and result.checked == await AuditEvent.all().count()
    row = await AuditEvent.filter(target_id="7").order_by("id").first()
    assert row is not None and row.details == {"说明": "第7条", "k": 0} and row.actor == "审核员"
