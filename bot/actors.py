"""Who acts, and the one role check: a staff user (through the CLI, the console or an API
token) or the system, with the roles of their account. Every permission decision in Gongkai is
`Actor.has` (or `Actor.require`, which raises when it is False): an admin may do everything."""

from __future__ import annotations

from dataclasses import dataclass

from bot.errors import NotPermitted
from bot.models import ROLE_LABELS, Role, User


@dataclass(frozen=True)
class Actor:
    name: str  # e.g. "user:alice", "token:ci-import", "system:dispatcher"
    user_id: int | None = None
    roles: frozenset[str] = frozenset()

    @classmethod
    def of_user(cls, user: User, roles: frozenset[str] | None = None) -> Actor:
        """A staff user acting with their account's roles (or fewer: an API token's)."""
        return cls(
            f"user:{user.username}", user.id, frozenset(user.roles) if roles is None else roles
        )

    def has(self, *roles: Role) -> bool:
        """Whether the actor holds one of `roles` (an admin holds them all)."""
        return Role.ADMIN.value in self.roles or any(r.value in self.roles for r in roles)

    def require(self, *roles: Role, doing: str = "此操作") -> None:
        """Raise NotPermitted, naming the roles that would do, unless has(*roles)."""
        if not self.has(*roles):
            # The label for people, the name for `gongkai user add --role`.
            names = "、".join(f"{ROLE_LABELS[r]}（{r.value}）" for r in roles)
            raise NotPermitted(f"没有权限：{doing}需要以下角色之一：{names}，或管理员（admin）。")
