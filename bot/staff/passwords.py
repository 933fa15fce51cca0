"""Staff passwords: the policy every new password must meet (等保 2.0: length, character
classes, not the user's own names; `[staff.password]`), argon2 hashing and checking, and the
generated passwords the CLI and the sandbox hand out."""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from bot.config import PasswordConfig
from bot.errors import Refusal

# argon2 hashes any length; the cap keeps a huge paste from costing CPU (the login form's too).
MAX_LENGTH = 1024
# A name shorter than this (e.g. "ed") would refuse too many good passwords to be worth it.
NAME_MIN = 3
# Generated passwords: at least this long, from letters, digits and two symbols that survive
# copying from a terminal and typing on any keyboard.
GENERATED_MIN = 16
_SYMBOLS = "-_"
_ALPHABET = string.ascii_letters + string.digits + _SYMBOLS
CLASS_NAMES = ("大写字母", "小写字母", "数字", "符号")

_hasher = PasswordHasher()


class UserError(Refusal):
    """A user or token operation that cannot be done; the message names the problem. Defined
    here, below bot/users.py (which re-exports it), so a password refusal is one too."""

    status_code = 422
    code = "invalid_user"


class PasswordRefused(UserError):
    """A new password the policy refuses (or the same as the old one); the message names every
    rule it breaks."""

    code = "password_refused"


def classes_of(password: str) -> frozenset[str]:
    """The character classes present, by their Chinese names (CLASS_NAMES). A symbol is anything
    but an ASCII letter or digit: punctuation, a space, a Chinese character."""
    found = set()
    for ch in password:
        if ch in string.ascii_uppercase:
            found.add(CLASS_NAMES[0])
        elif ch in string.ascii_lowercase:
            found.add(CLASS_NAMES[1])
        elif ch in string.digits:
            found.add(CLASS_NAMES[2])
        else:
            found.add(CLASS_NAMES[3])
    return frozenset(found)


def broken_rules(policy: PasswordConfig, password: str, names: Iterable[str] = ()) -> list[str]:
    """What `password` breaks, one Chinese phrase per rule (empty when it may be used)."""
    if not password:
        return ["不能为空"]
    if len(password) > MAX_LENGTH:
        return [f"最多 {MAX_LENGTH} 个字符（现为 {len(password)} 个）"]
    broken = []
    if len(password) < policy.min_length:
        broken.append(f"至少 {policy.min_length} 个字符（现为 {len(password)} 个）")
    classes = classes_of(password)
    if len(classes) < policy.min_classes:
        broken.append(
            f"须包含{'、'.join(CLASS_NAMES)}中的至少 {policy.min_classes} 类"
            f"（现为 {len(classes)} 类）"
        )
    if policy.reject_names:
        folded = password.casefold()
        if any(
            len(name.strip()) >= NAME_MIN and name.strip().casefold() in folded for name in names
        ):
            broken.append("不得包含用户名或姓名")
    return broken


def check(policy: PasswordConfig, password: str, names: Iterable[str] = ()) -> None:
    """Raise PasswordRefused naming each rule `password` breaks; `names` are the user's own
    (username, display name)."""
    broken = broken_rules(policy, password, names)
    if broken:
        raise PasswordRefused("密码不符合要求：" + "；".join(broken))


def hash_password(password: str) -> str:
    """The argon2 hash to store (slow by design: call it off the event loop)."""
    return _hasher.hash(password)


def verify(password_hash: str, password: str) -> bool:
    """True when the password matches the stored argon2 hash; never raises on a bad hash."""
    if not password_hash or not password:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def generate(policy: PasswordConfig, names: Iterable[str] = ()) -> str:
    """A random password the policy accepts (every class present, at least GENERATED_MIN long)."""
    rng = secrets.SystemRandom()
    length = max(policy.min_length, GENERATED_MIN)
    known = list(names)
    while True:
        chars = [
            rng.choice(string.ascii_uppercase),
            rng.choice(string.ascii_lowercase),
            rng.choice(string.digits),
            rng.choice(_SYMBOLS),
            *(rng.choice(_ALPHABET) for _ in range(length - 4)),
        ]
        rng.shuffle(chars)
        password = "".join(chars)
        if not broken_rules(policy, password, known):  # a name spelled out by chance: again
            return password
