"""Build the enabled channels from the configuration (the dispatcher sees only channels/base),
with their shared state: the WeChat token store and the per-channel rate limiters, in Redis
when [redis] is configured, otherwise in the database (token) and in the process (limits)."""

from __future__ import annotations

import secrets
from pathlib import Path

from bot.config import Config, ConfigError, SuishenbanChannelConfig
from bot.outbox.channel_state import (
    DbCoverStore,
    DbEvents,
    DbTokenStore,
    WechatCommentTargets,
    WechatMassCopies,
)
from bot.outbox.claim import lease_owner
from bot.outbox.redis_state import RedisRateLimiter, RedisTokenStore, client_for
from channels.base import Channel
from channels.feed import FeedChannel
from channels.pacing import RateLimiter, TokenBucket
from channels.suishenban.channel import SuishenbanChannel, SuishenbanSettings
from channels.suishenban.contract import Contract, ContractError
from channels.webhook import WebhookChannel
from channels.wechat.channel import WechatChannel, WechatRecords, WechatSettings
from channels.wechat.token import TokenStore

ROOT = Path(__file__).resolve().parents[2]


def build_channels(config: Config) -> dict[str, Channel]:
    out: dict[str, Channel] = {}
    c = config.channels
    if c.feed.enabled:
        out["feed"] = FeedChannel(c.feed.concurrency, c.feed.rate_per_second)
    if c.webhook.enabled:
        secret = config.secret(c.webhook.secret_env)
        if not secret:
            raise ConfigError(
                f"channels.webhook.secret_env: environment variable {c.webhook.secret_env} "
                "is not set (the webhook channel signs with it)"
            )
        out["webhook"] = WebhookChannel(
            c.webhook.url,
            secret,
            c.webhook.timeout_seconds,
            c.webhook.concurrency,
            c.webhook.rate_per_second,
            c.webhook.lookup,
        )
    if c.wechat.enabled:
        out["wechat"] = build_wechat(config)
    if c.suishenban.enabled:
        out["suishenban"] = build_suishenban(config)
    return out


def build_limiters(config: Config, channels: dict[str, Channel]) -> dict[str, RateLimiter]:
    """One rate limiter per channel at its limits.rate_per_second: shared by every process
    through Redis when [redis] is configured (one client for all), else a TokenBucket each."""
    client = client_for(config)
    if client is None:
        return {n: TokenBucket(c.limits.rate_per_second) for n, c in channels.items()}
    prefix = config.redis.key_prefix
    return {
        n: RedisRateLimiter(client, n, c.limits.rate_per_second, prefix=prefix)
        for n, c in channels.items()
    }


def token_store(config: Config) -> TokenStore:
    """Where the WeChat access token is kept: Redis when configured, else the database."""
    client = client_for(config)
    if client is None:
        return DbTokenStore()
    return RedisTokenStore(client, config.redis.key_prefix)


def build_wechat(config: Config) -> WechatChannel:
    """The WeChat channel with what it keeps in the database or Redis (WechatRecords): the
    shared token, events, the copies whose comments it polls or deletes, the kept covers."""
    w = config.channels.wechat
    secret = config.secret(w.app_secret_env)
    if not secret or not w.app_id:
        raise ConfigError(
            f"channels.wechat: app_id must be set and environment variable {w.app_secret_env} "
            "(app_secret_env) must hold the AppSecret"
        )
    cover = Path(w.default_cover)
    settings = WechatSettings(
        app_id=w.app_id,
        app_secret=secret,
        base_urls=[w.api_base_url, *w.fallback_base_urls],
        site_url=config.app.public_base_url,
        timeout=w.timeout_seconds,
        concurrency=w.concurrency,
        rate_per_second=w.rate_per_second,
        token_margin_seconds=w.token_refresh_margin_seconds,
        token_lock_seconds=w.token_lock_seconds,
        author=w.author,
        default_cover=cover if cover.is_absolute() else ROOT / cover,
        cover_max_bytes=w.cover_max_bytes,
        title_max=w.title_max,
        digest_max=w.digest_max,
        image_max_bytes=w.image_max_bytes,
        image_max_pixels=config.web.media.max_image_pixels,
        open_comment=w.open_comment,
        only_fans_can_comment=w.only_fans_can_comment,
        publish_wait_seconds=w.publish_wait_seconds,
        publish_poll_minutes=w.publish_poll_minutes,
        comment_page_size=w.comment_page_size,
    )
    records = WechatRecords(
        tokens=token_store(config),
        events=DbEvents("wechat"),
        comment_targets=WechatCommentTargets("wechat", w.comment_poll_days),
        mass_copies=WechatMassCopies("wechat"),
        covers=DbCoverStore("wechat"),
    )
    return WechatChannel(
        settings,
        records,
        config.author_key(),
        lease_owner(f"wechat-token-{secrets.token_hex(3)}"),
    )


def contract_from(cfg: SuishenbanChannelConfig) -> Contract:
    """The contract the configuration describes; ConfigError names a bad override."""
    try:
        return Contract.build(
            paths=cfg.paths,
            headers=cfg.headers,
            fields=cfg.fields,
            error_codes=dict(cfg.error_codes),
            sign_template=cfg.sign_template,
            signature_encoding=cfg.signature_encoding,
            token_prefix=cfg.token_prefix,
        )
    except ContractError as exc:
        raise ConfigError(str(exc)) from exc


def build_suishenban(config: Config) -> SuishenbanChannel:
    """The 随申办 channel as configured."""
    s = config.channels.suishenban
    secret = config.secret(s.app_secret_env)
    if not s.app_id or not secret:
        raise ConfigError(
            f"channels.suishenban: app_id must be set and environment variable "
            f"{s.app_secret_env} (app_secret_env) must hold the app secret"
        )
    settings = SuishenbanSettings(
        base_url=s.api_base_url,
        app_id=s.app_id,
        app_secret=secret,
        timeout=s.timeout_seconds,
        concurrency=s.concurrency,
        rate_per_second=s.rate_per_second,
        token_margin_seconds=s.token_refresh_margin_seconds,
        audience=tuple(s.audience),
        default_cover_url=s.default_cover_url,
        title_max=s.title_max,
        summary_max=s.summary_max,
        reply_max_chars=s.reply_max_chars,
        page_size=s.feedback_page_size,
        lookup=s.lookup,
    )
    return SuishenbanChannel(settings, contract_from(s), config.author_key())


def retract_support(config: Config) -> dict[str, bool]:
    """Which channels can retract (used by the retract action; builds, never opens, channels)."""
    return {name: ch.limits.can_retract for name, ch in build_channels(config).items()}
