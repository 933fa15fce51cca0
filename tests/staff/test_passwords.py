"""The password policy (each rule refused by its name, from the configuration), generated
passwords, and the policy where passwords are set: a password someone else sets must be changed
at first login, and a user changes their own only with the old one, on a real database."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import users
from bot.config import Config, ConfigError, PasswordConfig, parse_config
from bot.models import AuditEvent, User
from bot.staff import passwords
from bot.staff.passwords import PasswordRefused, UserError
from tests.conftest import POLICY, add_test_user


def refusal(password: str, names: tuple[str, ...] = (), policy: PasswordConfig = POLICY) -> str:
    with pytest.raises(PasswordRefused) as err:
        passwords.check(policy, password, names)
    return str(err.value)


# ---- the policy -----------------------------------------------------------------------------


def test_a_short_password_is_refused_naming_the_length() -> None:
    assert refusal("Ab-12345") == "密码不符合要求：至少 12 个字符（现为 8 个）"


def test_too_few_character_classes_are_refused_naming_the_count() -> None:
    assert refusal("abcdefgh2026") == (
        "密码不符合要求：须包含大写字母、小写字母、数字、符号中的至少 3 类（现为 2 类）"
    )
    passwords.check(POLICY, "abcdefgh-2026")  # lower, digit, symbol: three


def test_the_username_or_display_name_inside_is_refused_in_any_case() -> None:
    assert refusal("Best-ALICE-2026", ("alice", "")) == "密码不符合要求：不得包含用户名或姓名"
    assert refusal("Pw-2026-王小明!", ("wxm", "王小明")) == "密码不符合要求：不得包含用户名或姓名"
    passwords.check(POLICY, "Pw-ed-2026-ok", ("ed", "Ed"))  # names under 3 characters: not checked


def test_empty_and_oversized_passwords_are_refused() -> None:
    assert refusal("") == "密码不符合要求：不能为空"
    assert refusal("Aa1-" * 300) == "密码不符合要求：最多 1024 个字符（现为 1200 个）"


def test_every_broken_rule_is_named_at_once() -> None:
    message = refusal("alice2026", ("alice",))
    assert "至少 12 个字符（现为 9 个）" in message
    assert "至少 3 类（现为 2 类）" in message
    assert "不得包含用户名或姓名" in message


def test_a_symbol_is_anything_but_an_ascii_letter_or_digit() -> None:
    assert passwords.classes_of("Aa1 ") == {"大写字母", "小写字母", "数字", "符号"}
    assert passwords.classes_of("政务公开abc") == {"小写字母", "符号"}


def test_the_policy_comes_from_the_configuration() -> None:
    strict = parse_config(
        {"staff": {"password": {"min_length": 16, "min_classes": 4, "reject_names": False}}}
    ).staff.password
    assert "至少 16 个字符" in refusal("Pw-alpha-2026", policy=strict)
    assert "至少 4 类（现为 3 类）" in refusal("pw-alpha-2026-long", policy=strict)
    passwords.check(strict, "Pw-alice-2026-long", ("alice",))  # names allowed here


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"min_length": 4}, "staff.password.min_length"),
        ({"min_classes": 5}, "staff.password.min_classes"),
        ({"min_classes": 0}, "staff.password.min_classes"),
    ],
)
def test_policy_values_out_of_range_are_named(section: dict[str, int], key: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"staff": {"password": section}})
    assert key in str(err.value)


def test_the_defaults_separate_the_duties_with_a_12_character_3_class_policy() -> None:
    staff = parse_config({}).staff
    assert staff.separate_duties is True
    assert (staff.password.min_length, staff.password.min_classes) == (12, 3)
    assert staff.password.reject_names is True


@settings(max_examples=50, deadline=None)
@given(
    min_length=st.integers(8, 128),
    min_classes=st.integers(1, 4),
    name=st.text(alphabet="abcdefghijklmnopqrstuvwxyz-_0123456789", min_size=3, max_size=8),
)
def test_a_generated_password_always_meets_the_policy(
    min_length: int, min_classes: int, name: str
) -> None:
    policy = PasswordConfig(min_length=min_length, min_classes=min_classes)
    password = passwords.generate(policy, (name, ""))
    passwords.check(policy, password, (name, ""))
    assert len(password) == max(min_length, passwords.GENERATED_MIN)


def test_verify_accepts_only_the_password_of_the_hash_and_never_raises() -> None:
    stored = passwords.hash_password("Pw-alpha-2026")
    assert passwords.verify(stored, "Pw-alpha-2026")
    assert not passwords.verify(stored, "Pw-alpha-2027")
    assert not passwords.verify("not-a-hash", "Pw-alpha-2026")
    assert not passwords.verify("", "")


# ---- where passwords are set ------------------------------------------------------------------


async def test_a_password_set_for_someone_else_must_be_changed_at_first_login(
    config: Config,
) -> None:
    made = await users.add_user(
        "dave", ["editor"], "Pw-delta-2026", "cli:ops", policy=POLICY, must_change=True
    )
    assert made.must_change_password and made.password_changed_at is not None
    fixture = await add_test_user("erin", ["editor"], "Pw-echo-2026", "system:test")
    assert not fixture.must_change_password
    await users.change_own_password("dave", "Pw-delta-2026", "Pw-delta-2027", POLICY)
    assert not (await User.get(username="dave")).must_change_password
    await users.reset_password("dave", "Pw-reset-2026", "cli:ops", policy=POLICY, must_change=True)
    fresh = await User.get(username="dave")
    assert fresh.must_change_password and passwords.verify(fresh.password_hash, "Pw-reset-2026")
    event = await AuditEvent.filter(action="user.reset_password").get()
    assert event.actor == "cli:ops" and event.details["must_change"] is True


async def test_an_account_without_a_password_is_not_marked_to_change_one(config: Config) -> None:
    user = await users.add_user("tok", ["editor"], None, "cli:ops", policy=POLICY, must_change=True)
    assert user.password_hash == "" and not user.must_change_password
    assert user.password_changed_at is None


async def test_add_and_reset_refuse_a_weak_password_and_write_nothing(config: Config) -> None:
    with pytest.raises(PasswordRefused, match="不得包含用户名或姓名"):
        await users.add_user(
            "wang",
            ["editor"],
            "Pw-王小明-2026",
            "cli:ops",
            display_name="王小明",
            policy=POLICY,
            must_change=True,
        )
    assert not await User.filter(username="wang").exists()
    assert not await AuditEvent.filter(action="user.add").exists()
    await users.add_user(
        "wang",
        ["editor"],
        "Pw-delta-2026",
        "cli:ops",
        display_name="王小明",
        policy=POLICY,
        must_change=True,
    )
    with pytest.raises(PasswordRefused, match="不得包含用户名或姓名"):
        await users.reset_password(
            "wang", "Pw-王小明-2027", "cli:ops", policy=POLICY, must_change=True
        )
    with pytest.raises(PasswordRefused, match="不能为空"):
        await users.reset_password("wang", "", "cli:ops", policy=POLICY, must_change=True)
    assert passwords.verify((await User.get(username="wang")).password_hash, "Pw-delta-2026")
    assert not await AuditEvent.filter(action="user.reset_password").exists()


async def test_changing_ones_own_password_needs_the_old_one_and_a_new_one_that_passes(
    config: Config,
) -> None:
    await users.add_user(
        "dave", ["editor"], "Pw-delta-2026", "cli:ops", policy=POLICY, must_change=True
    )
    before = (await User.get(username="dave")).password_changed_at
    with pytest.raises(UserError, match="原密码不正确"):
        await users.change_own_password("dave", "Pw-wrong-2026", "Pw-delta-2027", POLICY)
    with pytest.raises(PasswordRefused, match="新密码不得与原密码相同"):
        await users.change_own_password("dave", "Pw-delta-2026", "Pw-delta-2026", POLICY)
    with pytest.raises(PasswordRefused, match="至少 12 个字符"):
        await users.change_own_password("dave", "Pw-delta-2026", "Pw-d-26", POLICY)
    with pytest.raises(PasswordRefused, match="不得包含用户名或姓名"):
        await users.change_own_password("dave", "Pw-delta-2026", "Pw-DAVE-2026x", POLICY)
    assert not await AuditEvent.filter(action="user.change_password").exists()

    user = await users.change_own_password("dave", "Pw-delta-2026", "Pw-delta-2027", POLICY)
    stored = await User.get(username="dave")
    assert not stored.must_change_password and not user.must_change_password
    assert before is not None and stored.password_changed_at is not None
    assert stored.password_changed_at > before
    assert passwords.verify(stored.password_hash, "Pw-delta-2027")
    assert not passwords.verify(stored.password_hash, "Pw-delta-2026")
    event = await AuditEvent.filter(action="user.change_password").get()
    assert event.actor == "user:dave" and event.target_id == str(stored.id)


async def test_a_disabled_account_cannot_change_its_password(config: Config) -> None:
    await add_test_user("dave", ["editor"], "Pw-delta-2026", "cli:ops")
    await users.disable_user("dave", "cli:ops")
    with pytest.raises(UserError, match="用户已停用"):
        await users.change_own_password("dave", "Pw-delta-2026", "Pw-delta-2027", POLICY)
