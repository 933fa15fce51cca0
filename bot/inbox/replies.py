"""The reply sender: sends queued answers back through the channel each comment came from.

Like the outbox (bot/outbox/store.py), but simpler: a claim is one compare-and-set UPDATE (with
FOR UPDATE SKIP LOCKED on PostgreSQL) that gives this sender a lease on a reply; every later
write is conditional on (status = sending, lease_owner = me). The channel gets the key
f"reply-{id}" on every attempt, so a channel that deduplicates never shows an answer twice.

The SLA clock stops when the answer is SENT, not when it is queued: the public sees it only
then. Comment.first_reply_at is the time the first reply was sent. A follow-up the system sends
on its own (FOLLOW_UP_AUTHOR: WeChat's search links) is sent the same way but is no answer: its
comment is left as it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from bot import audit
from bot.config import Config
from bot.db import sql
from bot.logs import log_context
from bot.models import FOLLOW_UP_AUTHOR, Comment, CommentReply, CommentStatus, ReplyStatus
from bot.outbox.claim import Claim, lease_owner
from bot.outbox.store import Backoff
from channels.base import (
    AuthError,
    Channel,
    ChannelError,
    NeedsOtherRoute,
    OutcomeUnknown,
    RateLimited,
    TransientError,
)

log = logging.getLogger(__name__)
TABLE = CommentReply._meta.db_table
ACTOR = "system:replies"
R = ReplyStatus


class ReplySender:
    def __init__(
        self, config: Config, channels: dict[str, Channel], owner: str | None = None
    ) -> None:
        self.cfg = config.inbox
        self.channels = channels
        self.owner = owner or lease_owner("replies")
        self.lease = timedelta(seconds=self.cfg.reply_lease_seconds)
        self.backoff = Backoff(
            self.cfg.reply_backoff_base_seconds, self.cfg.reply_backoff_max_seconds
        )
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    # -- running -------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self._loop(), name="reply-sender")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._stopping.set()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                busy = await self.run_once()
            except Exception:  # the database may be briefly unavailable; never die silently
                log.exception("reply sender round failed; retrying")
                busy = 0
            if busy:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.cfg.reply_interval_seconds)

    async def run_until_idle(self, max_rounds: int = 100) -> int:
        """Send everything due now (the CLI's one-shot send and tests)."""
        total = 0
        for _ in range(max_rounds):
            done = await self.run_once()
            if not done:
                break
            total += done
        return total

    async def run_once(self) -> int:
        """Claim due replies and send them; returns how many were attempted."""
        replies = await self.claim(self.cfg.reply_batch)
        if replies:
            await asyncio.gather(*(self._send_logged(r) for r in replies))
        return len(replies)

    async def _send_logged(self, reply: CommentReply) -> None:
        with log_context(comment_id=reply.comment_id, reply_id=reply.id):
            await self._send(reply)

    # -- claiming ------------------------------------------------------------------------
    async def claim(self, limit: int) -> list[CommentReply]:
        now = datetime.now(UTC)
        rows = await Claim(
            TABLE,
            "((status = 'queued' AND next_attempt_at <= ?) OR "
            "(status = 'sending' AND lease_expires_at < ?))",
            [now, now],
            "status = 'sending', lease_owner = ?, lease_expires_at = ?, attempts = attempts + 1",
            [self.owner, now + self.lease],
            returning="id",
        ).take(limit)
        if not rows:
            return []
        return await CommentReply.filter(id__in=[r["id"] for r in rows]).order_by("id")

    # -- one reply -----------------------------------------------------------------------
    async def _send(self, reply: CommentReply) -> None:
        comment = await Comment.filter(id=reply.comment_id).first()
        if comment is None:  # deleted meanwhile (cascade): nothing to answer
            return
        channel = self.channels.get(comment.channel)
        if channel is None:
            await self._finish(
                reply,
                comment,
                R.FAILED,
                f"渠道「{comment.channel}」未配置或未启用，无法发送答复，请通过其他方式答复。",
            )
            return
        try:
            remote_id = await channel.send_reply(
                comment.reply_ref, reply.text, key=f"reply-{reply.id}"
            )
        except NeedsOtherRoute as exc:
            await self._finish(reply, comment, R.OTHER_ROUTE, str(exc))
        except (TransientError, RateLimited, OutcomeUnknown) as exc:
            await self._retry(reply, comment, exc)
        except AuthError as exc:
            if reply.attempts < 2:  # credentials may have been refreshed meanwhile: once more
                await self._retry(reply, comment, exc)
            else:
                await self._finish(reply, comment, R.FAILED, str(exc))
        except ChannelError as exc:
            await self._finish(reply, comment, R.FAILED, str(exc))
        except Exception as exc:
            log.exception("reply %s: unexpected failure", reply.id)
            await self._retry(reply, comment, exc)
        else:
            await self._finish(reply, comment, R.SENT, "", remote_id=str(remote_id or ""))

    async def _retry(self, reply: CommentReply, comment: Comment, exc: Exception) -> None:
        message = str(exc) or type(exc).__name__
        if reply.attempts >= self.cfg.reply_max_attempts:
            await self._finish(
                reply, comment, R.FAILED, f"重试 {reply.attempts} 次仍未发送成功：{message}"
            )
            return
        delay = self.backoff.delay(reply.attempts)
        if isinstance(exc, RateLimited) and exc.retry_after:
            delay = max(delay, exc.retry_after)
        now = datetime.now(UTC)
        count = await CommentReply.filter(
            id=reply.id, status=R.SENDING.value, lease_owner=self.owner
        ).update(
            status=R.QUEUED.value,
            next_attempt_at=now + timedelta(seconds=delay),
            lease_owner="",
            lease_expires_at=None,
            last_error=message,
        )
        if count != 1:
            log.warning("reply %s: lease lost to another sender", reply.id)

    async def _finish(
        self,
        reply: CommentReply,
        comment: Comment,
        status: ReplyStatus,
        error: str,
        remote_id: str = "",
    ) -> None:
        """End the reply and update its comment, with the audit event, in one transaction."""
        now = datetime.now(UTC)
        async with in_transaction() as conn:
            count = (
                await CommentReply.filter(
                    id=reply.id, status=R.SENDING.value, lease_owner=self.owner
                )
                .using_db(conn)
                .update(
                    status=status.value,
                    lease_owner="",
                    lease_expires_at=None,
                    last_error=error,
                    remote_id=remote_id,
                    sent_at=now if status == R.SENT else None,
                )
            )
            if count != 1:
                log.warning("reply %s: lease lost to another sender", reply.id)
                return
            follow_up = reply.author == FOLLOW_UP_AUTHOR
            changes: dict[str, Any] = {"reply_status": status.value, "updated_at": now}
            if follow_up:
                changes = {}  # no answer: the comment's reply, status and clock stay
            elif status == R.SENT:
                changes["reply"] = reply.text
                await conn.execute_query(
                    sql(
                        f"UPDATE {Comment._meta.db_table} SET first_reply_at = ? "
                        "WHERE id = ? AND first_reply_at IS NULL"
                    ),
                    [now, comment.id],
                )
                await (
                    Comment.filter(id=comment.id, status=CommentStatus.OPEN.value)
                    .using_db(conn)
                    .update(status=CommentStatus.REPLIED.value)
                )
            if changes:
                await Comment.filter(id=comment.id).using_db(conn).update(**changes)
            details: dict[str, Any] = {
                "reply_id": reply.id,
                "channel": comment.channel,
                "attempts": reply.attempts,
            }
            if error:
                details["error"] = error
            if follow_up:
                details["follow_up"] = True
            await audit.record(conn, ACTOR, f"reply.{status.value}", "comment", comment.id, details)
        log.info("reply %s to comment %s: %s %s", reply.id, comment.id, status.value, error)
