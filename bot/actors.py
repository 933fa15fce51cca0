"""Who acts, and the one role check: a staff user (through the CLI, the console or an API
token) or the system, with the roles of their account. Every permission decision in Gongkai is
`Actor.has` (or `Actor.require`, which raises when it is False): an admin may do everything
except read the audit log, which is the auditor's (三员分立, `[staff] separate_duties`).

An API token made for another system holds a scope instead of roles (`gongkai token add …
--scope knowledge`): it may do what its scope names (`require(…, scope=…)`) and nothing a role
is needed for."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.errors import NotPermitted
from bot.models import ROLE_LABELS, SCOPE_LABELS, Role, Scope, User


def effective_roles(roles: Iterable[str], *, separate_duties: bool) -> frozenset[str]:
    """An account's roles as the role check sees them: with the duties merged (a small office,
    `[staff] separate_duties = false`) an admin also holds the auditor's role."""
    held = frozenset(roles)
    if not separate_duties and Role.ADMIN.value in held:
        held |= {Role.AUDITOR.value}
    return held


@dataclass(frozen=True)
class Actor:
    name: str  # e.g. "user:alice", "token:ci-import", "system:dispatcher"
    user_id: int | None = None
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()  # Scope values (an API token for another system)

    @classmethod
    def of_user(
        cls,
        user: User,
        roles: frozenset[str] | None = None,
        *,
        separate_duties: bool = True,
        scopes: frozenset[str] = frozenset(),
    ) -> Actor:
        """A staff user acting with their account's roles (or fewer: an API token's, or only
        a token's scopes). The duties stay separate unless the caller passes the
        configuration's choice."""
        held = frozenset(user.roles) if roles is None else roles
        return cls(
            f"user:{user.username}",
            user.id,
            effective_roles(held, separate_duties=separate_duties),
            scopes,
        )

    def has(self, *roles: Role) -> bool:
        """Whether the actor holds one of `roles`. An admin holds them all but the auditor's:
        reading the audit log takes the auditor role itself (三员分立)."""
        admin = Role.ADMIN.value in self.roles
        return any(r.value in self.roles or (admin and r is not Role.AUDITOR) for r in roles)

    def require(self, *roles: Role, doing: str = "此操作", scope: Scope | None = None) -> None:
        """Raise NotPermitted, naming the roles (and the token scope) that would do, unless
        has(*roles), or the actor holds `scope`."""
        if scope is not None and scope.value in self.scopes:
            return
        if not self.has(*roles):
            # The label for people, the name for `gongkai user add --role`.
            names = "、".join(f"{ROLE_LABELS[r]}（{r.value}）" for r in roles)
            if any(r is not Role.AUDITOR for r in roles):
                names += "，或管理员（admin）"
            if scope is not None:
                names += f"；或用途范围为「{SCOPE_LABELS[scope]}」（{scope.value}）的 API 令牌"
            raise NotPermitted(f"没有权限：{doing}需要以下角色之一：{names}。")
