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
from moderation.rules import disclosure, required

__all__ = ["FindingData", "ReviewContext", "review"]

Rule = Callable[[dict[str, Any], ReviewContext], Iterable[FindingData]]

RULES: tuple[Rule, ...] = (required.check, disclosure.check)


async def review(snapshot: dict[str, Any], context: ReviewContext) -> list[FindingData]:
    findings: list[FindingData] = []
    for rule in RULES:
        findings.extend(rule(snapshot, context))
    return findings
