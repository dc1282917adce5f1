"""API keys with scopes: who may decide, who may send feedback, who may change the rules.

The server keeps only the SHA-256 digest of each secret, so a leaked keys file or memory dump
does not leak working keys. A secret is long and random, so a plain (unsalted) digest is
enough: there is no dictionary to attack. Every presented secret is compared against every
known digest with :func:`hmac.compare_digest`, so the time taken says nothing about which key,
or how much of one, matched.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from fastapi import HTTPException
from starlette.datastructures import Headers


class Scope(StrEnum):
    """What a key may do. Scopes do not imply one another: an ``admin`` key that should also
    decide payments lists ``decide`` too, so a rules editor's key cannot move money decisions."""

    DECIDE = "decide"
    FEEDBACK = "feedback"
    ADMIN = "admin"
    #: SME credit scores: a lender's decision on a firm, and a window on any known firm's
    #: default risk by its id, which a payment gateway's ``decide`` key has no business reading
    CREDIT = "credit"


class KeyFileError(ValueError):
    """A keys file that cannot be used; names the file and the entry."""


_DIGEST = re.compile(r"^[0-9a-fA-F]{64}$")


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str  #: names the caller in audit records (e.g. who published a rule pack)
    sha256: bytes
    scopes: frozenset[Scope]


class KeyRing:
    """The keys this server accepts."""

    def __init__(self, keys: Iterable[ApiKey]):
        self._keys = tuple(keys)
        ids = [k.id for k in self._keys]
        if len(set(ids)) != len(ids):
            raise KeyFileError(f"key ids must be unique, got {sorted(ids)}")

    @classmethod
    def load(cls, path: Path) -> KeyRing:
        """Read a YAML or JSON keys file: ``{"keys": [{"id", "sha256", "scopes"}, ...]}``."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            raise KeyFileError(f"{path}: cannot read keys file: {error}") from None
        entries = data.get("keys") if isinstance(data, dict) else None
        if not isinstance(entries, list) or not entries:
            raise KeyFileError(f"{path}: expected a non-empty 'keys' list")
        return cls(_parse_entry(path, i, entry) for i, entry in enumerate(entries))

    @classmethod
    def generate(cls, key_id: str = "admin") -> tuple[KeyRing, str]:
        """One key with every scope, for a server started without a keys file.

        Returns the secret so the caller can show it once; the ring keeps only its digest.
        """
        secret = secrets.token_urlsafe(32)
        return cls([ApiKey(key_id, digest(secret), frozenset(Scope))]), secret

    def identify(self, secret: str) -> ApiKey | None:
        presented = digest(secret)
        found = None
        for key in self._keys:  # no early exit: the loop's time must not depend on the match
            if hmac.compare_digest(presented, key.sha256):
                found = key
        return found


def _parse_entry(path: Path, index: int, entry: Any) -> ApiKey:
    where = f"{path}: keys[{index}]"
    if not isinstance(entry, dict):
        raise KeyFileError(f"{where}: expected an object with id, sha256 and scopes")
    key_id, hexdigest, scopes = entry.get("id"), entry.get("sha256"), entry.get("scopes")
    if not isinstance(key_id, str) or not key_id:
        raise KeyFileError(f"{where}: 'id' must be a non-empty string")
    if not isinstance(hexdigest, str) or not _DIGEST.match(hexdigest):
        raise KeyFileError(
            f"{where} ({key_id}): 'sha256' must be the 64-hex-digit SHA-256 of the secret "
            "(store the digest, never the secret)"
        )
    known = {s.value for s in Scope}
    if not isinstance(scopes, list) or not scopes or not set(scopes) <= known:
        raise KeyFileError(
            f"{where} ({key_id}): 'scopes' must be a list drawn from {sorted(known)}"
        )
    return ApiKey(key_id, bytes.fromhex(hexdigest), frozenset(Scope(s) for s in scopes))


#: The OpenAPI security schemes, and the requirement routes declare: either header will do.
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "`Authorization: Bearer <key>`"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
}
SECURITY = [{"bearer": []}, {"apiKey": []}]


def security(scope: Scope) -> list[dict[str, list[str]]]:
    """The OpenAPI requirement of a route that needs ``scope``: either header, naming the scope
    (OpenAPI 3.1 lets any scheme list the roles it requires), so clients read each route's
    scope from the document, and the scope test checks every route enforces what it says."""
    return [{"bearer": [scope.value]}, {"apiKey": [scope.value]}]


def authorise(ring: KeyRing, headers: Headers, scope: Scope) -> ApiKey:
    """The key presented in ``headers`` if it holds ``scope``: 401 without a known key, 403
    with a known key that lacks the scope.

    Handlers call this first thing, rather than declaring a FastAPI security dependency: the
    dependency machinery costs ~60 µs a request, more than validating the payment itself.
    """
    secret = headers.get("x-api-key")
    authorization = headers.get("authorization")
    if authorization is not None:
        # Credentials the server cannot read are refused, never skipped for the other header:
        # a request that carries two different claims of identity is not guessed at.
        scheme, _, credentials = authorization.partition(" ")
        bearer = credentials.strip()
        if scheme.lower() != "bearer" or not bearer:
            raise _unauthorised("the Authorization header must be 'Bearer <key>'")
        if secret is not None and secret != bearer:
            raise _unauthorised("two different keys presented (Authorization and X-API-Key)")
        secret = bearer
    if not secret:
        raise _unauthorised(
            "missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
        )
    key = ring.identify(secret)
    if key is None:
        raise _unauthorised("unknown API key")
    if scope not in key.scopes:
        raise HTTPException(403, f"API key '{key.id}' lacks the '{scope}' scope")
    return key


def _unauthorised(problem: str) -> HTTPException:
    return HTTPException(401, problem, headers={"WWW-Authenticate": "Bearer"})
