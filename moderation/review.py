"""Pre-review: run every rule family on an item snapshot and return its findings.

Runs at submission and again just before dispatch. A finding of severity "block" stops both.
The rule families live one a file in moderation/rules/ and are listed in RULES, in order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from moderation.findings import FindingData, ReviewContext
from moderation.rules import disclosure, required

__all__ = ["FindingData", "ReviewContext", "review"]


Rule = Callable[[dict[str, Any], ReviewContext], Iterable[FindingData]]

RULES: tuple[Rule, ...] = (required.check, disclosure.check)


def review(snapshot: dict[str, Any], context: ReviewContext) -> list[FindingData]:
    findings: list[FindingData] = []
    for rule in RULES:
        findings.extend(rule(snapshot, context))
    return findings
