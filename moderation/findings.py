"""The shapes pre-review rules take and give: the review context and one finding.

Rules are pure functions of (snapshot, context); anything they need from the database or the
configuration arrives in the ReviewContext, built by bot/items/prereview.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True)
class ChannelRules:
    """What one target channel accepts (from the channel's limits; moderation never imports a
    channel)."""

    label: str
    title_max: int
    summary_max: int
    body_max: int = 2_000_000  # characters of the Markdown body
    image_max: int = 100
    # Limits on the body as the channel receives it (the rendered HTML, markup included): it
    # must be shorter than this many characters / UTF-8 bytes. None: not limited. A channel
    # with either gets a RenderedSize in ReviewContext.rendered.
    content_max_chars: int | None = None
    content_max_bytes: int | None = None
    source_url_max_bytes: int | None = None  # the link back to our page, in UTF-8 bytes
    # A snapshot field that, when not empty, is this channel's title instead of `title`
    # (WeChat: "wechat_title"), and its label in messages (微信标题).
    title_field: str = ""
    title_field_label: str = ""

    @property
    def limits_content(self) -> bool:
        return self.content_max_chars is not None or self.content_max_bytes is not None


@dataclass(frozen=True)
class RenderedSize:
    """How long an item is as rendered for one channel (measured by bot/, which renders)."""

    chars: int  # characters of the rendered HTML
    bytes: int  # its UTF-8 bytes
    source_url_bytes: int = 0  # UTF-8 bytes of the link back to our page


@dataclass(frozen=True)
class LinkedItem:
    """Another item as pre-review sees it: the policy an interpretation explains, or an
    interpretation of a policy."""

    id: int
    kind: str
    title: str
    body: str
    status: str
    disclosure: str = "proactive"
    published_at: datetime | None = None


@dataclass(frozen=True)
class ReviewSettings:
    """The [review] section of config.toml, as rules need it."""

    permit_penalty_days: int = 7  # 行政许可 / 行政处罚: publish within N working days
    other_enforcement_days: int = 20
    formal_copy_share: float = 0.6  # an interpretation copying more than this share is formal
    sensitive_words: tuple[str, ...] = ()  # office additions to the dictionaries
    wrong_terms: tuple[tuple[str, str], ...] = ()  # (wrong form, correct form)
    typos: tuple[tuple[str, str], ...] = ()
    allowed_words: tuple[str, ...] = ()  # longer terms that make a listed word inside them fine
    # Domains besides gov.cn whose e-mail addresses (and their subdomains') are an office's,
    # not personal data (moderation/rules/privacy.py).
    official_email_domains: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


# An async check of the links in a body: url -> problem (None when the link is fine).
LinkCheck = Callable[[list[str]], Awaitable[dict[str, "LinkProblem | None"]]]


@dataclass(frozen=True)
class LinkProblem:
    severity: str  # block | warn
    message: str


@dataclass(frozen=True)
class ReviewContext:
    """What rules may need beyond the snapshot."""

    channels: tuple[str, ...]
    public_channels: frozenset[str]
    columns: dict[str, tuple[str, ...]]  # column key -> kinds allowed in it
    channel_rules: dict[str, ChannelRules] = field(default_factory=dict)
    rendered: dict[str, RenderedSize] = field(default_factory=dict)  # channel -> its rendering
    related: LinkedItem | None = None  # for an interpretation: the policy it explains
    interpretations: tuple[LinkedItem, ...] = ()  # for a policy: interpretations linking to it
    today: date | None = None  # in the office's time zone
    topics: tuple[str, ...] = ()  # the 主题分类 an item may take ([disclosure] topics)
    settings: ReviewSettings = field(default_factory=ReviewSettings)
    check_links: LinkCheck | None = None  # None: links are not checked (offline review)


@dataclass(frozen=True)
class FindingData:
    rule: str
    severity: str  # "block" | "warn"
    message: str
    field: str = ""
    span: tuple[int, int] | None = None  # offsets in the field's original text
    suggestion: str = ""
    overridable: bool = False  # a block a reviewer may override with a written reason

    @property
    def blocks(self) -> bool:
        """Stops submission outright (a block no one may override)."""
        return self.severity == "block" and not self.overridable

    @property
    def needs_override(self) -> bool:
        """Must be overridden by a reviewer, with a reason, before approval or dispatch."""
        return self.severity == "warn" or self.overridable
