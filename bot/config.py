"""Configuration: read config.toml once, validate it with pydantic, and hand it around.

No other module reads the file or the environment; secrets are looked up here from the
environment variables that the file names.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.errors import EXIT_USAGE, Unavailable
from bot.matters.settings import HotMattersConfig, Matters
from moderation.rules.enforcement import CATEGORIES
from moderation.settings import DeadlineConfig, TriageConfig
from moderation.settings import Section as _Section

DEFAULT_CONFIG = Path("config.toml")


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("expected an http:// or https:// URL with a host")
    return value


# An http(s) URL with a host, as written; BaseUrl also without a trailing slash (a prefix
# that paths are appended to).
HttpUrl = Annotated[str, AfterValidator(_http_url)]
BaseUrl = Annotated[str, AfterValidator(lambda v: _http_url(v).rstrip("/"))]


class ConfigError(Unavailable):
    """The configuration file is missing, unreadable or invalid; the message names the key."""

    exit_code = EXIT_USAGE


class AppConfig(_Section):
    name: str = "公开"
    public_base_url: BaseUrl = "http://127.0.0.1:8080"
    timezone: str = "Asia/Shanghai"
    # True only in a config derived by bot/sandbox/mode.py's sandbox_config (`gongkai run
    # --sandbox`); a file can never set it, so a production config never starts simulators.
    sandbox: bool = False

    @field_validator("sandbox")
    @classmethod
    def _not_from_a_file(cls, value: bool) -> bool:
        if value:
            raise ValueError(
                "cannot be set in a configuration file; sandbox mode (local simulators, demo "
                "data) is started only by `gongkai run --sandbox` (沙箱模式只能用 "
                "gongkai run --sandbox 启动)"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("expected an IANA time zone such as Asia/Shanghai") from exc
        return value


class DatabaseConfig(_Section):
    url: str = "sqlite://data/gongkai.db"

    @field_validator("url")
    @classmethod
    def _supported(cls, value: str) -> str:
        scheme = value.split("://", 1)[0]
        if "://" not in value or scheme not in ("sqlite", "postgres", "postgresql"):
            raise ValueError("expected sqlite://PATH or postgres://USER@HOST:PORT/DB")
        return value

    @property
    def is_postgres(self) -> bool:
        return self.url.startswith(("postgres://", "postgresql://"))


class ConsoleConfig(_Section):
    """The staff console under /console (bot/web/console/)."""

    enabled: bool = True
    # Env var holding the session cookie key (any long random string). Unset: a random key per
    # process, so sessions end on restart and do not carry across processes.
    session_key_env: str = "GONGKAI_SESSION_KEY"
    # Mark the session cookie Secure (set when the site is served over TLS).
    secure_cookies: bool = False
    idle_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 30
    absolute_hours: Annotated[int, Field(ge=1, le=24 * 7)] = 12
    # Login throttling, shared by every web process (bot/staff/throttle.py): after this many
    # failures per account (or per client address) each failure doubles the wait, from
    # login_delay_seconds up to login_max_delay_minutes; counts restart after the window.
    login_max_failures: Annotated[int, Field(ge=1, le=100)] = 5
    login_max_failures_per_ip: Annotated[int, Field(ge=1, le=10_000)] = 20
    login_window_minutes: Annotated[int, Field(ge=1, le=7 * 24 * 60)] = 60
    login_delay_seconds: Annotated[float, Field(ge=1, le=3600)] = 30
    login_max_delay_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 15
    page_size: Annotated[int, Field(ge=5, le=200)] = 20


MediaType = Literal["jpg", "png", "pdf", "doc", "docx", "xls", "xlsx", "ofd"]
MEDIA_TYPES: tuple[MediaType, ...] = ("jpg", "png", "pdf", "doc", "docx", "xls", "xlsx", "ofd")


class WordConfig(_Section):
    """Word documents (.docx) read as items (bot/items/wordfile.py): `gongkai item add X.docx`
    and the console's 从 Word 导入. A .docx is a ZIP: its entries are counted and their sizes
    added up from the ZIP's directory before anything is decompressed (a zip bomb)."""

    max_bytes: Annotated[int, Field(ge=1024, le=200 * 1024 * 1024)] = 20 * 1024 * 1024
    max_entries: Annotated[int, Field(ge=10, le=100_000)] = 1000
    max_uncompressed_bytes: Annotated[int, Field(ge=1024, le=1024 * 1024 * 1024)] = (
        100 * 1024 * 1024
    )

    @model_validator(mode="after")
    def _room_to_unpack(self) -> WordConfig:
        # A document's entries unpacked are never smaller than the file (pictures are stored
        # as they are): a lower limit would refuse every file near max_bytes.
        if self.max_uncompressed_bytes < self.max_bytes:
            raise ValueError(
                f"max_uncompressed_bytes ({self.max_uncompressed_bytes}) must be at least "
                f"max_bytes ({self.max_bytes})"
            )
        return self


class MediaConfig(_Section):
    """Images and attachments uploaded in the console (bot/items/media.py), served at
    /media/{name}."""

    # Directory of the stored files (relative to the working directory); every web process
    # must see the same directory.
    dir: str = "data/media"
    # Largest image: WeChat takes body images below 1 MB: one byte under, so an image fits both
    max_image_bytes: Annotated[int, Field(ge=1024, le=10 * 1024 * 1024)] = 1024 * 1024 - 1
    # Most pixels (width x height, read from the file's header) an image may have, here and in
    # WeChat articles: a few hundred KB can claim 40000 x 40000 pixels, gigabytes once decoded
    # by a browser or by WeChat (a decompression bomb).
    max_image_pixels: Annotated[int, Field(ge=1_000_000, le=200_000_000)] = 40_000_000
    max_attachment_bytes: Annotated[int, Field(ge=1024, le=200 * 1024 * 1024)] = 20 * 1024 * 1024
    # The accepted types, decided by the file's bytes (never by its name).
    allowed_types: Annotated[tuple[MediaType, ...], Field(min_length=1)] = MEDIA_TYPES
    word: WordConfig = WordConfig()


def _site_link(value: str) -> str:
    """A link the public pages show: an http(s) URL with a host, or a path on this site
    ("/columns/guide", "/items/12"); empty: not shown."""
    if not value:
        return value
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise ValueError("a link cannot contain spaces or control characters")
    if value.startswith("/") and not value.startswith("//"):
        return value
    try:
        return _http_url(value)
    except ValueError as exc:
        raise ValueError(
            "expected an http:// or https:// URL, or a path on this site starting with /"
        ) from exc


def _image_link(value: str) -> str:
    """An image the public pages show: a path on this site or an https URL (the public pages'
    Content-Security-Policy loads images from nowhere else)."""
    value = _site_link(value)
    if value and not value.startswith(("/", "https://")):
        raise ValueError("expected an https:// URL or a path on this site such as /assets/logo.png")
    return value


SiteLink = Annotated[str, AfterValidator(_site_link)]
ImageLink = Annotated[str, AfterValidator(_image_link)]
SiteText = Annotated[str, Field(max_length=200)]
POLICE_RECORD_SEARCH = "https://beian.mps.gov.cn/#/query/webSearch"


class SearchConfig(_Section):
    """一网通查 and 一网通答 (/search, bot/search/, bot/web/public/search.py)."""

    # A visitor's query is cut to this many characters (the page says so)
    max_query_chars: Annotated[int, Field(ge=10, le=1000)] = 100
    page_size: Annotated[int, Field(ge=5, le=50)] = 10
    # Searches one client address may make per window (the client address as [web]
    # trusted_proxies defines it); more get the 429 page with Retry-After
    rate_limit: Annotated[int, Field(ge=1, le=100_000)] = 60
    rate_window_seconds: Annotated[int, Field(ge=1, le=3600)] = 60
    # Client addresses the rate limiter remembers at once (oldest forgotten first)
    rate_limit_max_clients: Annotated[int, Field(ge=100, le=10_000_000)] = 100_000
    # 一网通答: a question's best answer is shown first when the match is at least this sure
    answer_min_confidence: Annotated[float, Field(ge=0, le=1)] = 0.5
    # The knowledge export (GET /api/v1/knowledge) leaves the changes of the last this many
    # seconds for a later page: a transaction still open could commit a time that a cursor
    # given out meanwhile has passed (bot/search/export.py)
    knowledge_settle_seconds: Annotated[float, Field(ge=0, le=300)] = 5


class SiteConfig(_Section):
    """What the public site's header, home page and footer show (templates/public/base.html,
    bot/web/public/home.py): each name, number and link is shown only when it is set."""

    agency: SiteText = ""  # 主办单位; empty: app.name
    logo: ImageLink = ""
    description: Annotated[str, Field(max_length=500)] = ""
    share_image: ImageLink = ""
    site_code: Annotated[str, Field(max_length=32)] = ""  # 网站标识码
    icp: SiteText = ""  # ICP 备案号
    icp_url: SiteLink = "https://beian.miit.gov.cn/"
    police_record: SiteText = ""  # 公安机关备案号
    police_record_url: SiteLink = ""
    party_gov_mark_image: ImageLink = ""  # 党政机关网站标识
    party_gov_mark_url: SiteLink = ""
    application_url: SiteLink = ""  # 依申请公开
    error_report_url: SiteLink = ""  # 我为政府网站找错
    guide: SiteLink = ""  # 政府信息公开指南
    rules: SiteLink = ""  # 政府信息公开制度
    annual_reports: SiteLink = ""  # 政府信息公开工作年度报告
    decisions: SiteLink = ""  # 决策公开
    home_items: Annotated[int, Field(ge=1, le=50)] = 6
    page_size: Annotated[int, Field(ge=5, le=100)] = 20

    def police_record_link(self) -> str:
        """police_record_url, else the national search for the record's number."""
        if self.police_record_url:
            return self.police_record_url
        digits = "".join(ch for ch in self.police_record if ch.isascii() and ch.isdigit())
        return f"{POLICE_RECORD_SEARCH}?code={digits}" if digits else POLICE_RECORD_SEARCH


class PublicConfig(_Section):
    """The public pages and feeds (bot/site/): built once per change and served from memory."""

    # Cache-Control for a proxy or CDN in front: reuse a page for max_age_seconds, then serve
    # it stale for stale_while_revalidate_seconds more while fetching it again. A retraction
    # reaches such a cache within their sum (docs/deploy.md), so keep both short.
    max_age_seconds: Annotated[int, Field(ge=0, le=86_400)] = 60
    stale_while_revalidate_seconds: Annotated[int, Field(ge=0, le=86_400)] = 30
    # Memory each web process may hold in built pages (all codings); the least recently used
    # go first, and are built again on their next request.
    cache_bytes: Annotated[int, Field(ge=1024 * 1024, le=16 * 1024**3)] = 128 * 1024 * 1024
    # How often a web process reads the site version. On SQLite this is how a change made by
    # another process (or by this process's worker) reaches its pages; on PostgreSQL NOTIFY
    # does that at once and this is a safety net.
    follow_poll_seconds: Annotated[float, Field(gt=0, le=3600)] = 0.5


class WebConfig(_Section):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8080
    # Connections the kernel queues until the server accepts them (capped by the kernel's
    # net.core.somaxconn). aiohttp's 128 overflowed in bursts of new connections, and a dropped
    # SYN is retried only after a second: past WeChat's 5 s once retried twice.
    backlog: Annotated[int, Field(ge=16, le=65535)] = 1024
    max_body_bytes: Annotated[int, Field(ge=1024, le=64 * 1024 * 1024)] = 1024 * 1024
    # Reverse proxies (IP addresses or networks) whose X-Forwarded-For header is believed, for
    # the 留言 form's limits and the console's login throttle alike; empty: the header is
    # ignored and the peer address is the client (bot/web/clients.py)
    trusted_proxies: list[str] = Field(default_factory=list)
    console: ConsoleConfig = ConsoleConfig()
    media: MediaConfig = MediaConfig()
    public: PublicConfig = PublicConfig()

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError as exc:
                raise ValueError(f"{entry!r} is not an IP address or network") from exc
        return value


class DispatcherConfig(_Section):
    lease_seconds: Annotated[float, Field(gt=0, le=3600)] = 60
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 8
    backoff_base_seconds: Annotated[float, Field(gt=0)] = 5
    backoff_max_seconds: Annotated[float, Field(gt=0)] = 3600
    missed_after_minutes: Annotated[float, Field(gt=0)] = 24 * 60
    sweep_interval_seconds: Annotated[float, Field(gt=0)] = 3600
    batch_size: Annotated[int, Field(ge=1, le=1000)] = 50
    heartbeat_seconds: Annotated[float, Field(gt=0)] = 15
    health_stale_seconds: Annotated[float, Field(gt=0)] = 300
    shutdown_grace_seconds: Annotated[float, Field(ge=0)] = 20


_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}")


class ReviewConfig(_Section):
    permit_penalty_days: Annotated[int, Field(ge=1, le=365)] = 7
    other_enforcement_days: Annotated[int, Field(ge=1, le=365)] = 20
    formal_copy_share: Annotated[float, Field(gt=0, le=1)] = 0.6
    sensitive_words: list[str] = Field(default_factory=list)
    wrong_terms: dict[str, str] = Field(default_factory=dict)
    typos: dict[str, str] = Field(default_factory=dict)
    allowed_words: list[str] = Field(default_factory=list)
    # Domains besides gov.cn whose e-mail addresses (subdomains included) are an office's, not
    # personal data: pre-review does not block them, comment triage does not mask them.
    official_email_domains: list[str] = Field(default_factory=list)
    check_links: bool = True
    link_timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 5
    link_concurrency: Annotated[int, Field(ge=1, le=64)] = 8
    link_cache_seconds: Annotated[float, Field(ge=0)] = 3600
    # Links to loopback, private or link-local addresses (other than our own site) are refused
    # unless this is true: a link in an item must not make the server probe its own network.
    link_allow_private: bool = False

    @field_validator("official_email_domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        out = []
        for entry in value:
            domain = entry.strip().lower().rstrip(".")
            if not _DOMAIN.fullmatch(domain):
                raise ValueError(
                    f"{entry!r} is not a domain name such as pbc.gov.cn (no @, no wildcard)"
                )
            out.append(domain)
        return out


class ChannelConfig(_Section):
    enabled: bool = True
    concurrency: Annotated[int, Field(ge=1, le=256)] = 4
    rate_per_second: Annotated[float, Field(gt=0)] = 50


class FeedChannelConfig(ChannelConfig):
    concurrency: Annotated[int, Field(ge=1, le=256)] = 64
    rate_per_second: Annotated[float, Field(gt=0)] = 100000
    title: str = "政府信息公开"
    entries_per_feed: Annotated[int, Field(ge=1, le=1000)] = 50


class WebhookChannelConfig(ChannelConfig):
    enabled: bool = False
    url: BaseUrl = "http://127.0.0.1:8091/push"
    secret_env: str = "GONGKAI_WEBHOOK_SECRET"
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 10
    lookup: bool = True


class WechatCallbackConfig(_Section):
    """The WeChat callback endpoint /wechat/callback (bot/web/callbacks/wechat.py)."""

    # A request whose signed timestamp is further than this from our clock is refused (403)
    max_skew_seconds: Annotated[int, Field(ge=10, le=86400)] = 300
    # Largest request body accepted (WeChat's messages are a few KiB); larger is refused (413)
    max_body_bytes: Annotated[int, Field(ge=1024, le=1024 * 1024)] = 64 * 1024
    # Messages waiting for the background step (inbox and triage) in memory; when full, the
    # stored row is picked up by the recovery sweep instead
    queue_size: Annotated[int, Field(ge=1, le=100_000)] = 1000
    workers: Annotated[int, Field(ge=1, le=32)] = 2
    # Messages a worker hands to the inbox in one call (one transaction)
    batch_size: Annotated[int, Field(ge=1, le=1000)] = 100
    # Before each batch the worker waits for a moment with no callback request in progress,
    # at most this long: answering WeChat comes first, the inbox a little later
    defer_max_seconds: Annotated[float, Field(ge=0, le=60)] = 1
    # The sweep that hands stored but unhandled messages to the inbox (after a crash, or a
    # full queue): how often, and how old a row must be before a sweep takes it
    recover_interval_seconds: Annotated[float, Field(gt=0)] = 60
    recover_after_seconds: Annotated[float, Field(ge=0)] = 60
    # Where stored messages go on to the inbox: false, in the process that received them;
    # true, in the worker processes (one at a time), every worker_poll_seconds
    relay_in_workers: bool = False
    worker_poll_seconds: Annotated[float, Field(gt=0, le=3600)] = 2
    # Answer a follower's text message at once when the knowledge base (FAQ, 选登, published items)
    # has an answer at least this confident; the moderator still sees the message
    auto_reply: bool = True
    auto_reply_min_confidence: Annotated[float, Field(ge=0, le=1)] = 0.8
    auto_reply_max_chars: Annotated[int, Field(ge=20, le=600)] = 600
    # A follower's text message the auto-reply did not answer gets the public search's top
    # three links (titles and addresses) as one customer-service message, queued by the relay
    # and sent by the reply sender within WeChat's 48-hour window; none when nothing is found
    follow_up_links: bool = True


class WechatMenuButton(_Section):
    """One button of the account's 自定义菜单: a page (type "view", url), or a name over up to
    five sub_buttons. WeChat's limits are checked when it is pushed (bot/wechat/menu.py)."""

    name: str
    type: str = "view"
    url: str = ""
    key: str = ""
    sub_button: list[WechatMenuButton] = Field(default_factory=list)


class WechatChannelConfig(ChannelConfig):
    """The WeChat Official Account (channels/wechat/channel.py, bot/wechat/mass_send.py, the
    callback)."""

    enabled: bool = False
    concurrency: Annotated[int, Field(ge=1, le=64)] = 2
    rate_per_second: Annotated[float, Field(gt=0)] = 5
    # subscription (订阅号: one mass send a day) | service (服务号: four a month)
    account_type: Literal["subscription", "service"] = "subscription"
    app_id: str = ""
    app_secret_env: str = "GONGKAI_WECHAT_SECRET"
    # Callback (H5): the token of the signature and the EncodingAESKey of safe mode
    callback_token_env: str = "GONGKAI_WECHAT_TOKEN"
    encoding_aes_key_env: str = "GONGKAI_WECHAT_AES_KEY"
    message_mode: Literal["plain", "compatible", "safe"] = "safe"
    callback: WechatCallbackConfig = WechatCallbackConfig()
    api_base_url: BaseUrl = "https://api.weixin.qq.com"
    fallback_base_urls: list[BaseUrl] = Field(
        default_factory=lambda: ["https://api2.weixin.qq.com", "https://sh.api.weixin.qq.com"]
    )
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 15
    token_refresh_margin_seconds: Annotated[float, Field(ge=0, le=3600)] = 300
    token_lock_seconds: Annotated[float, Field(gt=0, le=300)] = 30
    author: str = ""
    # draft/add limits, from the current 新增草稿 page (changelog 2025-12-19; see
    # docs/channels/wechat.md "Limits and quotas", [S9]:
    # https://developers.weixin.qq.com/doc/service/api/draftbox/draftmanage/api_draft_add.html).
    # Pre-review (moderation/rules/channel_limits.py) checks them, so an item too long for
    # WeChat is stopped before approval instead of failing on delivery.
    # Characters of the title (title ≤ 32); a longer title needs the item's 微信标题.
    title_max: Annotated[int, Field(ge=1, le=1000)] = 32
    # Characters of `author` above (author ≤ 16).
    author_max: Annotated[int, Field(ge=1, le=1000)] = 16
    # Characters of the digest, which is the item's summary (digest ≤ 128).
    digest_max: Annotated[int, Field(ge=1, le=10_000)] = 128
    # The body as sent, i.e. the rendered HTML with its markup, must be shorter than this many
    # characters and this many UTF-8 bytes ("必须少于2万字符，小于1M").
    content_max_chars: Annotated[int, Field(ge=1, le=10_000_000)] = 20_000
    content_max_bytes: Annotated[int, Field(ge=1, le=100_000_000)] = 1_000_000
    # UTF-8 bytes of content_source_url, the 阅读原文 link to our page ("不可超过1 kb").
    source_url_max_bytes: Annotated[int, Field(ge=1, le=100_000)] = 1024
    default_cover: str = "templates/wechat/default_cover.png"
    # The cover is uploaded as permanent material of type image (up to 10 MB; type thumb takes
    # only JPG up to 64 KB): channels/wechat/covers.py.
    cover_max_bytes: Annotated[int, Field(ge=1024, le=10 * 1024 * 1024)] = 1024 * 1024
    image_max_bytes: Annotated[int, Field(ge=1024, le=1024 * 1024 - 1)] = 1024 * 1024 - 1
    open_comment: bool = True
    only_fans_can_comment: bool = False
    publish_wait_seconds: Annotated[float, Field(ge=0, le=120)] = 20
    publish_poll_minutes: Annotated[float, Field(ge=0, le=1440)] = 10
    comment_poll_days: Annotated[int, Field(ge=1, le=365)] = 30
    # 数据统计 (datacube): a day WeChat could not answer is fetched again on later runs while
    # it is within this many days (bot/wechat/stats.py)
    stats_lookback_days: Annotated[int, Field(ge=1, le=365)] = 30
    # 自定义菜单: pushed with menu/create by `gongkai wechat menu push`, and at start-up when it
    # changed (once for the deployment); empty: the menu is left as it is on WeChat
    menu: list[WechatMenuButton] = Field(default_factory=list)
    comment_page_size: Annotated[int, Field(ge=1, le=49)] = 49
    mass_send_time: str = "20:00"
    mass_send_max_articles: Annotated[int, Field(ge=1, le=8)] = 8
    mass_send_ignore_reprint: bool = False

    @model_validator(mode="after")
    def _author_fits(self) -> WechatChannelConfig:
        if len(self.author) > self.author_max:
            raise ValueError(
                f"author has {len(self.author)} characters; WeChat takes at most "
                f"{self.author_max} (author_max) (作者不超过 {self.author_max} 字)"
            )
        return self

    @field_validator("mass_send_time")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        hour, _, minute = value.partition(":")
        if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
            raise ValueError("expected HH:MM (Asia/Shanghai), e.g. 20:00")
        return f"{int(hour):02d}:{int(minute):02d}"


class SuishenbanChannelConfig(ChannelConfig):
    """The 随申办 app (channels/suishenban/channel.py, bot/web/callbacks/suishenban.py). The
    platform
    contract's defaults live in channels/suishenban/contract.py; paths, headers, fields and
    error_codes here override them name by name (checked when the channel is built)."""

    enabled: bool = False
    concurrency: Annotated[int, Field(ge=1, le=64)] = 4
    rate_per_second: Annotated[float, Field(gt=0)] = 10
    # The open platform's API root (default: the local simulator of `gongkai run --sandbox`)
    api_base_url: BaseUrl = "http://127.0.0.1:8093"
    app_id: str = ""
    app_secret_env: str = "GONGKAI_SUISHENBAN_SECRET"
    # Key the platform signs its pushes to the callback with; empty: the app secret
    callback_secret_env: str = ""
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 10
    token_refresh_margin_seconds: Annotated[float, Field(ge=0, le=3600)] = 300
    # Who sees a card: ["all"], or user tags such as ["金融", "企业"]
    audience: list[str] = Field(default_factory=lambda: ["all"])
    default_cover_url: str = ""
    title_max: Annotated[int, Field(ge=1, le=1000)] = 64
    summary_max: Annotated[int, Field(ge=1, le=5000)] = 120
    reply_max_chars: Annotated[int, Field(ge=1, le=20000)] = 1000
    feedback_page_size: Annotated[int, Field(ge=1, le=500)] = 50
    lookup: bool = True
    # The contract: overrides by logical name (see channels/suishenban/contract.py)
    paths: dict[str, str] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    fields: dict[str, str] = Field(default_factory=dict)
    error_codes: dict[
        str, Literal["transient", "rate_limited", "auth", "token_expired", "permanent", "not_found"]
    ] = Field(default_factory=dict)
    sign_template: str = "{method}\n{path}\n{timestamp}\n{nonce}\n{body_sha256}"
    signature_encoding: Literal["hex", "base64"] = "hex"
    token_prefix: str = "Bearer "
    # The signed feedback webhook the platform pushes to (bot/web/callbacks/suishenban.py)
    callback_path: str = "/suishenban/callback"
    callback_max_skew_seconds: Annotated[int, Field(ge=10, le=3600)] = 300
    callback_max_body_bytes: Annotated[int, Field(ge=1024, le=1024 * 1024)] = 64 * 1024
    callback_nonce_cache: Annotated[int, Field(ge=100, le=10_000_000)] = 100_000

    @field_validator("audience")
    @classmethod
    def _audience(cls, value: list[str]) -> list[str]:
        if not value or any(not tag.strip() for tag in value):
            raise ValueError('expected ["all"] or a list of non-empty user tags')
        if "all" in value and len(value) > 1:
            raise ValueError('"all" cannot be combined with tags')
        return value

    @field_validator("callback_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or "{" in value:
            raise ValueError("expected an absolute path such as /suishenban/callback")
        return value


class ChannelsConfig(_Section):
    feed: FeedChannelConfig = FeedChannelConfig()
    webhook: WebhookChannelConfig = WebhookChannelConfig()
    wechat: WechatChannelConfig = WechatChannelConfig()
    suishenban: SuishenbanChannelConfig = SuishenbanChannelConfig()

    def enabled_names(self) -> list[str]:
        return [name for name in type(self).model_fields if getattr(self, name).enabled]


class FormConfig(_Section):
    """The website 留言 form and the public Q&A page (bot/web/public/feedback.py)."""

    # Whether the website shows the 留言 form and the 查询码 status page
    enabled: bool = True
    # Length of a message in characters (after trimming spaces)
    min_chars: Annotated[int, Field(ge=1, le=1000)] = 5
    max_chars: Annotated[int, Field(ge=10, le=20000)] = 2000
    # Form submissions allowed per client IP address in a sliding window of this many seconds
    submit_limit: Annotated[int, Field(ge=1, le=10000)] = 10
    submit_window_seconds: Annotated[float, Field(gt=0, le=86400)] = 600
    # 查询码 look-ups allowed per client IP address in a sliding window
    lookup_limit: Annotated[int, Field(ge=1, le=10000)] = 30
    lookup_window_seconds: Annotated[float, Field(gt=0, le=86400)] = 600
    # IP addresses kept in each rate-limit table at most (the oldest are dropped first)
    rate_limit_max_clients: Annotated[int, Field(ge=100, le=10_000_000)] = 100_000
    # How long a form's anti-forgery (CSRF) token stays valid
    csrf_max_age_seconds: Annotated[int, Field(ge=60, le=7 * 86400)] = 7200
    # Environment variable holding the key that signs the form tokens; empty: a key derived
    # from the author key (inbox.author_key_env)
    csrf_key_env: str = ""
    # Entries per page of the public Q&A page (/qa) and in its Atom feed
    qa_per_page: Annotated[int, Field(ge=1, le=200)] = 20

    @model_validator(mode="before")
    @classmethod
    def _moved(cls, data: Any) -> Any:
        if isinstance(data, dict) and "trusted_proxies" in data:
            raise ValueError(
                "trusted_proxies has moved to [web] trusted_proxies (it now decides the client "
                "address of every web path, the console's login throttle included)"
            )
        return data

    @field_validator("max_chars")
    @classmethod
    def _not_below_min(cls, value: int, info: Any) -> int:
        # info is pydantic's ValidationInfo: min_chars is validated first (field order)
        low = info.data.get("min_chars")
        if low is not None and value < low:
            raise ValueError("max_chars must not be smaller than min_chars")
        return value


class ClassifierConfig(_Section):
    """The trained category model (bot/inbox/learning.py, moderation/classifier.py)."""

    # Where model files are kept (relative to the working directory); every process must see
    # the same directory. The database records each file's SHA-256 and scikit-learn version.
    model_dir: str = "data/models"
    # Train on the corpus shipped in moderation/corpus/ as well as the office's own labels
    shipped_corpus: bool = True
    # Fewest labelled examples of each category training accepts, and the folds of the
    # cross-validation `gongkai triage train` reports
    min_examples: Annotated[int, Field(ge=2, le=10000)] = 8
    cv_folds: Annotated[int, Field(ge=2, le=20)] = 5
    # The nightly retraining (once for the whole deployment, only when labels were added or
    # changed since the model in use was trained), HH:MM in app.timezone; "" turns it off
    retrain_time: str = "02:30"
    # How often each process looks for a newer model in the database
    reload_seconds: Annotated[float, Field(gt=0)] = 60

    @field_validator("retrain_time")
    @classmethod
    def _retrain_time(cls, value: str) -> str:
        return _clock_time(value) if value else value


class SignoffConfig(_Section):
    """审签 (bot/inbox/signoff.py): the categories and channels whose replies and 选登 wait for
    a second moderator's sign-off before they go out. Both empty: no sign-off."""

    categories: list[Literal["咨询", "建议", "投诉", "求助", "表扬", "信访类", "其他"]] = Field(
        default_factory=list
    )
    channels: list[Literal["feed", "wechat", "suishenban", "hotline"]] = Field(default_factory=list)

    def applies(self, category: str, channel: str) -> bool:
        """Whether a comment of this category and channel needs a second moderator's sign-off."""
        return bool(category and category in self.categories) or channel in self.channels


class InboxConfig(_Section):
    """The comment inbox (bot/inbox/ingest.py): operations, replies, reminders and escalation."""

    # Environment variable holding the key that turns channel user ids (openids, IP
    # addresses) into opaque author references
    author_key_env: str = "GONGKAI_AUTHOR_KEY"
    # Comments inserted per transaction by ingestion and imports
    ingest_batch: Annotated[int, Field(ge=1, le=5000)] = 500
    # Reply sender (bot/inbox/replies.py): lease on a claimed reply, retries and pacing
    reply_lease_seconds: Annotated[float, Field(gt=0, le=3600)] = 60
    reply_max_attempts: Annotated[int, Field(ge=1, le=50)] = 5
    reply_backoff_base_seconds: Annotated[float, Field(gt=0)] = 30
    reply_backoff_max_seconds: Annotated[float, Field(gt=0)] = 1800
    reply_batch: Annotated[int, Field(ge=1, le=500)] = 20
    reply_interval_seconds: Annotated[float, Field(gt=0)] = 5
    # "Due soon" in the inbox list: due within this many hours
    due_soon_hours: Annotated[float, Field(gt=0)] = 24
    # Reminders and escalation (scheduler job inbox.sla)
    remind_hours_before: Annotated[float, Field(ge=0)] = 4
    escalate_level2_workdays: Annotated[int, Field(ge=1, le=60)] = 2
    escalate_level3_workdays: Annotated[int, Field(ge=1, le=60)] = 20
    alert_webhook_env: str = ""
    calendar_warn_days: Annotated[int, Field(ge=1, le=366)] = 60
    # Scheduler intervals
    sla_interval_minutes: Annotated[float, Field(gt=0)] = 15
    poll_interval_seconds: Annotated[float, Field(gt=0)] = 300
    knowledge_refresh_minutes: Annotated[float, Field(gt=0)] = 30
    triage: TriageConfig = TriageConfig()
    deadlines: DeadlineConfig = DeadlineConfig()
    form: FormConfig = FormConfig()
    classifier: ClassifierConfig = ClassifierConfig()
    signoff: SignoffConfig = SignoffConfig()


# HTML elements an upstream entry's body may keep (sanitized by nh3, then turned into the
# Markdown items are written in: bot/sources/html.py knows how to write each of them).
SOURCE_HTML_TAGS = frozenset(
    {"a", "b", "blockquote", "br", "code", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6",
     "hr", "i", "img", "li", "ol", "p", "pre", "span", "strong", "table", "tbody", "td",
     "tfoot", "th", "thead", "tr", "u", "ul"}
)  # fmt: skip
_SOURCE_KIND = Literal["policy", "interpretation", "enforcement", "notice", "consultation"]


class SourceRuleConfig(_Section):
    """One mapping rule of a source: when every condition given matches an entry, the entry
    gets this rule's kind, column and office. Rules are tried in order; the first match wins."""

    # Conditions (at least one): a category / tag term or label of the entry (exact,
    # case-insensitive), a regular expression searched in the title, one searched in the link
    category: str = ""
    title: str = ""
    link: str = ""
    # What a match sets (at least one); unset keys keep the source's defaults
    kind: _SOURCE_KIND | None = None
    column: str | None = None
    office: Annotated[str, Field(max_length=128)] | None = None

    @field_validator("title", "link")
    @classmethod
    def _regex(cls, value: str) -> str:
        import re

        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value

    def conditions(self) -> int:
        return sum(1 for value in (self.category, self.title, self.link) if value)

    def effects(self) -> int:
        return sum(1 for value in (self.kind, self.column, self.office) if value is not None)


class SourceConfig(_Section):
    """One upstream RSS/Atom feed of documents approved upstream (bot/sources/pull.py): its entries
    become submitted items with the upstream approver recorded, then pre-reviewed."""

    # Slug naming the source in the database, the CLI and Item.source
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,47}$")]
    url: HttpUrl
    enabled: bool = True
    # Defaults for entries no rule matches; column "" means the column keyed by the kind
    kind: _SOURCE_KIND = "notice"
    column: str = ""
    office: Annotated[str, Field(max_length=128)] = ""
    # Who approved the documents upstream (recorded as the approver of the imported version)
    approver: Annotated[str, Field(min_length=1, max_length=100)]
    # Fetching: whole-request timeout, largest response accepted, redirects followed
    timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 20
    max_bytes: Annotated[int, Field(ge=1024, le=50 * 1024 * 1024)] = 5 * 1024 * 1024
    max_redirects: Annotated[int, Field(ge=0, le=10)] = 3
    # Entries taken from one pull (in feed order), and how often the scheduler pulls
    max_entries: Annotated[int, Field(ge=1, le=1000)] = 50
    interval_minutes: Annotated[float, Field(gt=0, le=7 * 24 * 60)] = 60
    # HTML elements kept from entry bodies (others are removed, their text kept)
    allowed_tags: list[str] = Field(default_factory=lambda: sorted(SOURCE_HTML_TAGS))
    rules: list[SourceRuleConfig] = Field(default_factory=list)

    @field_validator("allowed_tags")
    @classmethod
    def _known_tags(cls, value: list[str]) -> list[str]:
        unknown = sorted({tag.lower() for tag in value} - SOURCE_HTML_TAGS)
        if unknown:
            raise ValueError(
                f"unsupported tags {', '.join(unknown)}; choose from "
                + ", ".join(sorted(SOURCE_HTML_TAGS))
            )
        return sorted({tag.lower() for tag in value})

    @field_validator("rules")
    @classmethod
    def _complete_rules(cls, value: list[SourceRuleConfig]) -> list[SourceRuleConfig]:
        for number, rule in enumerate(value, 1):
            if not rule.conditions():
                raise ValueError(f"rule {number}: give at least one of category, title, link")
            if not rule.effects():
                raise ValueError(f"rule {number}: give at least one of kind, column, office")
        return value

    def columns_used(self) -> list[str]:
        """Every column this source can put an item in (defaults and rules)."""
        used = [self.column or self.kind]
        for rule in self.rules:
            if rule.column:
                used.append(rule.column)
            elif rule.kind:
                used.append(self.column or rule.kind)
        return used


class ColumnConfig(_Section):
    name: str
    kinds: list[Literal["policy", "interpretation", "enforcement", "notice", "consultation"]]


def _default_columns() -> dict[str, ColumnConfig]:
    return {
        "policy": ColumnConfig(name="政策文件", kinds=["policy"]),
        "interpretation": ColumnConfig(name="政策解读", kinds=["interpretation"]),
        "enforcement": ColumnConfig(name="行政执法公示", kinds=["enforcement"]),
        "notice": ColumnConfig(name="通知公告", kinds=["notice"]),
        "consultation": ColumnConfig(name="意见征集", kinds=["consultation"]),
    }


SandboxPort = Annotated[int, Field(ge=1, le=65535)]


class SandboxConfig(_Section):
    """Where `gongkai run --sandbox` (bot/sandbox/mode.py) serves its simulators on 127.0.0.1;
    nothing else reads it."""

    webhook_port: SandboxPort = 8091
    wechat_port: SandboxPort = 8092
    suishenban_port: SandboxPort = 8093
    upstream_port: SandboxPort = 8094

    @model_validator(mode="after")
    def _distinct(self) -> SandboxConfig:
        ports = [self.webhook_port, self.wechat_port, self.suishenban_port, self.upstream_port]
        if len(set(ports)) != len(ports):
            raise ValueError(f"the simulators need four different ports, not {ports}")
        return self


class LogConfig(_Section):
    """Logging of `gongkai run` (bot/logs.py): format and level."""

    # "text" (human-readable lines) or "json" (one JSON object a line, for a log collector);
    # both carry the item, delivery or comment id a line is about when it is known
    format: Literal["text", "json"] = "text"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


def _latency_buckets() -> list[float]:
    return [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600]


def _callback_buckets() -> list[float]:
    return [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5]


class MetricsConfig(_Section):
    """Prometheus /metrics (bot/metrics.py, bot/web/ops/metrics.py) and extra /healthz checks."""

    # Serve GET /metrics on the web server
    enabled: bool = True
    # Environment variable holding a bearer token /metrics requires; empty: no token (then
    # keep /metrics away from the public at the reverse proxy)
    token_env: str = ""
    # A worker-only process (--role worker) serves /metrics and /healthz on this port of
    # web.host; 0: not served
    worker_port: Annotated[int, Field(ge=0, le=65535)] = 0
    # Histogram buckets (seconds): due time to published, and a channel callback's handling
    dispatch_buckets: list[Annotated[float, Field(gt=0)]] = Field(
        default_factory=_latency_buckets, min_length=1
    )
    callback_buckets: list[Annotated[float, Field(gt=0)]] = Field(
        default_factory=_callback_buckets, min_length=1
    )
    # /healthz also fails when no once-per-slot scheduled job (inbox.sla, inbox.poll, ...)
    # has started within twice its interval (plus dispatcher.health_stale_seconds)
    check_scheduler: bool = False


class RedisConfig(_Section):
    """Optional Redis (bot/outbox/redis_state.py): the WeChat access token and each channel's rate
    limit shared by every process. Off (url empty): the token lives in the database and each
    process keeps its own rate limit."""

    # redis://host:port/db (rediss:// for TLS); empty: Redis is not used
    url: str = ""
    # Environment variable holding the Redis password (AUTH); empty: none, or the URL's
    password_env: str = ""
    # Prefix of every key Gongkai writes, so several deployments can share one Redis
    key_prefix: Annotated[str, Field(max_length=64)] = "gongkai:"
    # Seconds to wait for Redis before an operation fails (a delivery then retries later)
    timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 2

    @field_validator("url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix:// (or be empty)")
        return value

    @property
    def enabled(self) -> bool:
        return bool(self.url)


def _clock_time(value: str) -> str:
    """HH:MM on a 24-hour clock (Asia/Shanghai), normalised to two digits each."""
    hour, _, minute = value.partition(":")
    if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
        raise ValueError("expected HH:MM (Asia/Shanghai), e.g. 02:00")
    return f"{int(hour):02d}:{int(minute):02d}"


class SchedulerConfig(_Section):
    """The deployment-wide periodic jobs of scheduler/jobs.py beyond the inbox's own (whose
    intervals are under [inbox]): token refresh, 群发, source pulls, the nightly link re-check,
    channel freshness, the daily digest and the retention of enforcement notices."""

    # Daily jobs tick this often and run once a day at or after their time, so a day whose
    # time found no worker running still gets its run when one starts
    daily_tick_seconds: Annotated[float, Field(gt=0, le=3600)] = 300
    # WeChat access token refreshed in the background ahead of expiry (wechat enabled only)
    token_refresh_seconds: Annotated[float, Field(gt=0, le=3600)] = 60
    # How often the due 群发 (bot/wechat/mass_send.py) and the due source pulls are looked for
    mass_send_seconds: Annotated[float, Field(gt=0, le=3600)] = 120
    sources_seconds: Annotated[float, Field(gt=0, le=3600)] = 60
    # Nightly re-check of every link in what is published (错链断链), Asia/Shanghai time
    links_recheck_time: str = "02:00"
    # Where the Markdown reports go (linkcheck-YYYY-MM-DD.md); empty: no files
    reports_dir: str = ""
    # Channel and column freshness (两周未更新), checked daily at freshness_time
    freshness_time: str = "09:00"
    freshness_warn_days: Annotated[int, Field(ge=1, le=3650)] = 10
    freshness_alarm_days: Annotated[int, Field(ge=1, le=3650)] = 14
    column_alarm_days: dict[str, Annotated[int, Field(ge=1, le=3650)]] = Field(
        default_factory=lambda: {"notice": 180, "policy": 180}
    )
    # The daily digest to staff (the alert robot and the log)
    digest_time: str = "08:30"
    # Enforcement notices (行政执法公示) are retracted when their display period, counted in
    # days from publication, has passed; per 执法类别 overrides
    retention_time: str = "03:00"
    # WeChat's statistics (datacube) of the days before, read once a day (bot/wechat/stats.py)
    wechat_stats_time: str = "10:00"
    enforcement_display_days: Annotated[int, Field(ge=1, le=36500)] = 1095
    enforcement_display_days_by_category: dict[str, Annotated[int, Field(ge=1, le=36500)]] = Field(
        default_factory=dict
    )

    @field_validator(
        "links_recheck_time", "freshness_time", "digest_time", "retention_time", "wechat_stats_time"
    )
    @classmethod
    def _times(cls, value: str) -> str:
        return _clock_time(value)

    @field_validator("freshness_alarm_days")
    @classmethod
    def _alarm_after_warn(cls, value: int, info: Any) -> int:
        warn = info.data.get("freshness_warn_days")
        if warn is not None and value <= warn:
            raise ValueError("freshness_alarm_days must be greater than freshness_warn_days")
        return value

    @field_validator("enforcement_display_days_by_category")
    @classmethod
    def _categories(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(value) - set(CATEGORIES))
        if unknown:
            raise ValueError(
                f"unknown 执法类别 {', '.join(unknown)}; choose from {', '.join(CATEGORIES)}"
            )
        return value


class AuditConfig(_Section):
    """The audit log's key (bot/audit.py): each row's hash is an HMAC under it, so a row
    rewritten in the database cannot be re-chained without it. The key lives only in the
    environment, never in the database."""

    # The environment variable holding the key (at least 32 characters); `gongkai run`
    # refuses to start without it.
    key_env: str = "GONGKAI_AUDIT_KEY"
    # Variables holding earlier keys, after a rotation: verification needs them for the
    # segments those keys signed.
    previous_key_envs: list[str] = Field(default_factory=list)


class PasswordConfig(_Section):
    """The staff password policy (bot/staff/passwords.py), checked whenever a password is set:
    by `gongkai user add` / `reset-password`, by an admin in the console, by a user changing
    their own."""

    # At least this many characters (等保 2.0 asks for complexity; 12 is a common floor)
    min_length: Annotated[int, Field(ge=8, le=128)] = 12
    # At least this many of the four classes: upper-case, lower-case, digits, symbols
    min_classes: Annotated[int, Field(ge=1, le=4)] = 3
    # Refuse a password containing the username or the display name (case-insensitive;
    # names shorter than 3 characters are not checked)
    reject_names: bool = True


class StaffConfig(_Section):
    """Staff accounts: the password policy and 三员分立 (separation of duties)."""

    # 三员分立: an admin administers accounts and everything else, but reads the audit log only
    # when the account also holds the auditor role. false merges the duties (a small office
    # with one administrator): an admin then also reads the audit log.
    separate_duties: bool = True
    password: PasswordConfig = PasswordConfig()


INDEX_FIELDS = ("office_code", "year", "seq")
TopicName = Annotated[str, Field(min_length=1, max_length=64)]
# The longest 索引号 a pattern may produce (Item.index_no holds 64 characters).
INDEX_MAX_CHARS = 64
# Samples that render the longest number a pattern makes in practice (a billion approvals a
# year would still fit).
_INDEX_SAMPLE = {"year": 9999, "seq": 999_999_999}


def _index_parts(pattern: str) -> list[tuple[str, str | None, str]]:
    """(literal text, field or None, format spec) of an index_pattern; ValueError says what is
    wrong: only {office_code}, {year} and {seq} (once, an integer format) are allowed."""
    import string

    try:
        parsed = list(string.Formatter().parse(pattern))
    except ValueError as exc:
        raise ValueError(f"not a valid pattern ({exc}); write a brace as {{{{ or }}}}") from exc
    parts: list[tuple[str, str | None, str]] = []
    for literal, name, spec, conversion in parsed:
        if name is None:
            parts.append((literal, None, ""))
            continue
        if name not in INDEX_FIELDS or conversion:
            raise ValueError(
                f"unknown field {{{name}{'!' + conversion if conversion else ''}}}; use only "
                "{office_code}, {year} and {seq}, each with an optional format such as {seq:05d}"
            )
        spec = spec or ""
        # A number's format must keep numbers apart: no precision, no float or char type.
        if name != "office_code" and (
            "{" in spec or "." in spec or (spec[-1:].isalpha() and spec[-1:] != "d")
        ):
            raise ValueError(
                f"{{{name}:{spec}}}: {name} takes an integer format such as 05d "
                "(zero-padded to 5 digits)"
            )
        try:
            format("GK" if name == "office_code" else 1, spec)
        except ValueError as exc:
            raise ValueError(f"{{{name}:{spec}}}: not a valid format ({exc})") from exc
        parts.append((literal, name, spec))
    if sum(1 for _, name, _ in parts if name == "seq") != 1:
        raise ValueError("must contain {seq} (the sequence number) exactly once")
    return parts


class DisclosureConfig(_Section):
    """The 主动公开目录 metadata of items (bot/items/disclosure.py): the 索引号 given to an item
    when it is first approved, the 发布机构, and the list of 主题分类."""

    # 发布机构 of new items (an item may name another); empty: [site] agency, else app.name
    publisher: Annotated[str, Field(max_length=128)] = ""
    # The office's code in the 索引号 (e.g. its 统一社会信用代码 or 组织机构代码)
    office_code: Annotated[str, Field(min_length=1, max_length=32)] = "GK"
    # How a 索引号 is written: {office_code}, {year} (of the first approval, in app.timezone)
    # and {seq}, a counter per everything else in the pattern that only ever goes up
    index_pattern: str = "{office_code}-{year}-{seq:05d}"
    # 主题分类 an item may take (the 主题分类 of 国务院公文 / 主动公开目录)
    topics: Annotated[list[TopicName], Field(min_length=1)] = Field(
        default_factory=lambda: [
            "综合政务",
            "国民经济管理、国有资产监管",
            "财政、金融、审计",
            "市场监管、安全生产监管",
            "劳动、人事、监察",
            "其他",
        ]
    )

    @field_validator("office_code")
    @classmethod
    def _plain_code(cls, value: str) -> str:
        if value != value.strip() or any(ch in value for ch in "{}") or not value.isprintable():
            raise ValueError("expected printable text without braces or surrounding spaces")
        return value

    @field_validator("topics")
    @classmethod
    def _distinct_topics(cls, value: list[str]) -> list[str]:
        cleaned = [t.strip() for t in value]
        if any(not t for t in cleaned):
            raise ValueError("a topic is blank")
        if len(set(cleaned)) != len(cleaned):
            raise ValueError("a topic is listed twice")
        return cleaned

    @field_validator("index_pattern")
    @classmethod
    def _pattern(cls, value: str, info: Any) -> str:
        _index_parts(value)
        code = info.data.get("office_code", "GK")
        longest = value.format(office_code=code, **_INDEX_SAMPLE)
        if len(longest) > INDEX_MAX_CHARS:
            raise ValueError(
                f"makes numbers of up to {len(longest)} characters (such as {longest!r}); "
                f"at most {INDEX_MAX_CHARS} fit"
            )
        return value

    def index_number(self, year: int, seq: int) -> str:
        """The 索引号 of sequence number `seq` in `year`."""
        return self.index_pattern.format(office_code=self.office_code, year=year, seq=seq)

    def index_scope(self, year: int) -> str:
        """What one counter numbers: the pattern with everything but {seq} filled in, so a
        pattern without {year} keeps counting across years and a changed pattern or office
        code starts a counter of its own (never one whose numbers were given)."""
        values: dict[str, Any] = {"office_code": self.office_code, "year": year}
        out = []
        for literal, name, spec in _index_parts(self.index_pattern):
            out.append(literal)
            if name is not None:
                out.append("{seq}" if name == "seq" else format(values[name], spec))
        return "".join(out)


class Config(_Section):
    app: AppConfig = AppConfig()
    site: SiteConfig = SiteConfig()
    search: SearchConfig = SearchConfig()
    database: DatabaseConfig = DatabaseConfig()
    web: WebConfig = WebConfig()
    dispatcher: DispatcherConfig = DispatcherConfig()
    review: ReviewConfig = ReviewConfig()
    channels: ChannelsConfig = ChannelsConfig()
    inbox: InboxConfig = InboxConfig()
    audit: AuditConfig = AuditConfig()
    staff: StaffConfig = StaffConfig()
    sources: list[SourceConfig] = Field(default_factory=list)
    columns: dict[str, ColumnConfig] = Field(default_factory=_default_columns)
    log: LogConfig = LogConfig()
    metrics: MetricsConfig = MetricsConfig()
    redis: RedisConfig = RedisConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    disclosure: DisclosureConfig = DisclosureConfig()
    sandbox: SandboxConfig = SandboxConfig()
    # 集中诉求 → 专项回应 (bot/matters/): the listed 办事事项, matching and the task thresholds
    matters: Matters = Field(default_factory=list)
    hot_matters: HotMattersConfig = HotMattersConfig()

    @field_validator("columns")
    @classmethod
    def _slug_keys(cls, value: dict[str, ColumnConfig]) -> dict[str, ColumnConfig]:
        for key in value:
            if not key.replace("-", "").replace("_", "").isalnum() or not key.isascii():
                raise ValueError(f"column key {key!r} must be ASCII letters, digits, - or _")
        return value

    @model_validator(mode="after")
    def _source_names_and_columns(self) -> Config:
        # after: the columns may be the defaults, which field validators never see
        seen: set[str] = set()
        for source in self.sources:
            if source.name in seen:
                raise ValueError(f"sources: the name {source.name!r} is used twice")
            seen.add(source.name)
            unknown = sorted(set(source.columns_used()) - set(self.columns))
            if unknown:
                raise ValueError(
                    f"sources ({source.name}): unknown column(s) {', '.join(unknown)}; "
                    f"known: {', '.join(self.columns)}"
                )
        return self

    def publisher(self) -> str:
        """The 发布机构 of items that name none: [disclosure] publisher, else the agency that
        runs the site ([site] agency, else app.name)."""
        return self.disclosure.publisher or self.site.agency or self.app.name

    def author_key(self) -> bytes:
        """The key for opaque author references; ConfigError when its variable is not set."""
        value = self.secret(self.inbox.author_key_env)
        if not value:
            raise ConfigError(
                f"inbox.author_key_env: environment variable {self.inbox.author_key_env} is not "
                "set (author references of the public are keyed hashes made with it)"
            )
        return value.encode()

    def audit_keys(self) -> tuple[bytes | None, tuple[bytes, ...]]:
        """(the audit key, or None when its variable is unset; the earlier keys that are set)."""
        current = self.secret(self.audit.key_env)
        previous = tuple(v.encode() for e in self.audit.previous_key_envs if (v := self.secret(e)))
        return (current.encode() if current else None), previous

    def audit_key(self) -> bytes:
        """The audit key; ConfigError when its variable is not set or too short."""
        current = self.secret(self.audit.key_env) or ""
        if len(current) < 32:
            raise ConfigError(
                f"audit.key_env: environment variable {self.audit.key_env} must hold the audit "
                "key (at least 32 characters; the audit log's hashes are keyed with it)"
            )
        return current.encode()

    def secret(self, env_name: str) -> str | None:
        """The secret held in the environment variable the config names, or None."""
        return self._environ.get(env_name) or None

    _environ: dict[str, str] = PrivateAttr(default_factory=dict)


def _format_errors(exc: ValidationError, source: str) -> str:
    lines = [f"{source}: {exc.error_count()} problem(s) in the configuration:"]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown key (check the spelling against config.toml)")
            continue
        value = err.get("input")
        shown = repr(value) if not isinstance(value, dict) else "a table"
        message = err["msg"].removeprefix("Value error, ")
        lines.append(f"  {key} = {shown}: {message}")
    return "\n".join(lines)


def parse_config(
    data: dict[str, Any], source: str = "config", environ: dict[str, str] | None = None
) -> Config:
    """Validate a parsed TOML document; ConfigError lists each bad key, value and expectation."""
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, source)) from exc
    config._environ = dict(os.environ if environ is None else environ)
    return config


def load_config(path: str | Path | None = None, environ: dict[str, str] | None = None) -> Config:
    """Read and validate the configuration file (config.toml by default)."""
    file = Path(path) if path else DEFAULT_CONFIG
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{file}: configuration file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read the configuration file: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from exc
    return parse_config(data, str(file), environ)
