"""Links for a follower the auto-reply could not answer (一网通答 on WeChat): the public
search's top three documents for the words of the message, their titles and addresses in one
customer-service message, never in the callback's passive reply.

The relay queues it as a reply to the message's comment (bot/wechat/events.py), in the
transaction that marks the message handled — so at most once a message, whichever relay gets
there; the reply sender sends it with message/custom/send like any answer, and WeChat's
48-hour window applies (one closing soon gets none). It is no answer (FOLLOW_UP_AUTHOR): the
comment stays open for a moderator, its clock running."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from bot.config import Config
from bot.models import FOLLOW_UP_AUTHOR, CommentReply, ReplyStatus, SearchDoc
from bot.search.engine import Filters
from bot.search.find import search
from bot.search.knowledge import public_url
from bot.search.query import parse

LINKS = 3
# Of the search's best documents, those weighed (a link must share words with the message).
CANDIDATES = 10
# WeChat takes customer-service messages for 48 hours after the follower's last message; one
# queued this close to the end would rarely be sent in time.
WINDOW = timedelta(hours=48)
MARGIN = timedelta(minutes=10)
TITLE_CHARS = 40
OPENING = "您的留言已收到，工作人员会尽快答复。以下公开内容或许能先帮到您："


@dataclass(frozen=True)
class FollowUps:
    base_url: str
    max_query_chars: int

    @classmethod
    def from_config(cls, config: Config) -> FollowUps | None:
        """None when `[channels.wechat.callback] follow_up_links` is off."""
        if not config.channels.wechat.callback.follow_up_links:
            return None
        return cls(config.app.public_base_url, config.search.max_query_chars)

    async def text_for(self, payload: Mapping[str, Any], now: datetime) -> str:
        """What to send after this stored follower message, or "": an answered, non-text or
        empty message, a window about to close, nothing found."""
        text = str(payload.get("text", "")).strip()
        if payload.get("auto_reply") or payload.get("msg_type") != "text" or not text:
            return ""
        at = datetime.fromtimestamp(int(payload["create_time"]), UTC)
        if now - at > WINDOW - MARGIN:
            return ""
        query = parse(text, self.max_query_chars)
        found = await search(query, Filters(), size=CANDIDATES)
        docs = [h.doc for h in found.hits if _shares_words(h.doc, query.tokens)]
        return links_text(docs[:LINKS], self.base_url)


def _shares_words(doc: SearchDoc, tokens: Sequence[str]) -> bool:
    """Whether the document has at least two of the message's words (its only word, if one):
    when nothing has every word the search takes any, and a link that shares one common word
    with the message ("今天") helps nobody."""
    wanted = {t.casefold() for t in tokens}
    seen = f"{doc.title}\n{doc.text}".casefold()
    return sum(1 for t in wanted if t in seen) >= min(2, len(wanted))


def links_text(docs: Sequence[SearchDoc], base_url: str) -> str:
    """The message: an opening line, then each document's title and address; "" for none."""
    if not docs:
        return ""
    lines = [OPENING]
    for number, doc in enumerate(docs, 1):
        title = " ".join(doc.title.split())
        if len(title) > TITLE_CHARS:
            title = title[: TITLE_CHARS - 1] + "…"
        lines.append(f"{number}. {title}\n{public_url(base_url, doc.url)}")
    return "\n".join(lines)


async def queue(conn: BaseDBAsyncClient, comment_id: int, text: str, now: datetime) -> None:
    """The follow-up as a queued reply to the comment (sent by bot/inbox/replies.py)."""
    await CommentReply.create(
        using_db=conn,
        comment_id=comment_id,
        text=text,
        author=FOLLOW_UP_AUTHOR,
        sent_by=FOLLOW_UP_AUTHOR,
        status=ReplyStatus.QUEUED.value,
        next_attempt_at=now,
    )
