"""Pre-review: run every rule family on an item snapshot and return its findings.

Runs at submission, on every edit, and again just before dispatch. A finding that blocks stops
submission and dispatch; one that needs an override must be overridden by a reviewer with a
written reason first. Rule families live one a file in moderation/rules/; RULES lists them in
the order they run, and the link check (the one that waits on the network) runs last.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from moderation.findings import FindingData, ReviewContext
from moderation.rules import (
    channel_limits,
    dates,
    disclosure,
    doc_number,
    enforcement,
    interpretation,
    links,
    metadata,
    privacy,
    required,
    secrecy,
    wording,
)

__all__ = ["FindingData", "ReviewContext", "review"]

Rule = Callable[[dict[str, Any], ReviewContext], Iterable[FindingData]]

RULES: tuple[Rule, ...] = (
    required.check,
    metadata.check,
    disclosure.check,
    interpretation.check,
    privacy.check,
    enforcement.check,
    secrecy.check,
    wording.check,
    doc_number.check,
    dates.check,
    channel_limits.check,
)


async def review(snapshot: dict[str, Any], context: ReviewContext) -> list[FindingData]:
    findings: list[FindingData] = []
    for rule in RULES:
        findings.extend(rule(snapshot, context))
    findings.extend(await links.check(snapshot, context))  # waits on the network: last
    return _one_per_place(findings)


def _one_per_place(findings: list[FindingData]) -> list[FindingData]:
    """Two rule families may catch the same text (an ID number in an enforcement notice is
    both personal data and an unmasked party): report it once, by the first rule in RULES."""
    seen: set[tuple[str, tuple[int, int], str]] = set()
    out = []
    for f in findings:
        if f.span is not None:
            key = (f.field, f.span, f.severity)
            if key in seen:
                continue
            seen.add(key)
        out.append(f)
    return out
