"""Refresh the shared WeChat access token in the background, ahead of expiry, so a delivery
or a reply seldom has to wait for WeChat's token endpoint.

The token lives in the store every process reads (the database, or Redis when configured:
bot/outbox/channel_set.token_store); the refresh goes through
channels.wechat.token.TokenManager with the store's cross-process lock. The margin is the
channel's own refresh margin plus one job interval: the next tick would come too late.
WeChat's stable_token hands out the same token until its last five minutes, so a fetch
earlier than that only learns the remaining lifetime; the tick after issues the new one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.config import Config
from bot.outbox.channel_set import build_wechat
from channels.base import Channel
from channels.wechat.channel import WechatChannel
from channels.wechat.token import TOKEN_KEY, TokenManager


async def refresh_wechat_token(
    config: Config, channels: dict[str, Channel], owner: str
) -> dict[str, Any]:
    """Refresh the token if it expires within the margin; what was done, never the token."""
    w = config.channels.wechat
    if not w.enabled:
        return {"skipped": "wechat disabled"}
    running = channels.get("wechat")
    channel = running if isinstance(running, WechatChannel) else build_wechat(config)
    own = channel is not running
    # The channel's own store: the database, or Redis when [redis] is configured.
    store = channel.api.tokens.store
    before = await store.read(TOKEN_KEY)
    if own:
        await channel.start()
    try:
        manager = TokenManager(
            store,
            channel.api.fetch_token,
            owner,
            margin_seconds=w.token_refresh_margin_seconds + config.scheduler.token_refresh_seconds,
            lock_seconds=w.token_lock_seconds,
        )
        value = await manager.get()
    finally:
        if own:
            await channel.close()
    after = await store.read(TOKEN_KEY)
    expires = after.expires_at if after else None
    return {
        "fetched": manager.fetches > 0,
        "changed": before is None or before.value != value,
        "expires_at": expires.isoformat() if expires else None,
        "seconds_left": int((expires - datetime.now(UTC)).total_seconds()) if expires else None,
    }
