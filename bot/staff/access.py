"""What an admin does to someone's access besides their account row: end their sessions and
clear their login throttle, each audited. (The account itself — roles, disable, password — is
bot/users.py.)"""

from __future__ import annotations

from tortoise.transactions import in_transaction

from bot import audit
from bot.models import User
from bot.staff.sessions import SessionStore
from bot.staff.throttle import ThrottleStore, account_key


async def end_sessions(
    store: SessionStore, user: User, actor: str, reason: str, session: str | None = None
) -> int:
    """End one session of `user` (by its digest) or all of them; audited when any ended.
    `reason` says why: revoke, disable, reset_password."""
    if session is not None:
        ended = int(await store.end_digest(user.id, session))
    else:
        ended = await store.end_user(user.id)
    if ended:
        async with in_transaction() as conn:
            await audit.record(
                conn,
                actor,
                "user.sessions_end",
                "user",
                user.id,
                {"username": user.username, "ended": ended, "reason": reason},
            )
    return ended


async def unlock(throttle: ThrottleStore, user: User, actor: str) -> bool:
    """Clear the account's failed-login count and wait (its known browsers count their own
    and are not held up by it); audited whether or not there was anything to clear."""
    cleared = await throttle.clear(account_key(user.username))
    async with in_transaction() as conn:
        await audit.record(
            conn,
            actor,
            "user.unlock",
            "user",
            user.id,
            {"username": user.username, "cleared": cleared},
        )
    return cleared
