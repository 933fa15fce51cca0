"""预览到手机: an approved item sent with message/mass/preview to one staff member's WeChat (the
openid or 微信号 on their user) before the 群发, so they see it as followers will. The article
is built as the 群发 builds it (WechatChannel.article over the publish delivery's uploads, or
over nothing yet when the item is not yet on WeChat) into a draft of its own; a preview is never
a send: no MassSend row, no delivery, no sendall quota."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tortoise.transactions import in_transaction

from bot import audit
from bot.actors import Actor
from bot.config import Config
from bot.errors import Refusal
from bot.items.render import Renderer
from bot.models import (
    STATUS_LABELS,
    Delivery,
    DeliveryAction,
    DeliveryStatus,
    Item,
    ItemStatus,
    ItemVersion,
    Role,
    User,
)
from bot.outbox.channel_set import build_wechat
from channels.base import ChannelError
from channels.wechat.backoffice import Backoffice, PreviewTarget
from channels.wechat.channel import WechatChannel

CHANNEL = "wechat"
# Approved and not retracted: what a reviewer has let out, whatever the deliveries did since.
PREVIEWABLE = frozenset(
    {
        ItemStatus.APPROVED,
        ItemStatus.SCHEDULED,
        ItemStatus.PUBLISHING,
        ItemStatus.PUBLISHED,
        ItemStatus.PARTLY_PUBLISHED,
        ItemStatus.FAILED,
    }
)
OPENID_MAX = 64


class PreviewRefused(Refusal):
    """The preview cannot be sent: the message says why (status 409)."""

    code = "preview_refused"


class NoRecipient(Refusal):
    """The staff member has no WeChat openid or 微信号 on their user."""

    status_code = 422
    code = "no_wechat_recipient"
    field = "to"


@dataclass(frozen=True)
class PreviewSent:
    item_id: int
    version: int
    to: str  # the username it went to
    msg_id: str
    media_id: str


class _Scratch:
    """A Job over a copy of a checkpoint: the images and cover uploaded for the item's
    publication are reused; nothing is written back."""

    def __init__(self, key: str, checkpoint: dict[str, Any]) -> None:
        self.delivery_id = 0
        self.idempotency_key = key
        self.checkpoint = dict(checkpoint)
        self.attempt = 0

    async def save(self, **updates: Any) -> None:
        self.checkpoint.update(updates)


def target_of(user: User) -> PreviewTarget:
    """Where a preview to `user` goes: their openid, else their 微信号; NoRecipient if neither."""
    if user.wechat_openid:
        return PreviewTarget(openid=user.wechat_openid)
    if user.wechat_id:
        return PreviewTarget(wxname=user.wechat_id)
    name = user.display_name or user.username
    raise NoRecipient(
        f"{name}尚未填写微信 OpenID 或微信号，无法预览到手机：请在「个人设置」中填写后再试。"
    )


async def _approved_version(item: Item) -> ItemVersion:
    if ItemStatus(item.status) not in PREVIEWABLE:
        label = STATUS_LABELS.get(ItemStatus(item.status), item.status)
        raise PreviewRefused(
            f"《{item.title}》当前状态为「{label}」，只有已批准且未撤稿的稿件才能预览到手机。"
        )
    version = (
        await ItemVersion.filter(item_id=item.id, approved_at__isnull=False)
        .order_by("-version")
        .first()
    )
    if version is None:
        raise PreviewRefused(f"《{item.title}》没有已批准的版本，不能预览到手机。")
    return version


async def preview_item(
    config: Config,
    item_id: int,
    actor: Actor,
    to_username: str,
    channel: WechatChannel | None = None,
) -> PreviewSent:
    """Send the item's approved version to `to_username`'s WeChat; audited as wechat.preview."""
    actor.require(Role.EDITOR, Role.REVIEWER, doing="预览到手机")
    if not config.channels.wechat.enabled:
        raise PreviewRefused("微信渠道未启用（channels.wechat.enabled），不能预览到手机。")
    item = await Item.get_or_none(id=item_id)
    if item is None:
        raise PreviewRefused(f"稿件 {item_id} 不存在。")
    to = await User.get_or_none(username=to_username, active=True)
    if to is None:
        raise NoRecipient(f"没有名为「{to_username}」的在用账号，无法预览到手机。")
    target = target_of(to)
    version = await _approved_version(item)
    delivery = (
        await Delivery.filter(
            item_id=item.id,
            channel=CHANNEL,
            action=DeliveryAction.PUBLISH.value,
            status=DeliveryStatus.DONE.value,
            item_version=version.version,
        )
        .order_by("-id")
        .first()
    )
    content = Renderer(config).render(version.snapshot, CHANNEL, version.approved_at)
    job = _Scratch(f"preview-{item.id}-{version.version}", delivery.checkpoint if delivery else {})
    marker = str(job.checkpoint.get("marker") or content.url)
    tagged = f"{marker}{'&' if '?' in marker else '?'}preview={version.version}"
    own = channel is None
    ch = channel or build_wechat(config)
    if own:
        await ch.start()
    try:
        article = await ch.article(content, job, tagged)
        media_id = await ch.add_draft([article])
        msg_id = await Backoffice(ch.api).preview(media_id, target)
    except ChannelError as exc:
        raise PreviewRefused(f"预览未能发出：{exc}") from exc
    finally:
        if own:
            await ch.close()
    async with in_transaction() as conn:
        details = {"version": version.version, "username": to.username, "msg_id": msg_id}
        await audit.record(conn, actor.name, "wechat.preview", "item", item.id, details)
    return PreviewSent(item.id, version.version, to.username, msg_id, media_id)


OPENID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def _check_openid(value: str) -> str:
    value = value.strip()
    if value and (len(value) > OPENID_MAX or not set(value) <= OPENID_CHARS):
        raise NoRecipient(
            "微信 OpenID 格式不对：应为本公众号下的 OpenID（字母、数字、下划线或连字符，"
            f"不超过 {OPENID_MAX} 个字符）。"
        )
    return value


def _check_wxname(value: str) -> str:
    # 微信号: 6 to 20 letters, digits, "_" or "-", beginning with a letter (WeChat's own rule
    # for setting one).
    value = value.strip()
    ok = 6 <= len(value) <= 20 and value[0].isascii() and value[0].isalpha()
    if value and not (ok and set(value) <= OPENID_CHARS):
        raise NoRecipient(
            "微信号格式不对：应为 6 至 20 位字母、数字、下划线或连字符，并以字母开头。",
        )
    return value


async def set_recipient(user: User, actor: Actor, openid: str, wxname: str) -> User:
    """A person sets where their previews go (个人设置); audited as user.set_wechat."""
    openid, wxname = _check_openid(openid), _check_wxname(wxname)
    async with in_transaction() as conn:
        await User.filter(id=user.id).using_db(conn).update(wechat_openid=openid, wechat_id=wxname)
        details = {"openid_set": bool(openid), "wechat_id_set": bool(wxname)}
        await audit.record(conn, actor.name, "user.set_wechat", "user", user.id, details)
    user.wechat_openid, user.wechat_id = openid, wxname
    return user
