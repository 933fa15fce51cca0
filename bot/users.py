"""Staff accounts and API tokens: argon2 password hashes, tokens stored as SHA-256 digests."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from argon2 import PasswordHasher
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from bot import audit
from bot.actors import Actor
from bot.errors import Refusal
from bot.models import ApiToken, Role, User

_hasher = PasswordHasher()
TOKEN_PREFIX = "gk_"
KNOWN_ROLES = frozenset(r.value for r in Role)


class UserError(Refusal):
    """A user or token operation that cannot be done; the message names the problem."""

    status_code = 422
    code = "invalid_user"


def _roles(roles: list[str]) -> list[str]:
    known = KNOWN_ROLES
    bad = [r for r in roles if r not in known]
    if bad or not roles:
        raise UserError(f"角色无效：{', '.join(bad) or '(空)'}；可选：{', '.join(sorted(known))}")
    return sorted(set(roles))


async def add_user(
    username: str,
    roles: list[str],
    password: str | None,
    actor: str,
    display_name: str = "",
    office: str = "",
) -> User:
    if (
        not username
        or len(username) > 64
        or not username.replace("_", "").replace(".", "").replace("-", "").isalnum()
    ):
        raise UserError(f"用户名无效：{username!r}（字母、数字、. _ -，最多 64 个字符）")
    checked = _roles(roles)
    try:
        async with in_transaction() as conn:
            user = await User.create(
                using_db=conn,
                username=username,
                roles=checked,
                display_name=display_name,
                office=office,
                password_hash=_hasher.hash(password) if password else "",
            )
            await audit.record(
                conn, actor, "user.add", "user", user.id, {"username": username, "roles": checked}
            )
    except IntegrityError as exc:
        raise UserError(f"用户名已存在：{username}") from exc
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def add_token(
    username: str, name: str, roles: list[str] | None, actor: str
) -> tuple[ApiToken, str]:
    """Create an API token for a user; the plain token is returned once and never stored."""
    user = await User.filter(username=username).first()
    if user is None:
        raise UserError(f"用户不存在：{username}")
    wanted = _roles(roles) if roles else list(user.roles)
    holder = Actor.of_user(user)
    extra = [r for r in wanted if r not in KNOWN_ROLES or not holder.has(Role(r))]
    if extra:
        raise UserError(f"令牌的角色不能超出用户本身的角色：{', '.join(extra)}")
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    async with in_transaction() as conn:
        token = await ApiToken.create(
            using_db=conn,
            user=user,
            name=name,
            prefix=plain[:10],
            token_hash=_digest(plain),
            roles=wanted,
        )
        await audit.record(
            conn,
            actor,
            "token.add",
            "user",
            user.id,
            {"token": token.prefix, "name": name, "roles": wanted},
        )
    return token, plain


async def actor_for_token(plain: str) -> Actor | None:
    token = (
        await ApiToken.filter(token_hash=_digest(plain), revoked_at=None)
        .prefetch_related("user")
        .first()
    )
    if token is None or not token.user.active:
        return None
    await ApiToken.filter(id=token.id).update(last_used_at=datetime.now(UTC))
    # A token acts with its own roles, as far as its user still holds them.
    holder = Actor.of_user(token.user)
    held = frozenset(r for r in token.roles if r in KNOWN_ROLES and holder.has(Role(r)))
    return Actor.of_user(token.user, held)


async def actor_for_user(username: str) -> Actor:
    user = await User.filter(username=username).first()
    if user is None:
        raise UserError(f"用户不存在：{username}")
    if not user.active:
        raise UserError(f"用户已停用：{username}")
    return Actor.of_user(user)


def new_secret() -> str:
    return secrets.token_urlsafe(12)


async def disable_user(username: str, actor: str) -> User:
    """Disable an account: it can no longer log in, act, or use its API tokens."""
    async with in_transaction() as conn:
        user = await User.filter(username=username).using_db(conn).first()
        if user is None:
            raise UserError(f"用户不存在：{username}")
        if not user.active:
            raise UserError(f"用户已停用：{username}")
        await User.filter(id=user.id).using_db(conn).update(active=False)
        user.active = False
        await audit.record(conn, actor, "user.disable", "user", user.id, {"username": username})
    return user


async def reset_password(username: str, password: str, actor: str) -> User:
    """Set a new password (the caller shows it once; only its hash is stored)."""
    if not password:
        raise UserError("新密码不能为空")
    async with in_transaction() as conn:
        user = await User.filter(username=username).using_db(conn).first()
        if user is None:
            raise UserError(f"用户不存在：{username}")
        user.password_hash = _hasher.hash(password)
        await User.filter(id=user.id).using_db(conn).update(password_hash=user.password_hash)
        await audit.record(
            conn, actor, "user.reset_password", "user", user.id, {"username": username}
        )
    return user
