"""The shapes pre-review rules take and give: the review context and one finding."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReviewContext:
    """What rules may need beyond the snapshot: the channels it is bound for, known columns."""

    channels: tuple[str, ...]
    public_channels: frozenset[str]
    columns: dict[str, tuple[str, ...]]  # column key -> kinds allowed in it


@dataclass(frozen=True)
class FindingData:
    rule: str
    severity: str  # "block" | "warn"
    message: str
    field: str = ""
    span: tuple[int, int] | None = None
    suggestion: str = ""

    @property
    def blocks(self) -> bool:
        return self.severity == "block"
