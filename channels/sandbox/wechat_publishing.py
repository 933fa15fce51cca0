"""The WeChat simulator's material, drafts and publications: media/uploadimg and
material/add_material (files already read), draft/add and draft/batchget, and the read
and delete side of freepublish (get, batchget, delete) over the simulator's ledger; each
function answers one request body with WeChat's JSON answer. freepublish/submit and the publish
job that finishes later live in the simulator (wechat.py), which owns tasks and callbacks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from channels.sandbox.wechat_comments import CommentDesk
from channels.sandbox.wechat_state import Ledger, error

OK = {"errcode": 0, "errmsg": "ok"}
JPEG, PNG = b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n"


def upload_image(ledger: Ledger, name: str, data: bytes, image_id: str) -> dict[str, Any]:
    # [S5]: jpg/png only, under 1 MB.
    if not data.startswith((JPEG, PNG)):
        return error(40005, "invalid file type")
    if len(data) >= 1024 * 1024:
        return error(40009, "invalid image size")
    url = f"http://mmbiz.qpic.cn/sandbox/{image_id}/0?wx_fmt=png"
    ledger.images.append({"name": name, "size": len(data), "url": url})
    return {"url": url}


def add_material(
    ledger: Ledger, kind: str, name: str, data: bytes, media_id: str
) -> dict[str, Any]:
    # [S6]: image up to 10 MB, thumb up to 64 KB (the simulator also takes PNG thumbs).
    if kind not in ("image", "thumb"):
        return error(40004, "invalid media type")
    if not data.startswith((JPEG, PNG)):
        return error(40005, "invalid file type")
    if kind == "thumb" and len(data) > 64 * 1024:
        return error(40012, "invalid thumb size")
    if len(data) > 10 * 1024 * 1024:
        return error(40009, "invalid image size")
    url = f"http://mmbiz.qpic.cn/sandbox/{media_id}/0"
    ledger.materials[media_id] = {"type": kind, "name": name, "size": len(data)}
    return {"media_id": media_id, "url": url}


def draft_add(ledger: Ledger, body: dict[str, Any], media_id: str, now: float) -> dict[str, Any]:
    articles = body.get("articles") or []
    if not articles or len(articles) > 8:
        return error(45008, "article size out of limit")
    for article in articles:
        if not article.get("title"):
            return error(44003, "empty news data")
        if not article.get("content"):
            return error(44004, "empty content")
        if article.get("thumb_media_id") not in ledger.materials:
            return error(40007, "invalid media_id")
    ledger.drafts[media_id] = {"articles": articles, "update_time": int(now), "consumed": False}
    return {"media_id": media_id}


def draft_batchget(ledger: Ledger, body: dict[str, Any]) -> dict[str, Any]:
    live = [(m, d) for m, d in ledger.drafts.items() if not d["consumed"]]
    live.sort(key=lambda pair: -pair[1]["update_time"])
    offset, count = int(body.get("offset", 0)), min(int(body.get("count", 20)), 20)
    items = [
        {
            "media_id": m,
            "content": {"news_item": news(d["articles"], bool(body.get("no_content")))},
            "update_time": d["update_time"],
        }
        for m, d in live[offset : offset + count]
    ]
    return {"total_count": len(live), "item_count": len(items), "item": items}


def freepublish_get(
    ledger: Ledger, body: dict[str, Any], quota: Callable[[], bool]
) -> dict[str, Any]:
    publish_id = str(body.get("publish_id", ""))
    pub = ledger.publications.get(publish_id)
    if pub is None:
        return error(53600, "invalid publish_id")
    if not quota():
        return error(45009, "reach max api daily quota limit")
    answer: dict[str, Any] = {
        "publish_id": publish_id,
        "publish_status": pub["status"],
        "fail_idx": pub["fail_idx"],
    }
    if pub["status"] == 0:
        answer["article_id"] = pub["article_id"]
        answer["article_detail"] = {
            "count": len(pub["urls"]),
            "item": [{"idx": i + 1, "article_url": u} for i, u in enumerate(pub["urls"])],
        }
    return answer


def freepublish_batchget(ledger: Ledger, body: dict[str, Any]) -> dict[str, Any]:
    live = [(a, r) for a, r in ledger.articles.items() if not r["deleted"]]
    live.sort(key=lambda pair: -pair[1]["update_time"])
    offset, count = int(body.get("offset", 0)), min(int(body.get("count", 20)), 20)
    items = []
    for article_id, rec in live[offset : offset + count]:
        entries = news(rec["articles"], bool(body.get("no_content")))
        for entry, url in zip(entries, rec["urls"], strict=True):
            entry["url"] = url
        items.append(
            {
                "article_id": article_id,
                "content": {"news_item": entries},
                "update_time": rec["update_time"],
            }
        )
    return {"total_count": len(live), "item_count": len(items), "item": items}


def freepublish_delete(
    ledger: Ledger, comments: CommentDesk, body: dict[str, Any]
) -> dict[str, Any]:
    article_id = str(body.get("article_id", ""))
    rec = ledger.articles.get(article_id)
    if rec is None or rec["deleted"]:
        return error(53600, "invalid article_id")
    # [S21]: index is 1-based; 0 or absent deletes every article of the publication.
    index = int(body.get("index", 0))
    if index == 0:
        rec["deleted"] = True
        comments.delete_copies("publish", article_id)  # its comments go with it (88001)
    ledger.deleted.append((article_id, index))
    return dict(OK)


def news(articles: list[dict[str, Any]], no_content: bool) -> list[dict[str, Any]]:
    keys = ("title", "author", "digest", "content", "content_source_url", "thumb_media_id")
    out = []
    for article in articles:
        entry = {k: article.get(k, "") for k in keys}
        if no_content:
            entry["content"] = ""
        out.append(entry)
    return out
