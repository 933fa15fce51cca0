"""The JSON shapes the API returns for items, deliveries and findings: times in UTC as ISO 8601,
codes alongside their Chinese labels."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

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


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC; the database hands back UTC, naive only if a backend drops the zone."""
    if value is None:
        return None
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


def item_json(item: Item, *, full: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": item.id,
        "kind": item.kind,
        "kind_label": KIND_LABELS.get(Kind(item.kind), item.kind),
        "title": item.title,
        "summary": item.summary,
        "column": item.column,
        "doc_number": item.doc_number,
        "office": item.office,
        "disclosure": item.disclosure,
        "disclosure_label": DISCLOSURE_LABELS.get(Disclosure(item.disclosure), item.disclosure),
        "status": item.status,
        "status_label": STATUS_LABELS.get(ItemStatus(item.status), item.status),
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
        "action": d.action,
        "action_label": DELIVERY_ACTION_LABELS.get(DeliveryAction(d.action), d.action),
        "status": d.status,
        "status_label": DELIVERY_STATUS_LABELS.get(DeliveryStatus(d.status), d.status),
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
        "rule": f.rule,
        "severity": f.severity,
        "stage": f.stage,
        "field": f.field,
        "message": f.message,
        "item_version": f.item_version,
        "span": [f.span_start, f.span_end] if f.span_start is not None else None,
        "suggestion": f.suggestion,
        "created_at": iso(f.created_at),
    }
