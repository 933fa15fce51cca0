"""The one claim statement (bot/outbox/claim.py) on PostgreSQL under a generic plan: the reply
sender and the outbox each take at most LIMIT rows. `plan_cache_mode = force_generic_plan` is
set on the database, so every session plans the prepared claim generically from its first
execution: deterministic, not "after five runs" as with the default."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from bot import db, users
from bot.config import Config
from bot.inbox import ops as inbox_ops
from bot.inbox.ingest import Inbox
from bot.inbox.replies import ReplySender
from bot.models import CommentReply, Delivery, User
from bot.outbox.store import Outbox
from channels.base import IncomingComment
from tests.conftest import add_test_user, make_config, pg_admin
from tests.seeding import approved_notice, store_approved

pytestmark = pytest.mark.postgres
AT = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)
DUE = 20
LIMIT = 3


@pytest.fixture
async def generic_plans(migrated_pg_url: str) -> AsyncIterator[Config]:
    """A migrated PostgreSQL database whose sessions always use generic plans."""
    name = urlsplit(migrated_pg_url).path.lstrip("/")
    await pg_admin(f'ALTER DATABASE "{name}" SET plan_cache_mode = force_generic_plan')
    config = make_config(migrated_pg_url)
    await db.init(config, check_schema=False)
    await db.upgrade()
    rows = await db.connection().execute_query_dict("SHOW plan_cache_mode")
    assert rows[0]["plan_cache_mode"] == "force_generic_plan"
    yield config
    await db.close()


async def test_the_reply_senders_claim_takes_at_most_limit_rows_under_a_generic_plan(
    generic_plans: Config,
) -> None:
    await add_test_user("mia", ["moderator"], "Pw-lima-2026", "system:test")
    mia = await users.actor_for_user("mia")
    inbox = Inbox(generic_plans)
    for i in range(DUE):
        done = await inbox.ingest(
            IncomingComment(
                "remote", f"m:{i}", f"第{i}个问题", AT, "message", reply_ref={"user": i}
            )
        )
        await inbox_ops.send_reply(done.comment.id, mia, text=f"答复{i}")
    sender = ReplySender(generic_plans, {}, owner="s1")
    for taken in (LIMIT, LIMIT, LIMIT):  # each execution of the prepared claim
        claimed = await sender.claim(LIMIT)
        assert len(claimed) == taken
    assert await CommentReply.filter(status="sending").count() == 3 * LIMIT


async def test_the_outbox_claim_takes_at_most_limit_rows_under_a_generic_plan(
    generic_plans: Config,
) -> None:
    await add_test_user("alice", ["editor"], "Pw-alpha-2026", "system:test")
    author = await User.get(username="alice")
    at = datetime.now(UTC) - timedelta(minutes=1)
    await store_approved(
        [approved_notice(i, author, ["webhook"], at) for i in range(1, DUE + 1)], at, wake=False
    )
    outbox = Outbox("w1", lease_seconds=60, missed_after=timedelta(hours=1))
    for _ in range(3):
        claimed = await outbox.claim("webhook", LIMIT)
        assert len(claimed) == LIMIT
    assert await Delivery.filter(status="running").count() == 3 * LIMIT
