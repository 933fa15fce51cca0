"""专项回应 tasks: a listed matter the public keeps raising becomes a task for its office.

The weekly job (scheduler/jobs.py `matters.tasks`, once for the deployment per week) places
the new comments (bot/matters/assign.py), then opens a task for every matter that crossed a
threshold of [hot_matters.tasks]: at least `complaints` messages in the last window_days days,
or among the `lowest_rated` by average 好差评 over rating_days. The task is due in
due_workdays working days (moderation/deadlines.py's calendar, as the inbox counts) and links
the matter's messages of the window; messages placed in the matter later are linked while it
is open.

One matter has at most one open task: the task row's open_matter is unique and holds the
matter while the task is open, so of two processes (or a job and a command) opening one at
once the second's insert fails, told as AlreadyOpen (procrastinate's AlreadyEnqueued idea).
A task closes only with a published response item and a note on what changed in the
process; closing is a compare-and-set from open in the transaction of its audit event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from bot import audit, db
from bot.actors import Actor
from bot.config import Config
from bot.db import sql
from bot.errors import Refusal
from bot.matters.assign import link_to_task, place_comments
from bot.matters.figures import (
    COMMENTS,
    PLACED,
    RatingFigures,
    counted,
    message_counts,
    rating_figures,
)
from bot.matters.settings import MatterConfig
from bot.models import (
    STATUS_LABELS,
    Comment,
    Item,
    ItemStatus,
    MatterTask,
    MatterTaskComment,
    MatterTaskStatus,
    Role,
)
from moderation.deadlines import WorkCalendar

ACTOR = "system:matters"
COMPLAINTS = "complaints"
LOW_RATING = "low_rating"
REASON_LABELS = {COMPLAINTS: "诉求集中", LOW_RATING: "好差评排名靠后"}
PUBLISHED = (ItemStatus.PUBLISHED.value, ItemStatus.PARTLY_PUBLISHED.value)
NOTE_MAX = 2000
MAX_ID = 2**31 - 1


class TaskError(Refusal):
    """Base of what a 专项回应 action refuses; str() says why, in Chinese."""


class TaskNotFound(TaskError):
    status_code = 404
    code = "task_not_found"

    def __init__(self, task_id: int) -> None:
        super().__init__(f"专项回应任务 #{task_id} 不存在。")


class AlreadyOpen(TaskError):
    """The matter has an open task: a second is not opened."""

    code = "task_already_open"

    def __init__(self, matter: MatterConfig) -> None:
        super().__init__(f"办事事项「{matter.name}」已有一项办理中的专项回应任务。")
        self.matter = matter


class TaskClosed(TaskError):
    code = "task_closed"

    def __init__(self, task_id: int) -> None:
        super().__init__(f"专项回应任务 #{task_id} 已办结，不能再次办结。")


class TaskStillOpen(TaskError):
    code = "task_open"

    def __init__(self, task_id: int) -> None:
        super().__init__(
            f"专项回应任务 #{task_id} 尚未办结：须先关联已发布的回应稿件并办结，才能批量答复。"
        )


class ResponseNotPublished(TaskError):
    code = "response_not_published"
    field = "item_id"

    def __init__(self, item: Item) -> None:
        shown = STATUS_LABELS.get(ItemStatus(item.status), item.status)
        then = "" if item.status == ItemStatus.RETRACTED.value else "请待其发布后再办结。"
        super().__init__(
            f"稿件 #{item.id}「{item.title}」当前状态为「{shown}」：专项回应须关联已发布的稿件"
            f"（办结和批量答复都是如此）。{then}"
        )


class InvalidTaskInput(TaskError):
    status_code = 422
    code = "validation_failed"

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


# -- opening ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    """A matter over a threshold, and what the thresholds saw."""

    matter: MatterConfig
    reasons: tuple[str, ...]
    figures: dict[str, Any]


async def candidates(config: Config, now: datetime) -> list[Candidate]:
    """The listed matters over a threshold at `now`, in config order."""
    rules = config.hot_matters.tasks
    until = now + timedelta(seconds=1)
    counts = await message_counts(config, now - timedelta(days=rules.window_days), until)
    rated = await rating_figures(now - timedelta(days=rules.rating_days), until)
    ranked = sorted(
        (
            (key, r)
            for key, r in rated.items()
            if r.count >= rules.min_ratings
            and r.average is not None
            and r.average < rules.rating_below
        ),
        key=lambda kr: (kr[1].average, -kr[1].low, -kr[1].count, kr[0]),
    )
    lowest = {key: rank for rank, (key, _) in enumerate(ranked[: rules.lowest_rated], start=1)}
    found = []
    for matter in config.matters:
        reasons = []
        n = counts.get(matter.key, 0)
        if n >= rules.complaints:
            reasons.append(COMPLAINTS)
        if matter.key in lowest:
            reasons.append(LOW_RATING)
        if not reasons:
            continue
        r = rated.get(matter.key, RatingFigures())
        figures: dict[str, Any] = {
            "complaints": n,
            "window_days": rules.window_days,
            "ratings": r.count,
            "average": r.average,
            "rating_days": rules.rating_days,
        }
        if matter.key in lowest:
            figures["rank"] = lowest[matter.key]
        found.append(Candidate(matter, tuple(reasons), figures))
    return found


async def _window_comments(
    config: Config, matter: str, since: datetime, until: datetime
) -> list[int]:
    where, params = counted(config)
    rows = await db.connection().execute_query_dict(
        sql(
            f"SELECT c.id FROM {PLACED} m JOIN {COMMENTS} c ON c.id = m.comment_id "
            f"WHERE {where} AND m.matter = ? AND c.received_at >= ? AND c.received_at <= ? "
            "ORDER BY c.id"
        ),
        [*params, matter, since, until],
    )
    return [int(r["id"]) for r in rows]


async def open_task(
    candidate: Candidate, config: Config, actor: str, now: datetime | None = None
) -> MatterTask:
    """Open the candidate's task, due in due_workdays working days, linked to the matter's
    messages of the window; AlreadyOpen when the matter has an open task."""
    now = now or datetime.now(UTC)
    rules = config.hot_matters.tasks
    matter = candidate.matter
    due, known = WorkCalendar.from_config(config.inbox.deadlines).due_at(now, rules.due_workdays)
    since = now - timedelta(days=rules.window_days)
    ids = await _window_comments(config, matter.key, since, now)
    async with in_transaction() as conn:
        try:
            task = await MatterTask.create(
                using_db=conn,
                matter=matter.key,
                matter_name=matter.name,
                office=matter.office,
                open_matter=matter.key,
                status=MatterTaskStatus.OPEN.value,
                reasons=list(candidate.reasons),
                figures=candidate.figures,
                opened_by=actor,
                opened_at=now,
                due_at=due,
                calendar_known=known,
            )
        except IntegrityError as exc:  # open_matter is taken: the matter has an open task
            raise AlreadyOpen(matter) from exc
        linked = await link_to_task(conn, task.id, ids, now)
        await audit.record(
            conn,
            actor,
            "task.open",
            "matter_task",
            task.id,
            {
                "matter": matter.name,
                "office": matter.office,
                "reasons": list(candidate.reasons),
                "complaints": candidate.figures.get("complaints"),
                "average": candidate.figures.get("average"),
                "due_at": due.isoformat(),
                "linked": linked,
            },
        )
    return task


@dataclass
class ScanResult:
    placed: int = 0
    opened: list[int] = field(default_factory=list)  # task ids
    already_open: list[str] = field(default_factory=list)  # matter keys

    def as_dict(self) -> dict[str, Any]:
        return {"placed": self.placed, "opened": self.opened, "already_open": self.already_open}


async def scan(config: Config, now: datetime | None = None, actor: str = ACTOR) -> ScanResult:
    """Place new comments, then open a task for each matter over a threshold (the weekly
    job's work; `gongkai task scan` runs it at once)."""
    now = now or datetime.now(UTC)
    result = ScanResult(placed=(await place_comments(config, now)).comments)
    for candidate in await candidates(config, now):
        try:
            task = await open_task(candidate, config, actor, now)
        except AlreadyOpen:
            result.already_open.append(candidate.matter.key)
        else:
            result.opened.append(task.id)
    return result


async def scan_now(config: Config, actor: Actor, now: datetime | None = None) -> ScanResult:
    """A person runs the scan at once (`gongkai task scan`), recorded as theirs."""
    actor.require(Role.MODERATOR, doing="立即检查集中诉求")
    return await scan(config, now, actor.name)


# -- closing ---------------------------------------------------------------------------------
def check_note(note: str | None) -> str:
    text = (note or "").strip()
    if not text:
        raise InvalidTaskInput("请填写办结说明：流程作了哪些改进（不能为空）。", "note")
    if len(text) > NOTE_MAX:
        raise InvalidTaskInput(f"办结说明过长（{len(text)} 字，最多 {NOTE_MAX} 字）。", "note")
    return text


async def response_item(item_id: int, conn: BaseDBAsyncClient | None = None) -> Item:
    """The published item a task may close with; the refusal names what is wrong with it."""
    if not 1 <= item_id <= MAX_ID:
        raise InvalidTaskInput(f"稿件编号「{item_id}」无效。", "item_id")
    item = await Item.filter(id=item_id).using_db(conn).first()
    if item is None:
        raise InvalidTaskInput(f"稿件 #{item_id} 不存在，请填写已发布的回应稿件编号。", "item_id")
    if item.status not in PUBLISHED:
        raise ResponseNotPublished(item)
    return item


async def close_task(
    task_id: int,
    actor: Actor,
    *,
    item_id: int,
    note: str,
    now: datetime | None = None,
) -> MatterTask:
    """Close a task with its published response item and the note on what changed."""
    actor.require(Role.EDITOR, Role.MODERATOR, doing="办结专项回应任务")
    text = check_note(note)
    now = now or datetime.now(UTC)
    async with in_transaction() as conn:
        task = await MatterTask.filter(id=task_id).using_db(conn).first()
        if task is None:
            raise TaskNotFound(task_id)
        if task.status != MatterTaskStatus.OPEN.value:
            raise TaskClosed(task_id)
        item = await response_item(item_id, conn)
        on_time = now <= task.due_at
        changes: dict[str, Any] = {
            "status": MatterTaskStatus.CLOSED.value,
            "open_matter": None,
            "closed_at": now,
            "closed_by": actor.name,
            "note": text,
            "response_item_id": item.id,
            "on_time": on_time,
        }
        changed = (
            await MatterTask.filter(id=task_id, status=MatterTaskStatus.OPEN.value)
            .using_db(conn)
            .update(**changes)
        )
        if changed != 1:
            raise TaskClosed(task_id)
        task.update_from_dict(changes)
        await audit.record(
            conn,
            actor.name,
            "task.close",
            "matter_task",
            task_id,
            {"item_id": item.id, "note": text, "on_time": on_time},
        )
    return task


# -- reading ---------------------------------------------------------------------------------
async def list_tasks(
    status: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[MatterTask], int]:
    """Tasks, the open ones by due time first, then the newest; with the total."""
    query = MatterTask.all()
    if status is not None:
        if status not in {s.value for s in MatterTaskStatus}:
            raise InvalidTaskInput(f"状态「{status}」无效，可选：open、closed。", "status")
        query = query.filter(status=status)
    total = await query.count()
    rows = await query.order_by("-status", "due_at", "-id").offset(offset).limit(limit)
    return rows, total


@dataclass
class TaskDetail:
    task: MatterTask
    links: list[MatterTaskComment]
    comments: dict[int, Comment]
    item: Item | None


async def get_task(task_id: int) -> TaskDetail:
    async with db.snapshot() as conn:
        task = await MatterTask.filter(id=task_id).using_db(conn).first()
        if task is None:
            raise TaskNotFound(task_id)
        links = await MatterTaskComment.filter(task_id=task_id).using_db(conn).order_by("id")
        comments = await Comment.filter(id__in=[link.comment_id for link in links]).using_db(conn)
        item = None
        if task.response_item_id is not None:
            item = await Item.filter(id=task.response_item_id).using_db(conn).first()
    return TaskDetail(task, list(links), {c.id: c for c in comments}, item)
