"""The one protocol every channel implements, and the error classes the dispatcher acts on.

A channel renders nothing itself: it is handed Content rendered from templates/. It publishes,
retracts, and reports its limits. A channel whose remote calls are irreversible stores a
checkpoint through the Job before each remote step, so a restarted worker resumes instead of
repeating, and looks the result up where its API allows when an outcome is unknown.
"""

from __future__ import annotations

import hashlib
import hmac
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


@dataclass(frozen=True)
class IncomingComment:
    """What a member of the public wrote, as a channel hands it to the inbox (bot/inbox/ingest.py).

    (channel, remote_id) identifies it: a channel's retries of the same message give the same
    remote_id and are stored once. author_ref is opaque (a keyed hash, never a raw openid);
    reply_ref carries what the channel needs to answer later and is never shown to people.
    """

    channel: str
    remote_id: str
    text: str
    received_at: datetime
    kind: str  # message | article_comment | feedback | form | hotline
    author_ref: str = ""
    item_id: int | None = None
    # The channel's own reference to what the comment is about (e.g. a published article id),
    # matched against Delivery.remote_id when item_id is not known
    remote_item_ref: str = ""
    reply_ref: dict[str, Any] = field(default_factory=dict)


def opaque_author(key: bytes, channel: str, raw_id: str) -> str:
    """The author reference stored for a channel's user id (an openid, an IP address): a keyed
    hash, stable for the same person on the same channel, that cannot be turned back."""
    digest = hmac.new(key, f"{channel}:{raw_id}".encode(), hashlib.sha256).hexdigest()
    return f"{channel}:{digest[:32]}"


@dataclass(frozen=True)
class CommentPage:
    """One poll of a channel's comments: what came in and the cursor to pass next time."""

    comments: list[IncomingComment]
    cursor: dict[str, Any]


class Job(Protocol):
    """The delivery as a channel sees it."""

    delivery_id: int
    idempotency_key: str
    checkpoint: dict[str, Any]
    # Which attempt this is: 1 when no earlier attempt can have reached the remote (one given
    # back untried does not count), so a channel looks up an earlier send only after the first.
    attempt: int

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


class StillProcessing(RateLimited):
    """The remote side accepted the work and is still processing it (e.g. WeChat's publish
    job): come back after retry_after. Not a failure, so it never uses up the attempts."""

    kind = "waiting"


class AuthError(ChannelError):
    kind = "auth"


class PermanentError(ChannelError):
    kind = "permanent"


class NeedsOtherRoute(ChannelError):
    """The channel cannot carry this reply now (e.g. WeChat's 48-hour customer-service window
    has closed): a person has to answer another way."""

    kind = "other_route"


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

    # Comments: a channel that collects what the public writes by polling overrides
    # poll_comments; one that can answer overrides send_reply. Pushed comments (callbacks,
    # webhooks, the website form) reach the inbox through bot/inbox/ingest.py directly.
    can_poll_comments: bool = False
    can_reply: bool = False

    async def poll_comments(self, cursor: dict[str, Any]) -> CommentPage:
        """Comments that arrived since `cursor` (an empty dict the first time)."""
        return CommentPage([], cursor)

    async def send_reply(self, reply_ref: dict[str, Any], text: str, key: str) -> str:
        """Send an answer to the comment reply_ref points at; returns the channel's id for it.

        `key` is stable across retries of the same reply, for channels that deduplicate.
        Raises the ChannelError subclasses; NeedsOtherRoute when a person must answer another way.
        """
        raise PermanentError(f"渠道「{self.label}」不支持在线答复，请通过其他方式答复。")
