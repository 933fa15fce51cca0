"""The WeChat simulator's material, drafts and publications: media/uploadimg and
material/add_material (files already read), draft/add and draft/batchget, and the read
and delete side of freepublish (get, batchget, delete) over the simulator's ledger; each
function answers one request body with WeChat's JSON answer. freepublish/submit and the publish
job that finishes later live in the simulator (wechat.py), which owns tasks and callbacks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from channels.sandbox.wechat_comments import CommentDesk
from channels.sandbox.wechat_state import DraftLimits, Ledger, Quotas, error

OK = {"errcode": 0, "errmsg": "ok"}
JPEG, PNG = b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n"
GIF87, GIF89, BMP = b"GIF87a", b"GIF89a", b"BM"


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
    ledger: Ledger, quotas: Quotas, kind: str, name: str, data: bytes, media_id: str
) -> dict[str, Any]:
    """material/add_material of a file already read [S6] (docs/channels/wechat.md "Endpoints"):
    type image: bmp/png/jpeg/jpg/gif up to 10 MB; type thumb: JPG only, up to 64 KB (40012, the
    global table's 不合法的缩略图文件大小 [S40]); the library holds at most quotas.materials of
    each type (S6 S8; the errcode for a full library is documented nowhere: -1 is used)."""
    if kind not in ("image", "thumb"):
        return error(40004, "invalid media type")
    allowed = (JPEG,) if kind == "thumb" else (JPEG, PNG, GIF87, GIF89, BMP)
    if not data.startswith(allowed):
        return error(40005, "invalid file type")
    if kind == "thumb" and len(data) > 64 * 1024:
        return error(40012, "invalid thumb size")
    if len(data) > 10 * 1024 * 1024:
        return error(40009, "invalid image size")
    held = sum(1 for m in ledger.materials.values() if m["type"] == kind)
    if held >= quotas.materials.get(kind, 1000):
        return error(-1, f"material count of type {kind} reach limit")
    url = f"http://mmbiz.qpic.cn/sandbox/{media_id}/0"
    ledger.materials[media_id] = {"type": kind, "name": name, "size": len(data)}
    return {"media_id": media_id, "url": url}


def del_material(ledger: Ledger, body: dict[str, Any]) -> dict[str, Any]:
    """material/del_material {media_id} [S7]: 40007 for a media_id the library does not hold."""
    media_id = body.get("media_id")
    if not isinstance(media_id, str) or media_id not in ledger.materials:
        return error(40007, "invalid media_id")
    del ledger.materials[media_id]
    ledger.deleted_materials.append(media_id)
    return dict(OK)


def material_count(ledger: Ledger) -> dict[str, Any]:
    """material/get_materialcount (GET) [S8]: numbers per type; a thumb is not an image."""
    kinds = [m["type"] for m in ledger.materials.values()]
    counts = {f"{k}_count": kinds.count(k) for k in ("voice", "video", "image")}
    return {**counts, "news_count": 0}


def draft_add(
    ledger: Ledger, limits: DraftLimits, body: dict[str, Any], media_id: str, now: float
) -> dict[str, Any]:
    """draft/add [S9][S10]: at most limits.articles articles, each with a title, content and a
    permanent thumb_media_id (40007 otherwise), within the field limits of DraftLimits."""
    articles = body.get("articles")
    if not isinstance(articles, list) or not articles or len(articles) > limits.articles:
        return error(45008, "article size out of limit")
    for article in articles:
        if not isinstance(article, dict):
            return error(44003, "empty news data")
        refused = _over_limit(article, limits)
        if refused is not None:
            return refused
        if article.get("thumb_media_id") not in ledger.materials:
            return error(40007, "invalid media_id")
    ledger.drafts[media_id] = {"articles": articles, "update_time": int(now), "consumed": False}
    return {"media_id": media_id}


def _over_limit(article: dict[str, Any], limits: DraftLimits) -> dict[str, Any] | None:
    fields = {k: article.get(k) or "" for k in ("title", "author", "digest", "content")}
    source = article.get("content_source_url") or ""
    if not all(isinstance(v, str) for v in (*fields.values(), source)):
        return error(40008, "invalid message type")  # a field that is not a string
    if not fields["title"]:
        return error(44003, "empty news data")
    if not fields["content"]:
        return error(44004, "empty content")
    if len(fields["title"]) > limits.title:
        return error(45003, "title size out of limit")
    if len(fields["author"]) > limits.author:
        return error(45110, "author size out of limit")
    if len(fields["digest"]) > limits.digest:
        return error(45004, "description size out of limit")
    content = fields["content"]
    if len(content) >= limits.content_chars or len(content.encode()) >= limits.content_bytes:
        return error(45002, "content size out of limit")
    if len(source.encode()) > limits.source_url_bytes:
        return error(41039, "invalid content_source_url")
    return None


def draft_count(ledger: Ledger) -> dict[str, Any]:
    """draft/count (GET) [S12]: the drafts still in the draft box."""
    return {**OK, "total_count": sum(1 for d in ledger.drafts.values() if not d["consumed"])}


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
    index = body.get("index", 0)
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        return error(40008, "invalid index")
    if index == 0:
        rec["deleted"] = True
    comments.delete_copies("publish", article_id, index)  # its comments go with it (88001)
    ledger.deleted.append((article_id, index))
    return dict(OK)


def mass_delete(ledger: Ledger, comments: CommentDesk, body: dict[str, Any]) -> dict[str, Any]:
    """message/mass/delete {msg_id, article_idx} [S27][S25]: msg_id is the number sendall
    returned; article_idx is 1-based, 0 or absent deletes the whole message; 40060 for an
    article_idx past the message [S40]. An unknown msg_id answers 40059 (a community report,
    unconfirmed). The article pages of what was deleted close, and so do their comments
    (88001); followers keep the card. Deleting again what is already gone answers ok (the pages
    say nothing else; unconfirmed)."""
    msg_id, index = body.get("msg_id"), body.get("article_idx", 0)
    if isinstance(msg_id, str) and msg_id.isdigit():
        msg_id = int(msg_id)
    sent = [m for m in ledger.mass_sends if m["msg_id"] == msg_id and not isinstance(msg_id, bool)]
    if not sent:
        return error(40059, "invalid msg id")
    if (
        isinstance(index, bool)
        or not isinstance(index, int)
        or not 0 <= index <= len(sent[0]["titles"])
    ):
        return error(40060, "invalid article_idx")
    sent[0].setdefault("deleted", []).append(index)
    comments.delete_copies("mass", str(msg_id), index)
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
