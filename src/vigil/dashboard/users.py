"""Who may use the dashboard: users from one YAML file, passwords stored as scrypt hashes.

The file holds ``{"users": [{"name", "role", "password"}]}`` where ``password`` is the string
:func:`hash_password` returns (``scrypt$n$r$p$salt$hash``, base64 parts), never the password:
a leaked file costs an attacker a memory-hard search per guess. Roles are ``analyst`` (decisions,
cases, health) and ``admin`` (all that, plus publishing rules and feeding a replay).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

#: scrypt cost: 2^14 x 8 x 1 takes ~40 ms and 16 MiB per check, OWASP's minimum for scrypt
_N, _R, _P = 1 << 14, 8, 1


class Role(StrEnum):
    ANALYST = "analyst"
    ADMIN = "admin"


class UserFileError(ValueError):
    """A users file that cannot be used; names the file and the entry."""


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: Role
    password: str  #: the scrypt string, never the password itself

    @property
    def admin(self) -> bool:
        return self.role is Role.ADMIN


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_password(password: str, salt: bytes | None = None) -> str:
    """The string a users file stores for ``password``: scrypt with a fresh 16-byte salt."""
    if not password:
        raise ValueError("password: must not be empty")
    salt = salt or os.urandom(16)
    key = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(key)}"


def check_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (compared in constant time)."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key)
        got = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=128 * int(r) * int(n) * 2,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


#: compared against when the user is unknown, so a wrong name costs as long as a wrong password
_DECOY = hash_password("decoy", salt=b"vigil-decoy-salt")


class UserBook:
    """The dashboard's users, by name."""

    def __init__(self, users: list[User]):
        self._users = {u.name: u for u in users}
        if len(self._users) != len(users):
            raise UserFileError(f"user names must be unique, got {sorted(u.name for u in users)}")

    @classmethod
    def load(cls, path: Path) -> UserBook:
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            raise UserFileError(f"{path}: cannot read users file: {error}") from None
        entries = data.get("users") if isinstance(data, dict) else None
        if not isinstance(entries, list) or not entries:
            raise UserFileError(f"{path}: expected a non-empty 'users' list")
        return cls([_parse(path, i, e) for i, e in enumerate(entries)])

    def get(self, name: str) -> User | None:
        return self._users.get(name)

    def authenticate(self, name: str, password: str) -> User | None:
        user = self._users.get(name)
        ok = check_password(password, user.password if user else _DECOY)
        return user if user is not None and ok else None


def _parse(path: Path, index: int, entry: Any) -> User:
    where = f"{path}: users[{index}]"
    if not isinstance(entry, dict):
        raise UserFileError(f"{where}: expected an object with name, role and password")
    name, role, password = entry.get("name"), entry.get("role"), entry.get("password")
    if not isinstance(name, str) or not name:
        raise UserFileError(f"{where}: 'name' must be a non-empty string")
    if role not in {r.value for r in Role}:
        raise UserFileError(f"{where} ({name}): 'role' must be one of {[r.value for r in Role]}")
    if not isinstance(password, str) or not password.startswith("scrypt$"):
        raise UserFileError(
            f"{where} ({name}): 'password' must be a hash from "
            "`vigil dashboard hash-password` (store the hash, never the password)"
        )
    return User(name, Role(role), password)
