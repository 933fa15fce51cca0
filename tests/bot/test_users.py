"""Staff accounts and tokens on a real database: what an admin does to them (roles, enable,
lists, token revocation), each with its audit event, and 三员分立 in the one role check: an
admin holds every role but the auditor's unless the configuration merges the duties."""

from __future__ import annotations

import pytest

from bot import users
from bot.actors import Actor, effective_roles
from bot.config import Config
from bot.errors import NotPermitted
from bot.models import AuditEvent, Role, User
from tests.conftest import Staff, add_test_user


def test_an_admin_holds_every_role_but_the_auditors() -> None:
    admin = Actor("user:root", 1, frozenset({"admin"}))
    assert all(admin.has(r) for r in Role if r is not Role.AUDITOR)
    assert not admin.has(Role.AUDITOR)
    with pytest.raises(NotPermitted) as err:
        admin.require(Role.AUDITOR, doing="查看审计日志")
    assert str(err.value) == "没有权限：查看审计日志需要以下角色之一：审计员（auditor）。"
    both = Actor("user:root", 1, frozenset({"admin", "auditor"}))
    assert both.has(Role.AUDITOR) and both.has(Role.REVIEWER)


def test_an_auditor_holds_nothing_but_the_auditors_role() -> None:
    auditor = Actor("user:audrey", 2, frozenset({"auditor"}))
    assert auditor.has(Role.AUDITOR)
    assert not any(auditor.has(r) for r in Role if r is not Role.AUDITOR)


def test_merged_duties_give_an_admin_the_auditors_role_and_nobody_else_more() -> None:
    assert effective_roles(["admin"], separate_duties=False) == {"admin", "auditor"}
    assert effective_roles(["admin"], separate_duties=True) == {"admin"}
    assert effective_roles(["editor"], separate_duties=False) == {"editor"}


async def test_actors_of_users_and_tokens_follow_the_duties_setting(
    config: Config, staff: Staff
) -> None:
    assert not (await users.actor_for_user("root")).has(Role.AUDITOR)
    assert (await users.actor_for_user("root", separate_duties=False)).has(Role.AUDITOR)
    _, plain = await users.add_token("root", "ops", None, "system:test")
    separate = await users.actor_for_token(plain)
    merged = await users.actor_for_token(plain, separate_duties=False)
    assert separate is not None and not separate.has(Role.AUDITOR)
    assert merged is not None and merged.has(Role.AUDITOR)
    _, editor_token = await users.add_token("alice", "ci", None, "system:test")
    editor = await users.actor_for_token(editor_token, separate_duties=False)
    assert editor is not None and not editor.has(Role.AUDITOR)


async def test_an_admin_cannot_give_a_token_the_auditors_role(config: Config, staff: Staff) -> None:
    with pytest.raises(users.UserError, match="不能超出"):
        await users.add_token("root", "peek", ["auditor"], "system:test")


async def test_set_roles_replaces_them_with_audit_and_keeps_one_admin(
    config: Config, staff: Staff
) -> None:
    user = await users.set_roles("alice", ["editor", "auditor"], "user:root")
    assert sorted(user.roles) == ["auditor", "editor"]
    assert sorted((await User.get(username="alice")).roles) == ["auditor", "editor"]
    event = await AuditEvent.filter(action="user.set_roles").get()
    assert event.actor == "user:root"
    assert event.details == {
        "username": "alice",
        "before": ["editor"],
        "roles": ["auditor", "editor"],
    }
    with pytest.raises(users.UserError, match="角色无效：boss"):
        await users.set_roles("alice", ["boss"], "user:root")
    with pytest.raises(users.UserError, match="唯一在用的管理员"):
        await users.set_roles("root", ["auditor"], "user:root")
    await users.set_roles("bob", ["reviewer", "admin"], "user:root")
    await users.set_roles("root", ["auditor"], "user:bob")  # bob administers now
    assert (await User.get(username="root")).roles == ["auditor"]


async def test_a_token_loses_a_role_its_user_no_longer_holds(config: Config, staff: Staff) -> None:
    _, plain = await users.add_token("carol", "ci", None, "system:test")
    await users.set_roles("carol", ["editor"], "user:root")
    actor = await users.actor_for_token(plain)
    assert actor is not None and actor.has(Role.EDITOR) and not actor.has(Role.REVIEWER)


async def test_disable_then_enable_an_account_with_audit(config: Config, staff: Staff) -> None:
    with pytest.raises(users.UserError, match="用户未停用：alice"):
        await users.enable_user("alice", "user:root")
    await users.disable_user("alice", "user:root")
    user = await users.enable_user("alice", "user:root")
    assert user.active and (await User.get(username="alice")).active
    assert (await users.actor_for_user("alice")).has(Role.EDITOR)
    actions = [e.action async for e in AuditEvent.filter(target_id=str(user.id)).order_by("id")]
    assert actions[-2:] == ["user.disable", "user.enable"]
    with pytest.raises(users.UserError, match="用户不存在：nobody"):
        await users.enable_user("nobody", "user:root")


async def test_lists_of_users_and_of_a_users_tokens(config: Config, staff: Staff) -> None:
    await add_test_user("zed", ["moderator"], None, "system:test")
    await users.disable_user("zed", "system:test")
    assert [u.username for u in await users.list_users()] == [
        "alice",
        "bob",
        "carol",
        "root",
        "zed",
    ]
    first, _ = await users.add_token("bob", "one", None, "system:test")
    await users.add_token("bob", "two", None, "system:test")
    await users.revoke_token(first.id, "user:root")
    listed = await users.list_tokens("bob")
    assert [t.name for t in listed] == ["one", "two"]
    assert listed[0].revoked_at is not None and listed[1].revoked_at is None
    assert await users.list_tokens("alice") == []
    with pytest.raises(users.UserError, match="用户不存在"):
        await users.list_tokens("nobody")


async def test_a_revoked_token_stops_working_at_once_with_audit(
    config: Config, staff: Staff
) -> None:
    token, plain = await users.add_token("alice", "ci-import", None, "system:test")
    assert await users.actor_for_token(plain) is not None
    revoked = await users.revoke_token(token.id, "user:root")
    assert revoked.revoked_at is not None
    assert await users.actor_for_token(plain) is None
    event = await AuditEvent.filter(action="token.revoke").get()
    assert event.actor == "user:root"
    assert event.details == {"token": token.prefix, "name": "ci-import"}
    with pytest.raises(users.UserError, match="令牌已吊销"):
        await users.revoke_token(token.id, "user:root")
    with pytest.raises(users.UserError, match="令牌不存在：#999"):
        await users.revoke_token(999, "user:root")
