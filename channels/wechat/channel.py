"""The WeChat Official Account channel: an item becomes an article through body images
(media/uploadimg), a cover (material/add_material), draft/add and freepublish/submit; the result
comes from the PUBLISHJOBFINISH callback (a ChannelEvent row) or, sparingly, freepublish/get.

Every remote step is checkpointed through the Job, so a restarted worker resumes and never makes
a second draft or a second publication; a draft/add or submit whose answer was lost is looked up
(draft/batchget, freepublish/batchget) by a marker in the article's content_source_url.
Retraction deletes every copy: the 发表 with freepublish/delete and each 群发 that carried the
item with message/mass/delete, and then the covers no article uses any more
(channels/wechat/covers.py); comments of both copies of an article (发表 and 群发, by the
msg_data_id each returned) are polled and answered in channels/wechat/comments.py; follower
messages are answered with message/custom/send.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from channels.base import (
    Channel,
    ChannelError,
    ChannelLimits,
    CommentPage,
    Content,
    Job,
    OutcomeUnknown,
    PermanentError,
    Published,
    StillProcessing,
    TransientError,
)
from channels.wechat.api import WechatApi, WechatError
from channels.wechat.comments import ArticleComments, CommentTarget, msg_data_id
from channels.wechat.covers import MISSING as MISSING_MEDIA
from channels.wechat.covers import Covers, CoverStore
from channels.wechat.errors import MASS_DUPLICATE, classify, publish_failure
from channels.wechat.media import ImageFetcher, image_sources, load_cover, rewrite_images
from channels.wechat.token import TokenStore

log = logging.getLogger(__name__)
LOOKUP_PAGES = 5  # batchget pages (20 each) searched for a lost draft or publication


class EventSource(Protocol):
    async def event(self, key: str) -> dict[str, Any] | None:
        """The payload of the channel event stored under key (e.g. "publish:123"), or None."""


@dataclass(frozen=True)
class MassCopy:
    """One article of a sent 群发: message/mass/delete's msg_id and 1-based article_idx [S27],
    and how the console names it."""

    msg_id: int | str
    article_idx: int
    label: str


@dataclass(frozen=True)
class WechatRecords:
    """What the channel keeps and reads outside WeChat (the database: bot/outbox/channel_state.py):
    the shared access token, callback events, the copies whose comments are polled, the 群发
    copies of a published article (by its article_id), and the kept covers."""

    tokens: TokenStore
    events: EventSource
    comment_targets: Callable[[], Awaitable[list[CommentTarget]]]
    mass_copies: Callable[[str], Awaitable[list[MassCopy]]]
    covers: CoverStore


@dataclass(frozen=True)
class WechatSettings:
    app_id: str
    app_secret: str
    base_urls: list[str]
    site_url: str
    timeout: float = 15
    concurrency: int = 2
    rate_per_second: float = 5
    token_margin_seconds: float = 300
    token_lock_seconds: float = 30
    author: str = ""
    default_cover: Path = Path("templates/wechat/default_cover.png")
    cover_max_bytes: int = 1024 * 1024
    title_max: int = 32  # draft/add's limits (docs/channels/wechat.md "Limits and quotas")
    digest_max: int = 128
    image_max_bytes: int = 1024 * 1024
    image_max_pixels: int = 40_000_000  # [web.media] max_image_pixels: body images and covers
    open_comment: bool = True
    only_fans_can_comment: bool = False
    publish_wait_seconds: float = 20
    publish_poll_minutes: float = 10
    comment_page_size: int = 49


@dataclass(frozen=True)
class MassSent:
    """What message/mass/sendall answered: its msg_id, and the msg_data_id comment/* take (None
    when WeChat did not say, as in a 45065 answer)."""

    msg_id: str
    msg_data_id: int | None


class WechatChannel(Channel):
    name = "wechat"
    label = "微信公众号"
    can_poll_comments = True
    can_reply = True

    def __init__(
        self,
        settings: WechatSettings,
        records: WechatRecords,
        author_key: bytes,
        owner: str,
    ) -> None:
        self.settings = settings
        self.records = records
        self.events = records.events
        self.author_key = author_key
        self.api = WechatApi(
            settings.base_urls,
            settings.app_id,
            settings.app_secret,
            settings.timeout,
            records.tokens,
            owner,
            settings.token_margin_seconds,
            settings.token_lock_seconds,
        )
        self.images = ImageFetcher(
            settings.site_url, settings.image_max_bytes, settings.image_max_pixels
        )
        self.comments = ArticleComments(self.api, self.name, author_key, settings.comment_page_size)
        self.covers = Covers(self.api, records.covers)
        self.limits = ChannelLimits(
            concurrency=settings.concurrency,
            rate_per_second=settings.rate_per_second,
            title_max=settings.title_max,
            summary_max=settings.digest_max,
            body_max=20_000,
            can_retract=True,
            can_lookup=True,
        )

    async def start(self) -> None:
        await self.api.start()

    async def close(self) -> None:
        await self.api.close()
        await self.api.tokens.store.aclose()  # the Redis client, when [redis] holds the token

    # -- publishing ------------------------------------------------------------------------
    @staticmethod
    def marker(content: Content, key: str) -> str:
        """The article's 阅读原文 link: our page, tagged with the delivery's idempotency key so a
        lost draft or publication can be found again."""
        return f"{content.url}?gk={key}"

    async def publish(self, content: Content, job: Job) -> Published:
        cp = job.checkpoint
        if cp.get("article_id") and cp.get("publish_status") == 0:
            return Published(cp["article_id"], cp.get("url", ""))
        if not cp.get("publish_id"):
            marker = self.marker(content, job.idempotency_key)
            if cp.get("marker") != marker:
                await job.save(marker=marker)
            found = await self._submit(await self._draft(content, job, marker), job, marker)
            if found is not None:
                return found
        return await self._await_publish(job)

    async def article(self, content: Content, job: Job, marker: str) -> dict[str, Any]:
        """The draft article for content: images uploaded (once each, checkpointed) and
        rewritten, the cover one kept permanent material (channels/wechat/covers.py)."""
        sources = image_sources(content.html)
        uploaded: dict[str, str] = dict(job.checkpoint.get("images") or {})
        for src in sources:
            if src in uploaded:
                continue
            upload = await self.images.fetch(self.api.session, src)
            answer = await self.api.call("media/uploadimg", upload=upload)
            uploaded[src] = str(answer["url"])
            await job.save(images=uploaded)
        thumb = job.checkpoint.get("thumb_media_id") or await self._cover(sources, job)
        return {
            "title": content.title,
            "author": self.settings.author,
            "digest": content.summary[: self.settings.digest_max],
            "content": rewrite_images(content.html, uploaded),
            "content_source_url": marker,
            "thumb_media_id": thumb,
            "need_open_comment": int(self.settings.open_comment),
            "only_fans_can_comment": int(self.settings.only_fans_can_comment),
        }

    async def _cover(self, sources: list[str], job: Job) -> str:
        limit = self.settings.cover_max_bytes
        upload = None
        if sources:  # the first body image, when it fits WeChat's cover limits
            try:
                upload = await self.images.fetch(self.api.session, sources[0], limit)
            except PermanentError as exc:
                log.info("wechat cover: first image not usable (%s); default cover", exc)
        if upload is None:
            upload = load_cover(
                self.settings.default_cover, limit, max_pixels=self.settings.image_max_pixels
            )
        thumb = await self.covers.media_id(upload)
        await job.save(thumb_media_id=thumb)
        return thumb

    async def _draft(self, content: Content, job: Job, marker: str) -> str:
        if job.checkpoint.get("media_id"):
            return str(job.checkpoint["media_id"])
        if job.checkpoint.get("draft_sent"):  # an earlier draft/add lost its answer
            found = await self._find("draft/batchget", marker)
            if found is not None:
                await job.save(media_id=found[0])
                return found[0]
        article = await self.article(content, job, marker)
        await job.save(draft_sent=True)
        try:
            answer = await self.add_draft_answer([article], job)
        except OutcomeUnknown:
            found = await self._find_quietly("draft/batchget", marker)
            if found is None:
                raise
            answer = {"media_id": found[0]}
        media_id = str(answer["media_id"])
        await job.save(media_id=media_id)
        return media_id

    async def add_draft_answer(self, articles: list[dict[str, Any]], job: Job) -> dict[str, Any]:
        """draft/add's answer. 40007 names a thumb_media_id WeChat no longer has: a kept cover
        deleted (release_unused) just after this delivery took it. It is forgotten and the
        attempt retried soon, which uploads the cover again."""
        try:
            return await self.api.call(
                "draft/add", {"articles": articles}, irreversible=True, raw=True
            )
        except WechatError as exc:
            thumb = job.checkpoint.get("thumb_media_id")
            if exc.errcode == MISSING_MEDIA and thumb:
                await self.covers.forget(str(thumb))
                await job.save(thumb_media_id=None, draft_sent=False)
                raise TransientError("封面素材已不在微信素材库中，将重新上传封面后再试。") from exc
            raise classify(exc.errcode, exc.errmsg, "draft/add") from exc

    async def _submit(self, media_id: str, job: Job, marker: str) -> Published | None:
        """freepublish/submit; returns the publication if an earlier, unanswered submit is
        found to have gone through."""
        resent = bool(job.checkpoint.get("submit_sent"))
        if resent:
            found = await self._find("freepublish/batchget", marker)
            if found is not None:
                return await self._done(job, found[0], found[1])
        await job.save(submit_sent=True)
        try:
            answer = await self.api.call(
                "freepublish/submit", {"media_id": media_id}, irreversible=True, raw=True
            )
        except WechatError as exc:
            if exc.errcode == 40007 and resent:
                # The draft is gone: the earlier submit took it and is still being processed.
                raise OutcomeUnknown(
                    "此前的发表请求已提交、结果尚未查到，稍后再查询；请勿在公众平台重复发表。"
                ) from exc
            raise classify(exc.errcode, exc.errmsg, "freepublish/submit") from exc
        except OutcomeUnknown:
            found = await self._find_quietly("freepublish/batchget", marker)
            if found is None:
                raise
            return await self._done(job, found[0], found[1])
        # The 发表 copy's msg_data_id (a string on the page [S16], which its own example omits):
        # kept for comment/*, with the article's 0-based index in it (one article a draft).
        # Whether comment/* take it is unconfirmed (docs/channels/wechat.md Q1).
        copy = msg_data_id(answer.get("msg_data_id"))
        if copy is None:
            log.info("wechat freepublish/submit gave no msg_data_id: comments not polled")
        # The PUBLISHJOBFINISH event is expected first; freepublish/get only after an interval.
        await job.save(
            publish_id=str(answer["publish_id"]),
            polled_at=datetime.now(UTC).timestamp(),
            **({"msg_data_id": copy, "msg_data_index": 0} if copy is not None else {}),
        )
        return None

    async def _await_publish(self, job: Job) -> Published:
        publish_id = str(job.checkpoint["publish_id"])
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.publish_wait_seconds
        interval = self.settings.publish_poll_minutes * 60
        while True:
            result = await self.events.event(f"publish:{publish_id}")
            last = float(job.checkpoint.get("polled_at") or 0)
            now = datetime.now(UTC).timestamp()
            if result is None and now - last >= interval:
                await job.save(polled_at=now)
                answer = await self.api.call("freepublish/get", {"publish_id": publish_id})
                items = (answer.get("article_detail") or {}).get("item") or []
                result = {
                    "publish_status": answer.get("publish_status"),
                    "article_id": answer.get("article_id", ""),
                    "article_urls": [i.get("article_url", "") for i in items],
                    "fail_idx": answer.get("fail_idx") or [],
                }
            if result is not None and int(result.get("publish_status", 1)) != 1:
                return await self._settle(job, result)
            if loop.time() >= deadline:
                wait = max(5.0, interval - (now - float(job.checkpoint.get("polled_at") or 0)))
                raise StillProcessing("微信正在处理发表任务，稍后查询结果。", retry_after=wait)
            await asyncio.sleep(0.5)

    async def _settle(self, job: Job, result: dict[str, Any]) -> Published:
        status = int(result["publish_status"])
        if status == 0:
            urls = result.get("article_urls") or [""]
            return await self._done(job, str(result["article_id"]), str(urls[0]))
        await job.save(publish_status=status, fail_idx=result.get("fail_idx") or [])
        raise PermanentError(publish_failure(status, list(result.get("fail_idx") or [])))

    @staticmethod
    async def _done(job: Job, article_id: str, url: str) -> Published:
        await job.save(article_id=article_id, url=url, publish_status=0)
        return Published(article_id, url)

    async def _find(self, api: str, marker: str) -> tuple[str, str] | None:
        """(media_id or article_id, url) of the draft or publication carrying marker."""
        for page in range(LOOKUP_PAGES):
            body = {"offset": page * 20, "count": 20, "no_content": 1}
            answer = await self.api.call(api, body)
            for item in answer.get("item") or []:
                for news in (item.get("content") or {}).get("news_item") or []:
                    if news.get("content_source_url") == marker:
                        found = item.get("media_id") or item.get("article_id")
                        return str(found), str(news.get("url", ""))
            if (page + 1) * 20 >= int(answer.get("total_count") or 0):
                break
        return None

    async def _find_quietly(self, api: str, marker: str) -> tuple[str, str] | None:
        try:
            return await self._find(api, marker)
        except (ChannelError, TimeoutError):
            return None

    async def lookup(self, job: Job) -> Published | None:
        cp = job.checkpoint
        if cp.get("article_id") and cp.get("publish_status") == 0:
            return Published(cp["article_id"], cp.get("url", ""))
        marker = cp.get("marker")
        if not marker:
            return None
        found = await self._find("freepublish/batchget", str(marker))
        return Published(*found) if found else None

    async def retract(self, published: Published, job: Job) -> None:
        """Delete every copy of the article: the 发表 (freepublish/delete, index 0 = all of it
        [S21]) and each 群发 article that carried it (message/mass/delete with its 1-based
        article_idx [S27]; a separate copy, docs/channels/wechat.md Q2). Each copy's outcome is
        kept in the checkpoint ("copies": the console's 投递 page shows them); a copy already
        deleted is not asked again. Then the covers no article uses any more are deleted."""
        copies: list[dict[str, Any]] | None = job.checkpoint.get("copies")
        if copies is None:
            copies = [{"copy": "publish", "label": "发表", "article_id": published.remote_id}]
            for mass in await self.records.mass_copies(published.remote_id):
                copies.append(
                    {
                        "copy": "mass",
                        "label": mass.label,
                        "msg_id": mass.msg_id,
                        "article_idx": mass.article_idx,
                    }
                )
            await job.save(copies=copies)
        failed = []
        for copy in copies:
            if copy.get("deleted_at"):
                continue
            resent = bool(copy.get("sent"))
            copy["sent"] = True
            await job.save(copies=copies)
            try:
                await self._delete_copy(copy, resent)
            except PermanentError as exc:
                copy["result"] = f"未能删除：{exc}"
                failed.append(f"{copy['label']}：{exc}")
            else:
                copy.update(result="已删除", deleted_at=datetime.now(UTC).isoformat())
            await job.save(copies=copies)
        if failed:
            raise PermanentError("撤稿未完成，" + "；".join(failed))
        await job.save(deleted_at=datetime.now(UTC).isoformat())
        try:
            await self.covers.release_unused(published.remote_id)
        except (ChannelError, TimeoutError) as exc:  # the retraction itself is done
            log.warning("wechat covers not released after retracting %s: %s", published, exc)

    async def _delete_copy(self, copy: dict[str, Any], resent: bool) -> None:
        if copy["copy"] == "publish":
            api, body = "freepublish/delete", {"article_id": copy["article_id"], "index": 0}
            gone = 53600  # our earlier, unanswered delete took it
        else:
            api = "message/mass/delete"
            body = {"msg_id": copy["msg_id"], "article_idx": copy["article_idx"]}
            gone = 40059
        try:
            await self.api.call(api, body, raw=True)
        except WechatError as exc:
            if not (exc.errcode == gone and resent):
                raise classify(exc.errcode, exc.errmsg, api) from exc

    # -- comments and replies ------------------------------------------------------------
    async def poll_comments(self, cursor: dict[str, Any]) -> CommentPage:
        """New comments on both copies of our articles (see ArticleComments for the cursor)."""
        return await self.comments.poll(await self.records.comment_targets(), cursor)

    async def send_reply(self, reply_ref: dict[str, Any], text: str, key: str) -> str:
        kind = reply_ref.get("type")
        if kind == "article_comment":
            return await self.comments.reply(reply_ref, text)
        if kind == "custom":
            openid = str(reply_ref["openid"])
            body = {"touser": openid, "msgtype": "text", "text": {"content": text}}
            await self.api.call("message/custom/send", body, irreversible=True)
            return f"custom:{key}"
        raise PermanentError(f"无法识别的答复对象类型「{kind}」，请通过其他方式答复。")

    # -- mass send (bot/wechat/mass_send.py) ------------------------------------------------------
    async def find_draft(self, marker: str) -> str | None:
        """The media_id of the draft whose first article carries marker, or None."""
        found = await self._find("draft/batchget", marker)
        return found[0] if found else None

    async def add_draft(self, articles: list[dict[str, Any]]) -> str:
        answer = await self.api.call("draft/add", {"articles": articles}, irreversible=True)
        return str(answer["media_id"])

    async def send_to_all(
        self, media_id: str, client_msg_id: str, ignore_reprint: bool
    ) -> MassSent:
        """message/mass/sendall of a draft to every follower; clientmsgid makes a repeat of the
        same send return the first one's msg_id instead of sending again (45065), and a repeat
        within a minute of the last is refused (45066: RateLimited, retry after 60 s with the
        same clientmsgid) [S25]. msg_id and msg_data_id are JSON numbers [S38]; a string is
        taken too."""
        body = {
            "filter": {"is_to_all": True},
            "mpnews": {"media_id": media_id},
            "msgtype": "mpnews",
            "send_ignore_reprint": int(ignore_reprint),
            "clientmsgid": client_msg_id,
        }
        try:
            answer = await self.api.call("message/mass/sendall", body, irreversible=True, raw=True)
        except WechatError as exc:
            if exc.errcode == MASS_DUPLICATE and exc.answer.get("msg_id"):
                # Already sent: the answer names the earlier send's msg_id (its msg_data_id only
                # if WeChat adds one; the page's example has none) [S25].
                sent = MassSent(
                    str(exc.answer["msg_id"]), msg_data_id(exc.answer.get("msg_data_id"))
                )
                log.info("wechat sendall: clientmsgid %s already sent as %s", client_msg_id, sent)
                return sent
            raise classify(exc.errcode, exc.errmsg, "message/mass/sendall") from exc
        return MassSent(str(answer["msg_id"]), msg_data_id(answer.get("msg_data_id")))
