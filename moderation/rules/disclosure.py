"""Disclosure attribute (公开属性): only 主动公开 items may go to a public channel."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from moderation.findings import FindingData, ReviewContext

LABELS = {"proactive": "主动公开", "on_request": "依申请公开", "withheld": "不予公开"}


def check(snapshot: dict[str, Any], context: ReviewContext) -> Iterator[FindingData]:
    disclosure = snapshot.get("disclosure") or ""
    if disclosure not in LABELS:
        yield FindingData(
            rule="disclosure.missing",
            severity="block",
            field="disclosure",
            message="未标注公开属性（主动公开 / 依申请公开 / 不予公开），请先标注。",
        )
        return
    public = [c for c in context.channels if c in context.public_channels]
    if disclosure != "proactive" and public:
        yield FindingData(
            rule="disclosure.not_public",
            severity="block",
            field="disclosure",
            message=f"公开属性为「{LABELS[disclosure]}」的稿件不能推送到公开渠道"
            f"（{'、'.join(public)}）；只有主动公开的稿件可以发布。",
        )
    if disclosure == "withheld" and not (snapshot.get("withheld_basis") or "").strip():
        yield FindingData(
            rule="disclosure.withheld_basis",
            severity="block",
            field="withheld_basis",
            message="不予公开的稿件须记录法律依据。",
        )
