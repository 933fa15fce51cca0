"""Staff accounts and API tokens: argon2 password hashes under the password policy
(bot/staff/passwords.py), tokens stored as SHA-256 digests, and what an admin does to accounts
and tokens, each with its audit event."""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from bot import audit
from bot.actors import Actor
from bot.config import PasswordConfig
from bot.models import ROLE_LABELS, SCOPE_LABELS, ApiToken, Role, Scope, User
from bot.staff import passwords
from bot.staff.passwords import PasswordRefused, UserError

TOKEN_PREFIX = "gk_"
KNOWN_ROLES = frozenset(r.value for r in Role)
KNOWN_SCOPES = frozenset(s.value for s in Scope)


USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
ROLE_CHOICES = "、".join(f"{ROLE_LABELS[r]}（{r.value}）" for r in Role)
SCOPE_CHOICES = "、".join(f"{SCOPE_LABELS[s]}（{s.value}）" for s in Scope)


class WrongPassword(UserError):
    """The current password given to prove who is asking is not the account's."""


def _roles(roles: Iterable[str], separate_duties: bool = True) -> list[str]:
    wanted = list(roles)
    if not wanted:
        raise UserError(f"请至少选择一个角色；可选：{ROLE_CHOICES}。")
    bad = [r for r in wanted if r not in KNOWN_ROLES]
    if bad:
        raise UserError(f"角色无效：{'、'.join(bad)}；可选：{ROLE_CHOICES}。")
    if separate_duties and Role.ADMIN.value in wanted and Role.AUDITOR.value in wanted:
        raise UserError(
            "三员分立：管理员与审计员不能由同一账号担任（小型单位可在配置中设 "
            "[staff] separate_duties = false）。"
        )
    return sorted(set(wanted))


def _names(user: User) -> tuple[str, str]:
    return user.username, user.display_name


async def _hashed(policy: PasswordConfig, password: str, names: Iterable[str]) -> str:
    """The policy applied, then the hash (argon2 is slow: off the event loop)."""
    passwords.check(policy, password, names)
    return await asyncio.to_thread(passwords.hash_password, password)


async def add_user(
    username: str,
    roles: list[str],
    password: str | None,
    actor: str,
    display_name: str = "",
    office: str = "",
    *,
    policy: PasswordConfig,
    must_change: bool,
    separate_duties: bool = True,
) -> User:
    """Create an account. `password` None: it cannot log in until a password is set.
    `must_change`: the password was chosen by someone else (the CLI, an admin), so its owner
    must change it at first login. `separate_duties` ([staff]): no account is both admin and
    auditor."""
    if not USERNAME.fullmatch(username):
        raise UserError(
            f"用户名无效：「{username[:80]}」（只能用英文字母、数字和 . _ -，以字母或数字开头，"
            f"最多 64 个字符，现为 {len(username)} 个）。"
        )
    checked = _roles(roles, separate_duties)
    twin = await User.filter(username__iexact=username).first()
    if twin is not None:  # "Carol" beside "carol" would share her login throttle and marks
        raise UserError(f"用户名已存在：{twin.username}（用户名不区分大小写）。")
    hashed = "" if password is None else await _hashed(policy, password, (username, display_name))
    try:
        async with in_transaction() as conn:
            user = await User.create(
                using_db=conn,
                username=username,
                roles=checked,
                display_name=display_name,
                office=office,
                password_hash=hashed,
                must_change_password=bool(hashed) and must_change,
                password_changed_at=datetime.now(UTC) if hashed else None,
            )
            await audit.record(
                conn, actor, "user.add", "user", user.id, {"username": username, "roles": checked}
            )
    except IntegrityError as exc:
        raise UserError(f"用户名已存在：{username}") from exc
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def _user(username: str, conn: BaseDBAsyncClient | None = None) -> User:
    user = await User.filter(username=username).using_db(conn).first()
    if user is None:
        raise UserError(f"用户不存在：{username}")
    return user


def _scopes(scopes: Iterable[str]) -> list[str]:
    wanted = sorted(set(scopes))
    bad = [s for s in wanted if s not in KNOWN_SCOPES]
    if bad:
        raise UserError(f"用途范围无效：{'、'.join(bad)}；可选：{SCOPE_CHOICES}。")
    return wanted


async def add_token(
    username: str,
    name: str,
    roles: list[str] | None,
    actor: str,
    scopes: list[str] | None = None,
) -> tuple[ApiToken, str]:
    """Create an API token for a user; the plain token is returned once and never stored.
    With `scopes` it is a token for another system: it holds those scopes and no role (what
    a scope allows is public or read-only, so any active account may own one)."""
    user = await _user(username)
    if scopes and roles:
        raise UserError(
            "令牌要么按角色（--role）代员工操作，要么按用途范围（--scope）供其他系统读取，"
            "不能同时指定。"
        )
    granted = _scopes(scopes) if scopes else []
    wanted = [] if granted else (_roles(roles) if roles else list(user.roles))
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
            scopes=granted,
        )
        await audit.record(
            conn,
            actor,
            "token.add",
            "user",
            user.id,
            {"token": token.prefix, "name": name, "roles": wanted, "scopes": granted},
        )
    return token, plain


async def actor_for_token(plain: str, *, separate_duties: bool = True) -> Actor | None:
    """The actor an API token acts as (None: unknown, revoked, or its user disabled);
    `separate_duties` is `[staff] separate_duties`."""
    token = (
        await ApiToken.filter(token_hash=_digest(plain), revoked_at=None)
        .prefetch_related("user")
        .first()
    )
    if token is None or not token.user.active:
        return None
    await ApiToken.filter(id=token.id).update(last_used_at=datetime.now(UTC))
    # A token acts with its own roles, as far as its user still holds them, or its scopes.
    holder = Actor.of_user(token.user, separate_duties=separate_duties)
    held = frozenset(r for r in token.roles if r in KNOWN_ROLES and holder.has(Role(r)))
    scopes = frozenset(s for s in token.scopes or [] if s in KNOWN_SCOPES)
    return Actor.of_user(token.user, held, separate_duties=separate_duties, scopes=scopes)


async def actor_for_user(username: str, *, separate_duties: bool = True) -> Actor:
    """The actor of an active account (the CLI's --as); `separate_duties` is
    `[staff] separate_duties`."""
    user = await _user(username)
    if not user.active:
        raise UserError(f"用户已停用：{username}")
    return Actor.of_user(user, separate_duties=separate_duties)


def new_secret(policy: PasswordConfig, names: Iterable[str] = ()) -> str:
    """A generated password the policy accepts (shown once by whoever asked for it)."""
    return passwords.generate(policy, names)


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


async def enable_user(username: str, actor: str) -> User:
    """Enable a disabled account again (its password and tokens as they were)."""
    async with in_transaction() as conn:
        user = await _user(username, conn)
        if user.active:
            raise UserError(f"用户未停用：{username}")
        await User.filter(id=user.id).using_db(conn).update(active=True)
        user.active = True
        await audit.record(conn, actor, "user.enable", "user", user.id, {"username": username})
    return user


async def reset_password(
    username: str, password: str, actor: str, *, policy: PasswordConfig, must_change: bool
) -> User:
    """Set a new password (the caller shows it once; only its hash is stored). `must_change`:
    it was chosen by someone else, so its owner must change it at first login."""
    hashed = await _hashed(policy, password, _names(await _user(username)))
    now = datetime.now(UTC)
    async with in_transaction() as conn:
        user = await _user(username, conn)
        await (
            User.filter(id=user.id)
            .using_db(conn)
            .update(password_hash=hashed, must_change_password=must_change, password_changed_at=now)
        )
        user.password_hash = hashed
        user.must_change_password = must_change
        user.password_changed_at = now
        await audit.record(
            conn,
            actor,
            "user.reset_password",
            "user",
            user.id,
            {"username": username, "must_change": must_change},
        )
    return user


async def change_own_password(
    username: str, old_password: str, new_password: str, policy: PasswordConfig
) -> User:
    """A user changes their own password: the old one proves it is them, the new one meets the
    policy and differs from the old; the must-change mark is cleared."""
    user = await _user(username)
    if not user.active:
        raise UserError(f"用户已停用：{username}")
    if not await asyncio.to_thread(passwords.verify, user.password_hash, old_password):
        raise WrongPassword("原密码不正确。")
    if new_password == old_password:
        raise PasswordRefused("新密码不得与原密码相同")
    hashed = await _hashed(policy, new_password, _names(user))
    now = datetime.now(UTC)
    async with in_transaction() as conn:
        # Only over the hash just verified: a reset in between wins, this change does not.
        changed = (
            await User.filter(id=user.id, password_hash=user.password_hash)
            .using_db(conn)
            .update(password_hash=hashed, must_change_password=False, password_changed_at=now)
        )
        if not changed:
            raise UserError("密码刚被他人重设，请用新密码重新登录后再修改")
        await audit.record(
            conn,
            f"user:{username}",
            "user.change_password",
            "user",
            user.id,
            {"username": username},
        )
    user.password_hash = hashed
    user.must_change_password = False
    user.password_changed_at = now
    return user


async def set_roles(
    username: str, roles: list[str], actor: str, *, separate_duties: bool = True
) -> User:
    """Replace an account's roles (its tokens keep only what it still holds). The last active
    admin cannot give up the role: nobody could administer accounts in the console then. With
    `separate_duties` no account is both admin and auditor."""
    checked = _roles(roles, separate_duties)
    async with in_transaction() as conn:
        user = await _user(username, conn)
        before = sorted(user.roles)
        admin = Role.ADMIN.value
        if user.active and admin in before and admin not in checked:
            others = [
                u
                for u in await User.filter(active=True).exclude(id=user.id).using_db(conn)
                if Actor.of_user(u).has(Role.ADMIN)
            ]
            if not others:
                raise UserError(f"{username} 是唯一在用的管理员，不能取消其管理员角色")
        await User.filter(id=user.id).using_db(conn).update(roles=checked)
        user.roles = checked
        await audit.record(
            conn,
            actor,
            "user.set_roles",
            "user",
            user.id,
            {"username": username, "before": before, "roles": checked},
        )
    return user


async def list_users() -> list[User]:
    """Every account, active or not, by username."""
    return await User.all().order_by("username")


async def list_tokens(username: str) -> list[ApiToken]:
    """A user's API tokens, revoked ones included, oldest first."""
    user = await _user(username)
    return await ApiToken.filter(user_id=user.id).order_by("id")


async def revoke_token(token_id: int, actor: str) -> ApiToken:
    """Revoke an API token: it stops working at once; the row stays for the record."""
    now = datetime.now(UTC)
    async with in_transaction() as conn:
        token = await ApiToken.filter(id=token_id).using_db(conn).first()
        if token is None:
            raise UserError(f"令牌不存在：#{token_id}")
        revoked = (
            await ApiToken.filter(id=token_id, revoked_at=None)
            .using_db(conn)
            .update(revoked_at=now)
        )
        if not revoked:
            raise UserError(f"令牌已吊销：{token.prefix}（{token.name}）")
        token.revoked_at = now
        await audit.record(
            conn,
            actor,
            "token.revoke",
            "user",
            token.user_id,  # type: ignore[attr-defined]
            {"token": token.prefix, "name": token.name},
        )
    return token
