"""Per-channel previews of an item's current text, rendered by bot/items/render.py exactly as the
dispatcher would render it: the feed entry, the webhook payload, and every other channel that
has templates (WeChat article, 随申办 card when their templates exist)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import jinja2
from aiohttp import web
from markupsafe import Markup

from bot.items import lifecycle
from bot.models import Item
from bot.reports.labels import channel_label
from bot.web.console.core import PREFIX, Ctx, Route


@dataclass(frozen=True)
class Preview:
    channel: str
    label: str
    title: str
    summary: str
    html: Markup | None = None
    payload: str = ""
    note: str = ""


def webhook_payload(content: Any) -> dict[str, Any]:
    """The JSON body channels/webhook.py posts (the key is made per delivery)."""
    return {
        "key": "（投递时生成）",
        "item_id": content.item_id,
        "version": content.version,
        "kind": content.kind,
        "title": content.title,
        "summary": content.summary,
        "html": content.html,
        "url": content.url,
    }


async def previews(ctx: Ctx) -> web.StreamResponse:
    item = await Item.filter(id=ctx.int_param("id")).first()
    if item is None:
        raise web.HTTPNotFound()
    snap = lifecycle.snapshot(item)
    shown = []
    for name in ctx.config.channels.enabled_names():
        label = channel_label(name)
        try:
            content = ctx.renderer.render(snap, name, item.approved_at)
        except jinja2.TemplateNotFound:
            shown.append(
                Preview(
                    name, label, item.title, item.summary, note="此渠道没有页面模板，无法预览。"
                )
            )
            continue
        if name == "webhook":
            payload = json.dumps(webhook_payload(content), ensure_ascii=False, indent=2)
            shown.append(
                Preview(
                    name,
                    label,
                    content.title,
                    content.summary,
                    Markup(content.html),
                    payload=payload,
                )
            )
        else:
            # The renderer escapes every field and renders Markdown without raw HTML.
            shown.append(Preview(name, label, content.title, content.summary, Markup(content.html)))
    return await ctx.render("console/previews.html", item=item, previews=shown)


ROUTES = [Route("GET", f"{PREFIX}/items/{{id}}/preview", previews)]
