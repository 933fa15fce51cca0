"""Build the enabled channels from the configuration (the dispatcher sees only channels/base)."""

from __future__ import annotations

from bot.config import Config, ConfigError
from channels.base import Channel
from channels.feed import FeedChannel
from channels.webhook import WebhookChannel


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
    return out


def retract_support(config: Config) -> dict[str, bool]:
    """Which channels can retract (used by the retract action; builds, never opens, channels)."""
    return {name: ch.limits.can_retract for name, ch in build_channels(config).items()}
