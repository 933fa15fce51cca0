"""Comments (any channel, 12345 orders included) given their listed matter: every comment not
yet placed, spam aside, in order of arrival, by its masked text (bot/matters/matching.py),
one MatterComment row each, "" when none fits. A comment placed in a matter whose 专项回应
task is open is linked to that task too, so the bulk answer reaches it.

The rows are inserted with ON CONFLICT DO NOTHING: two processes placing the same comment at
once store it once. `again` places every comment and rating anew (after the list of matters
changed in config.toml).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from bot import audit, db
from bot.actors import Actor
from bot.config import Config
from bot.db import sql
from bot.matters.matching import Matcher
from bot.models import (
    Comment,
    CommentStatus,
    MatterComment,
    MatterTask,
    MatterTaskComment,
    MatterTaskStatus,
    Role,
    ServiceRating,
)

ACTOR = "system:matters"
BATCH = 500
COMMENTS = Comment._meta.db_table
PLACED = MatterComment._meta.db_table
LINKS = MatterTaskComment._meta.db_table


@dataclass
class Placed:
    comments: int = 0
    by_matter: Counter[str] = field(default_factory=Counter)
    linked: int = 0  # linked to an open task
    ratings: int = 0  # ratings placed anew (`again`)

    def as_dict(self) -> dict[str, object]:
        return {
            "comments": self.comments,
            "by_matter": dict(self.by_matter),
            "linked": self.linked,
            "ratings": self.ratings,
        }


async def _unplaced(after: int) -> list[dict[str, object]]:
    return await db.connection().execute_query_dict(
        sql(
            f"SELECT c.id, c.masked_text, c.category FROM {COMMENTS} c "
            f"LEFT JOIN {PLACED} m ON m.comment_id = c.id "
            "WHERE m.id IS NULL AND c.status <> ? AND c.id > ? ORDER BY c.id LIMIT ?"
        ),
        [CommentStatus.SPAM.value, after, BATCH],
    )


async def open_tasks() -> dict[str, int]:
    """The open task of each matter that has one: matter key → task id."""
    rows = await MatterTask.filter(status=MatterTaskStatus.OPEN.value).values_list("matter", "id")
    return {str(matter): int(task) for matter, task in rows}


async def link_to_task(
    conn: BaseDBAsyncClient, task_id: int, comment_ids: list[int], now: datetime
) -> int:
    """Link comments to a task (those already linked stay as they are); how many were new."""
    if not comment_ids:
        return 0
    one = "(?, ?, ?, '')"
    params: list[object] = []
    for comment_id in comment_ids:
        params += [task_id, comment_id, now]
    rows = await conn.execute_query_dict(
        sql(
            f"INSERT INTO {LINKS} (task_id, comment_id, linked_at, answered_by) VALUES "
            f"{', '.join(one for _ in comment_ids)} "
            "ON CONFLICT (task_id, comment_id) DO NOTHING RETURNING id"
        ),
        params,
    )
    return len(rows)


async def place_comments(config: Config, now: datetime | None = None) -> Placed:
    """Place every comment not yet placed; what was placed where."""
    now = now or datetime.now(UTC)
    matcher = Matcher(config.matters, config.hot_matters.similarity)
    ignored = set(config.hot_matters.tasks.ignore_categories)
    tasks = await open_tasks()
    done = Placed()
    after = 0
    while True:
        batch = await _unplaced(after)
        if not batch:
            break
        after = int(str(batch[-1]["id"]))
        matches = matcher.match_many([str(r["masked_text"] or "") for r in batch])
        params: list[object] = []
        for row, m in zip(batch, matches, strict=True):
            params += [row["id"], m.matter, m.method, m.score, now]
        one = "(?, ?, ?, ?, ?)"
        async with in_transaction() as conn:
            stored = await conn.execute_query_dict(
                sql(
                    f"INSERT INTO {PLACED} (comment_id, matter, method, score, assigned_at) "
                    f"VALUES {', '.join(one for _ in batch)} "
                    "ON CONFLICT (comment_id) DO NOTHING RETURNING comment_id, matter"
                ),
                params,
            )
            category = {int(str(r["id"])): str(r["category"] or "") for r in batch}
            to_link: dict[int, list[int]] = {}
            for r in stored:
                matter, comment_id = str(r["matter"]), int(str(r["comment_id"]))
                done.comments += 1
                if matter:
                    done.by_matter[matter] += 1
                    if matter in tasks and category[comment_id] not in ignored:
                        to_link.setdefault(tasks[matter], []).append(comment_id)
            for task_id, ids in to_link.items():
                done.linked += await link_to_task(conn, task_id, ids, now)
    return done


async def place_again(config: Config, actor: Actor, now: datetime | None = None) -> Placed:
    """Every comment and rating placed anew with the matters as configured now (links to
    tasks stay: a task answers the comments it was opened for)."""
    actor.require(Role.MODERATOR, doing="重新归集诉求")
    now = now or datetime.now(UTC)
    matcher = Matcher(config.matters, config.hot_matters.similarity)
    await MatterComment.all().delete()
    done = await place_comments(config, now)
    last = 0
    while True:
        ratings = await ServiceRating.filter(id__gt=last).order_by("id").limit(BATCH)
        if not ratings:
            break
        last = ratings[-1].id
        matches = matcher.match_many([r.text for r in ratings], [r.service for r in ratings])
        for rating, m in zip(ratings, matches, strict=True):
            if (rating.matter, rating.match_method) != (m.matter, m.method):
                await ServiceRating.filter(id=rating.id).update(
                    matter=m.matter, match_method=m.method, match_score=m.score
                )
                done.ratings += 1
    async with in_transaction() as conn:
        await audit.record(
            conn,
            actor.name,
            "matter.assign_again",
            "matters",
            "all",
            {"comments": done.comments, "ratings": done.ratings},
        )
    return done
