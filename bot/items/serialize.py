"""The JSON shapes of items, deliveries and findings, one for the API and the command line's
--json alike: times in UTC as ISO 8601, codes alongside their Chinese labels."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from bot.models import (
    DELIVERY_ACTION_LABELS,
    DELIVERY_STATUS_LABELS,
    DISCLOSURE_LABELS,
    KIND_LABELS,
    STATUS_LABELS,
    Delivery,
    DeliveryAction,
    DeliveryStatus,
    Disclosure,
    Finding,
    Item,
    ItemStatus,
    Kind,
)
from moderation.findings import FindingData


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC; the database hands back UTC, naive only if a backend drops the zone."""
    if value is None:
        return None
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


Code = TypeVar("Code", bound=StrEnum)


def coded(name: str, code: str, kind: type[Code], labels: Mapping[Code, str]) -> dict[str, str]:
    """A code and its Chinese label side by side: {"status": …, "status_label": …}."""
    return {name: code, f"{name}_label": labels.get(kind(code), code)}


def item_json(item: Item, *, full: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": item.id,
        **coded("kind", item.kind, Kind, KIND_LABELS),
        "title": item.title,
        "wechat_title": item.wechat_title,
        "summary": item.summary,
        "column": item.column,
        "doc_number": item.doc_number,
        "office": item.office,
        # 主动公开目录 metadata; index_no is given at the first approval and never changes
        "index_no": item.index_no,
        "written_on": item.written_on.isoformat() if item.written_on else None,
        "topic": item.topic,
        "publisher": item.publisher,
        "validity": item.validity,
        **coded("disclosure", item.disclosure, Disclosure, DISCLOSURE_LABELS),
        **coded("status", item.status, ItemStatus, STATUS_LABELS),
        "version": item.version,
        "published_version": item.published_version,
        "author_id": item.author_id,
        "related_id": item.related_id,
        "channels": item.channels,
        "publish_at": iso(item.publish_at),
        "created_at": iso(item.created_at),
        "updated_at": iso(item.updated_at),
        "submitted_at": iso(item.submitted_at),
        "approved_at": iso(item.approved_at),
        "published_at": iso(item.published_at),
        "retracted_at": iso(item.retracted_at),
        "return_reason": item.return_reason,
        "retraction_reason": item.retraction_reason,
    }
    if full:
        out.update(
            body=item.body,
            withheld_basis=item.withheld_basis,
            interpretation_forms=item.interpretation_forms,
            enforcement=item.enforcement,
            source=item.source,
        )
    return out


def delivery_json(d: Delivery) -> dict[str, Any]:
    return {
        "id": d.id,
        "item_id": d.item_id,
        "item_version": d.item_version,
        "channel": d.channel,
        **coded("action", d.action, DeliveryAction, DELIVERY_ACTION_LABELS),
        **coded("status", d.status, DeliveryStatus, DELIVERY_STATUS_LABELS),
        "attempts": d.attempts,
        "due_at": iso(d.due_at),
        "next_attempt_at": iso(d.next_attempt_at),
        "remote_id": d.remote_id,
        "remote_url": d.remote_url,
        "last_error": d.last_error,
        "error_class": d.error_class,
        "created_at": iso(d.created_at),
        "updated_at": iso(d.updated_at),
        "finished_at": iso(d.finished_at),
    }


def finding_json(f: Finding) -> dict[str, Any]:
    return {
        "id": f.id,
        "rule": f.rule,
        "severity": f.severity,
        "stage": f.stage,
        "field": f.field,
        "message": f.message,
        "item_version": f.item_version,
        "span": [f.span_start, f.span_end] if f.span_start is not None else None,
        "suggestion": f.suggestion,
        "overridable": f.overridable,
        "needs_override": f.needs_override,
        "overridden_by": f.overridden_by,
        "override_reason": f.override_reason,
        "overridden_at": iso(f.overridden_at),
        "created_at": iso(f.created_at),
    }


def review_finding_json(f: FindingData) -> dict[str, Any]:
    """A pre-review finding that was not stored (a dry-run review)."""
    return {
        "rule": f.rule,
        "severity": f.severity,
        "overridable": f.overridable,
        "field": f.field,
        "message": f.message,
        "span": list(f.span) if f.span else None,
        "suggestion": f.suggestion,
    }
