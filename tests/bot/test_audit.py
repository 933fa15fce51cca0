"""The hash-chained audit log: intact chains verify, edited or deleted rows are found."""

from __future__ import annotations

import asyncio

from bot import audit, db
from bot.config import Config
from bot.models import AuditEvent
from tests.conftest import Staff


async def test_intact_chain_verifies_every_row(config: Config, staff: Staff) -> None:
    result = await audit.verify()
    assert result.ok
    assert result.checked == await AuditEvent.all().count() == 4  # the four users added


async def test_edited_row_is_reported_as_first_broken_link(config: Config, staff: Staff) -> None:
    await db.connection().execute_query(
        "UPDATE gk_audit_event SET details = ? WHERE id = 2", ['{"username":"mallory"}']
    )
    result = await audit.verify()
    assert (result.ok, result.broken_id, result.checked) == (False, 2, 1)
    assert "被修改" in result.reason


async def test_deleted_row_is_reported_at_the_row_after_it(config: Config, staff: Staff) -> None:
    await db.connection().execute_query("DELETE FROM gk_audit_event WHERE id = 2")
    result = await audit.verify()
    assert (result.ok, result.broken_id) == (False, 3)
    assert "删除或修改" in result.reason


async def test_rehashing_an_edited_row_still_breaks_the_next_link(
    config: Config, staff: Staff
) -> None:
    row = await AuditEvent.get(id=2)
    forged = {"username": "mallory"}
    content = audit.canonical(row.at, row.actor, row.action, row.target_type, row.target_id, forged)
    await AuditEvent.filter(id=2).update(
        details=forged, hash=audit.chain_hash(row.prev_hash, content)
    )
    result = await audit.verify()
    assert (result.ok, result.broken_id) == (False, 3)


async def test_concurrent_appends_chain_into_one_line_that_verifies(any_config: Config) -> None:
    """Many transactions appending at once (on PostgreSQL the server-side append of migration
    0006 chains them) give one unbroken chain, with the content as written."""
    from tortoise.transactions import in_transaction

    before = await AuditEvent.all().count()

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
    assert await AuditEvent.all().count() == before + 36
    result = await audit.verify()
    assert result.ok and result.checked == before + 36
    row = await AuditEvent.filter(target_id="7").order_by("id").first()
    assert row is not None and row.details == {"说明": "第7条", "k": 0} and row.actor == "审核员"
