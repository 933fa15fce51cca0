"""The JSON shapes of matters, tasks and the bulk answer, as the API and `--json` give them
(times ISO 8601 UTC, texts masked as staff see them)."""

from __future__ import annotations

from typing import Any

from bot.items.serialize import iso
from bot.matters.answers import Answered, Plan
from bot.matters.figures import MatterFigures, Suggestion, TaskFigures
from bot.matters.tasks import REASON_LABELS, TaskDetail
from bot.models import MatterTask


def matter_json(f: MatterFigures) -> dict[str, Any]:
    return {
        "key": f.matter.key,
        "name": f.matter.name,
        "office": f.matter.office,
        "messages_30d": f.count,
        "previous_30d": f.previous,
        "hotline_30d": f.hotline,
        "daily": list(f.daily),
        "ratings": f.ratings.count,
        "average_rating": f.ratings.average,
        "low_ratings": f.ratings.low,
        "open_task": f.open_task.id if f.open_task is not None else None,
    }


def suggestion_json(s: Suggestion) -> dict[str, Any]:
    return {
        "words": list(s.words),
        "size": s.size,
        "comments": list(s.comments),
        "ratings": list(s.ratings),
        "samples": list(s.samples),
        "offices": [{"office": o, "count": n} for o, n in s.offices],
    }


def task_json(t: MatterTask) -> dict[str, Any]:
    return {
        "id": t.id,
        "matter": t.matter,
        "matter_name": t.matter_name,
        "office": t.office,
        "status": t.status,
        "reasons": list(t.reasons),
        "reason_labels": [REASON_LABELS.get(r, r) for r in t.reasons],
        "figures": dict(t.figures),
        "opened_by": t.opened_by,
        "opened_at": iso(t.opened_at),
        "due_at": iso(t.due_at),
        "calendar_known": t.calendar_known,
        "response_item_id": t.response_item_id,
        "note": t.note,
        "closed_by": t.closed_by,
        "closed_at": iso(t.closed_at),
        "on_time": t.on_time,
    }


def task_detail_json(d: TaskDetail) -> dict[str, Any]:
    return {
        **task_json(d.task),
        "comments": [
            {
                "id": link.comment_id,
                "channel": d.comments[link.comment_id].channel,
                "text": d.comments[link.comment_id].masked_text,
                "status": d.comments[link.comment_id].status,
                "received_at": iso(d.comments[link.comment_id].received_at),
                "reply_id": link.reply_id,
                "answered_at": iso(link.answered_at),
            }
            for link in d.links
            if link.comment_id in d.comments
        ],
    }


def rates_json(r: TaskFigures) -> dict[str, Any]:
    return {
        "opened": r.opened,
        "closed": r.closed,
        "on_time": r.on_time,
        "late": r.late,
        "overdue_open": r.overdue_open,
        "open": r.open,
        "on_time_rate": r.on_time_rate,
    }


def plan_json(p: Plan) -> dict[str, Any]:
    return {
        "task": p.task.id,
        "item_id": p.item.id,
        "url": p.url,
        "text": p.text,
        "comments": [
            {"id": r.comment.id, "channel": r.comment.channel, "state": r.state, "reason": r.reason}
            for r in p.rows
        ],
    }


def answered_json(a: Answered) -> dict[str, Any]:
    return {
        "queued": a.queued,
        "awaiting_signoff": a.signoff,
        "already_answered": a.already,
        "skipped": [{"id": c, "reason": why} for c, why in a.skipped],
    }
