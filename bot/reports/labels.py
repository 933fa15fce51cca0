"""What people call each channel, taken from the channel classes themselves (their `label`), so
the console, the digest and the annual report name a channel alike."""

from __future__ import annotations

from channels.feed import FeedChannel
from channels.suishenban.channel import SuishenbanChannel
from channels.webhook import WebhookChannel
from channels.wechat.channel import WechatChannel

CHANNEL_LABELS: dict[str, str] = {
    cls.name: cls.label for cls in (FeedChannel, WebhookChannel, WechatChannel, SuishenbanChannel)
}


def channel_label(name: str) -> str:
    """The channel's Chinese name; an unknown name (a channel since removed) as stored."""
    return CHANNEL_LABELS.get(name, name)
