"""What the WeChat simulator's account holds (Ledger), the failures tests inject (Faults) and
the daily quotas (Quotas); and WeChat's error answer shape."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any


def error(code: int, message: str, **extra: Any) -> dict[str, Any]:
    """WeChat's answer for a non-zero errcode (its errmsg ends with a request id)."""
    return {"errcode": code, "errmsg": f"{message} rid: sandbox", **extra}


@dataclass
class Ledger:
    """What the simulated account holds; tests count on it for exactly-once checks."""

    images: list[dict[str, Any]] = field(default_factory=list)
    materials: dict[str, dict[str, Any]] = field(default_factory=dict)  # permanent, live
    deleted_materials: list[str] = field(default_factory=list)  # media_ids, in order
    drafts: dict[str, dict[str, Any]] = field(default_factory=dict)  # every draft ever added
    publications: dict[str, dict[str, Any]] = field(default_factory=dict)  # by publish_id
    articles: dict[str, dict[str, Any]] = field(default_factory=dict)  # by article_id
    deleted: list[tuple[str, int]] = field(default_factory=list)
    mass_sends: list[dict[str, Any]] = field(default_factory=list)
    custom_messages: list[dict[str, Any]] = field(default_factory=list)
    previews: list[dict[str, Any]] = field(default_factory=list)  # message/mass/preview
    menus: list[list[dict[str, Any]]] = field(default_factory=list)  # each menu/create kept
    # 图文 copies whose comments WeChat keeps, by msg_data_id (wechat_comments.py)
    copies: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # "id:index": [...]
    calls: Counter[str] = field(default_factory=Counter)  # endpoint: requests answered
    token_fetches: int = 0
    force_refreshes: int = 0
    force_refused: int = 0  # force refreshes refused: within 30 s of the last one
    callbacks: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Faults:
    """Failures to inject, per endpoint (e.g. "draft/add")."""

    errcodes: dict[str, list[int]] = field(default_factory=dict)  # next answers' errcodes
    statuses: dict[str, list[int]] = field(default_factory=dict)  # next answers' HTTP statuses
    lose_answer: dict[str, int] = field(default_factory=dict)  # done, answer later than timeout
    latency: dict[str, float] = field(default_factory=dict)  # seconds, before processing
    error_rate: dict[str, tuple[float, int]] = field(default_factory=dict)  # (p, errcode)
    holds: dict[str, asyncio.Event] = field(default_factory=dict)
    held: Counter[str] = field(default_factory=Counter)  # requests waiting at a hold
    lost_answer_seconds: float = 30.0

    def fail(self, endpoint: str, *errcodes: int) -> None:
        self.errcodes.setdefault(endpoint, []).extend(errcodes)

    def http(self, endpoint: str, *statuses: int) -> None:
        self.statuses.setdefault(endpoint, []).extend(statuses)

    def hold(self, endpoint: str) -> asyncio.Event:
        """Requests to `endpoint` wait until the event is set; one whose client has gone by
        then is dropped unprocessed (it never reached WeChat)."""
        self.holds[endpoint] = asyncio.Event()
        return self.holds[endpoint]


@dataclass
class Quotas:
    """Daily limits (Beijing day) per endpoint; used[(day, endpoint)] counts calls."""

    daily: dict[str, int] = field(
        default_factory=lambda: {
            "freepublish/submit": 100,
            "freepublish/get": 100,
            "message/mass/sendall": 1,
            "stable_token.force": 20,
            "message/mass/preview.towxname": 100,
        }
    )
    used: Counter[tuple[date, str]] = field(default_factory=Counter)
    # docs/channels/wechat.md "Limits and quotas" (S6 S8: 永久素材 总数上限): images and 图文
    # together 100,000, every other type 1000 (thumb counted as "other": unconfirmed). Tests set
    # these low to show the channel reuses and frees its covers.
    materials: dict[str, int] = field(default_factory=lambda: {"image": 100_000, "thumb": 1000})


@dataclass
class DraftLimits:
    """draft/add's field limits, from the current 新增草稿 page (docs/channels/wechat.md
    "Limits and quotas", S9 S10), in characters unless named bytes. Which errcode each field
    gets is unconfirmed: the page lists none; the global table's 45003 (标题), 45004 (描述),
    45002 (消息内容) are used, 45110 for the author (third-party tables), and draft/update's
    41039 for content_source_url [S15][S40]."""

    title: int = 32
    author: int = 16
    digest: int = 128
    content_chars: int = 20_000  # "必须少于2万字符": at most 19,999
    content_bytes: int = 1024 * 1024  # "小于1M"
    source_url_bytes: int = 1024  # "不可超过1 kb"
    articles: int = 8  # 45008 "图文消息超过限制" [S35][S40]
