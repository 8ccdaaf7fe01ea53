"""Password hashing (argon2id) and the password policy (密码策略, 等保三级 complexity)."""

from __future__ import annotations

import secrets
import string
from functools import cache
from importlib import resources
from typing import NamedTuple

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from hrss.settings import Settings

MAX_LENGTH = 256  # argon2 takes any length; a bound keeps request bodies sane
SYMBOLS = "!#$%&*+-=?@^_~"  # for generated passwords: no quotes, slashes or brackets
# Generated passwords leave out look-alikes (0/O, 1/l/I) so they can be read aloud.
_GEN_CLASSES = ("ABCDEFGHJKLMNPQRSTUVWXYZ", "abcdefghijkmnopqrstuvwxyz", "23456789", SYMBOLS)


# argon2id with OWASP's first recommended profile (Password Storage Cheat Sheet: m = 19 MiB,
# t = 2, p = 1). argon2-cffi's default (64 MiB, t = 3, p = 4) took 250–500 ms per check on a
# shared 2-core server, so a sign-in could not answer within 300 ms; this profile takes about
# 60 ms and stays within OWASP ASVS L2 (V2.4.1). Hashes made with other parameters are
# re-made at the next successful sign-in (needs_rehash).
HASH_PROFILE = {"time_cost": 2, "memory_cost": 19 * 1024, "parallelism": 1}


@cache
def _hasher() -> PasswordHasher:
    """The argon2id hasher of HASH_PROFILE; built on first use."""
    return PasswordHasher(**HASH_PROFILE)


class Verified(NamedTuple):
    ok: bool
    needs_rehash: bool  # the hash was made with weaker parameters: store a new one


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> Verified:
    """Check password against a stored hash; never raises for a wrong or malformed hash."""
    hasher = _hasher()
    try:
        hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return Verified(False, False)
    return Verified(True, hasher.check_needs_rehash(password_hash))


@cache
def dummy_hash() -> str:
    """A hash to verify against when the user is unknown, so that both take equal time."""
    return hash_password(secrets.token_urlsafe(16))


def _classes(password: str) -> int:
    upper = any(c in string.ascii_uppercase for c in password)
    lower = any(c in string.ascii_lowercase for c in password)
    digit = any(c in string.digits for c in password)
    symbol = any(not (c.isascii() and c.isalnum()) for c in password)
    return upper + lower + digit + symbol


def check_policy(password: str, username: str, settings: Settings, org_unit: str | None = None) -> list[str]:
    """Every rule password breaks, as Chinese (English) messages; empty when acceptable."""
    problems = []
    minimum = settings.password_min_length
    if len(password) < minimum:
        problems.append(f"密码长度至少 {minimum} 个字符 (password must be at least {minimum} characters)")
    if len(password) > MAX_LENGTH:
        problems.append(f"密码长度不能超过 {MAX_LENGTH} 个字符 (password must be at most {MAX_LENGTH} characters)")
    if _classes(password) < 3:
        problems.append("密码须包含大写字母、小写字母、数字、特殊字符中的至少三类 "
                        "(password must mix at least 3 of: upper case, lower case, digits, symbols)")
    if any(not c.isprintable() for c in password):
        problems.append("密码不能包含控制字符 (password must not contain control characters)")
    name = username.strip().casefold()
    if name and name in password.casefold():
        problems.append("密码不能包含用户名 (password must not contain the user name)")
    if org_unit and org_unit in password:
        problems.append("密码不能包含所属单位名称 (password must not contain the org unit's name)")
    if guessable(password):
        problems.append("密码过于常见、易被猜中（如常见单词、地名、键盘序列加数字或符号），请换一个 "
                        "(password is too common or guessable: a common word, place or keyboard run with digits or symbols)")
    return problems


LOOK_ALIKES = str.maketrans({"0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"})
MIN_OWN_LETTERS = 4  # letters a password must keep once common words, digits and symbols are taken out


@cache
def _guessable_words() -> tuple[str, ...]:
    """The shipped list, longest first (so that "password" goes before "pass")."""
    text = (resources.files("hrss") / "data" / "guessable_passwords.txt").read_text(encoding="utf-8")
    words = {line.strip().casefold() for line in text.splitlines() if line.strip() and not line.startswith("#")}
    return tuple(sorted(words, key=len, reverse=True))


def guessable(password: str) -> bool:
    """Whether password is a common word, place or keyboard run dressed up with digits,
    symbols and look-alikes: 'Password1234', 'P@ssw0rd2024' and 'Xuzhou@123456' are."""
    read = password.casefold()
    for letters in (read.translate(LOOK_ALIKES), read):  # "1" may be a digit or an l
        for word in _guessable_words():
            letters = letters.replace(word, " ")
        if sum(c.isalpha() for c in letters) < MIN_OWN_LETTERS:
            return True
    return False


def generate_password(length: int = 16) -> str:
    """A random one-time password with a character of every class (meets the policy)."""
    if length < len(_GEN_CLASSES):
        raise ValueError("length too small")
    rng = secrets.SystemRandom()
    alphabet = "".join(_GEN_CLASSES)
    while True:
        chars = [rng.choice(cls) for cls in _GEN_CLASSES]
        chars += [rng.choice(alphabet) for _ in range(length - len(chars))]
        rng.shuffle(chars)
        if not guessable(found := "".join(chars)):
            return found
