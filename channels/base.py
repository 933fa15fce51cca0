"""The one protocol every channel implements, and the error classes the dispatcher acts on.

A channel renders nothing itself: it is handed Content rendered from templates/. It publishes,
retracts, and reports its limits. A channel whose remote calls are irreversible stores a
checkpoint through the Job before each remote step, so a restarted worker resumes instead of
repeating, and looks the result up where its API allows when an outcome is unknown.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class ChannelLimits:
    concurrency: int
    rate_per_second: float
    title_max: int = 200
    summary_max: int = 500
    body_max: int = 2_000_000  # characters of the Markdown body
    image_max: int = 100
    can_retract: bool = True
    can_lookup: bool = False  # can tell whether an earlier, unanswered publish went through


@dataclass(frozen=True)
class Content:
    """An item version rendered for one channel."""

    item_id: int
    version: int
    kind: str
    kind_label: str
    column: str
    title: str
    summary: str
    html: str
    text: str
    url: str
    doc_number: str = ""
    office: str = ""
    approved_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Published:
    remote_id: str
    remote_url: str = ""


class Job(Protocol):
    """The delivery as a channel sees it."""

    delivery_id: int
    idempotency_key: str
    checkpoint: dict[str, Any]

    async def save(self, **updates: Any) -> None:
        """Merge updates into the checkpoint and store it before going on (raises LeaseLost)."""


class ChannelError(Exception):
    """Base of channel failures; the message is shown to staff, so it is in Chinese."""

    kind = "permanent"


class TransientError(ChannelError):
    kind = "transient"


class RateLimited(ChannelError):
    kind = "rate_limited"

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthError(ChannelError):
    kind = "auth"


class PermanentError(ChannelError):
    kind = "permanent"


class OutcomeUnknown(ChannelError):
    """An irreversible request was sent and no answer came: it may or may not have happened."""

    kind = "unknown"


class Channel(ABC):
    name: str
    label: str
    limits: ChannelLimits

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Open connections; called once before the first delivery."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release what start() opened."""

    @abstractmethod
    async def publish(self, content: Content, job: Job) -> Published: ...

    async def retract(self, published: Published, job: Job) -> None:
        raise PermanentError(f"渠道「{self.label}」不支持撤稿，请在该平台人工删除。")

    async def lookup(self, job: Job) -> Published | None:
        """The result of an earlier publish under this job's key, or None if it never arrived."""
        raise OutcomeUnknown(f"渠道「{self.label}」无法查询此前的发布结果，请人工确认。")
